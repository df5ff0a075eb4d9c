"""The metadata keys of Gatehouse's gRPC calls (docs/grpc.md), shared by servers and clients."""

# `Bearer <GATEHOUSE_GRPC_TOKEN>`, the service credential.
AUTHORIZATION = "authorization"
# The request id, sent by the client and echoed in the server's initial metadata.
REQUEST_ID = "x-request-id"
# JSON of the domain error a failed call raised (trailing metadata).
ERROR = "gatehouse-error-bin"
