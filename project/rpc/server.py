"""Which core services a process can serve over gRPC, and the server that serves them.

Each core service that has a servicer exposes `register(server) -> str` in its rpc package: it
adds its servicer to the server and returns the full name of the gRPC service it added
(`gatehouse.users.v1.UserService`). SERVICERS names those functions as strings so that this module
imports no app until a server is built.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .interceptors import chain

log = logging.getLogger("gatehouse.rpc")

# Core service name (as in <SERVICE>_GRPC_TARGET) -> "module:function" of its register().
SERVICERS: dict[str, str] = {
    "users": "users.rpc.servicer:register",
    "auth": "auth.rpc.servicer:register",
    "notifications": "notifications.rpc.servicer:register",
    "permissions": "permissions.rpc.servicer:register",
}

DEFAULT_PORT = 50051
DEFAULT_HOST = "127.0.0.1"


class UnknownService(LookupError):
    pass


def _register_function(service: str) -> Callable[[grpc.Server], str]:
    try:
        path = SERVICERS[service]
    except KeyError:
        raise UnknownService(
            f"no gRPC servicer for {service!r}; services with one: {', '.join(sorted(SERVICERS))}"
        ) from None
    module, _, function = path.partition(":")
    register: Callable[[grpc.Server], str] = getattr(importlib.import_module(module), function)
    return register


@dataclass
class GrpcServer:
    server: grpc.Server
    health: health.HealthServicer
    address: str
    port: int
    # Core service name -> full gRPC service name.
    services: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.server.start()
        for full_name in self.services.values():
            self.health.set(full_name, health_pb2.HealthCheckResponse.SERVING)
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float) -> None:
        """Report NOT_SERVING (so balancers stop sending), let calls in flight finish for up to
        `grace` seconds, then cancel what is left."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def build_server(
    services: list[str],
    *,
    token: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_workers: int = 10,
) -> GrpcServer:
    """A server for `services` (core service names) with health, reflection and the interceptor
    chain, bound but not started. Raises UnknownService."""
    registers = {service: _register_function(service) for service in dict.fromkeys(services)}
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=chain(token=token),
        # gRPC sets SO_REUSEPORT by default: a second server on a taken port would start and
        # silently share the traffic instead of failing.
        options=(("grpc.so_reuseport", 0),),
    )
    full_names = {service: register(server) for service, register in registers.items()}

    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for full_name in full_names.values():
        health_servicer.set(full_name, health_pb2.HealthCheckResponse.NOT_SERVING)
    health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)

    reflection.enable_server_reflection(
        [*full_names.values(), health.SERVICE_NAME, reflection.SERVICE_NAME],
        server,
    )

    address = f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if not bound:  # older grpcio returns 0 instead of raising
        raise RuntimeError(f"cannot bind gRPC server to {address}")
    return GrpcServer(server=server, health=health_servicer, address=f"{host}:{bound}", port=bound, services=full_names)
