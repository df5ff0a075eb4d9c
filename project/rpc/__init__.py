"""gRPC plumbing shared by every core service (docs/grpc.md).

- `errors`: the one table from a domain error's kind to a gRPC status, both directions;
- `interceptors`: the server's chain (request id, telemetry, errors, credential, deadline, database);
- `server`: which services a process can serve, and the server that serves them with health and
  reflection (`manage.py grpcserve`);
- `client`: the channel, metadata and timeout every remote implementation of an interface uses;
- `deadlines`: the time left for the unit of work in progress, propagated to downstream calls;
- `codec`: a service's client and servicer, made from its Protocol and its `.proto`.

Per service, only the `.proto` and a few lines of registration are written (see users/rpc/).
"""
