"""Protocol Buffers of the internal gRPC services and the code generated from them (`scripts/protoc`).

Packages mirror the `.proto` paths so that generated modules import each other as
`protos.gatehouse.<service>.v1.<name>_pb2`. Only `rpc` packages import from here.
"""
