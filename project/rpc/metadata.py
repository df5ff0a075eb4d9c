"""The metadata keys of Gatehouse's gRPC calls (docs/grpc.md), shared by servers and clients."""

# `Bearer <GATEHOUSE_GRPC_TOKEN>`, the service credential.
AUTHORIZATION = "authorization"
# The calling service's name (GATEHOUSE_SERVICE_IDENTITY): required on every call but health; a
# write that names no user actor is audited as done by it, never by an anonymous "system".
CALLER = "x-gatehouse-caller"
# The request id, sent by the client and echoed in the server's initial metadata.
REQUEST_ID = "x-request-id"
# JSON of the domain error a failed call raised (trailing metadata).
ERROR = "gatehouse-error-bin"
