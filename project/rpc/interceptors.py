"""The server's interceptor chain: what Django's request cycle and middleware would otherwise do.

Each interceptor is one context manager around a call (`around`), whatever the RPC's streaming
shape; `chain()` lists them outermost first. Order matters:

1. request id — everything below, logs included, carries it;
2. telemetry — counts and logs every call, refused ones too, with its final status;
3. errors — turns any exception from below (the credential check's too) into a status;
4. service credential — nothing below runs for a caller without it;
5. deadline — a call whose caller already gave up does no work;
6. database — fresh connections for the servicer, as for a Django request.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import grpc
from django.db import close_old_connections
from prometheus_client import Counter, Histogram

from project.kernel.context import caller_scope, request_id_scope
from project.kernel.errors import DeadlineExceeded, DomainError, InvalidArgument, Unauthenticated

from . import errors, metadata
from .deadlines import deadline_scope

log = logging.getLogger("gatehouse.rpc")

HEALTH_SERVICE = "grpc.health.v1.Health"
_NO_DEADLINE = 10 * 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Call:
    """One incoming call, as interceptors see it."""

    method: str  # "/gatehouse.users.v1.UserService/GetUser"
    context: grpc.ServicerContext

    @property
    def service(self) -> str:
        return self.method.lstrip("/").rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.method.rpartition("/")[2]

    def metadata(self, key: str) -> str | None:
        return next((value for k, value in self.context.invocation_metadata() if k == key), None)

    def time_remaining(self) -> float | None:
        """Seconds until the caller's deadline, or None if it set none."""
        remaining: float | None = self.context.time_remaining()
        # Without a deadline gRPC reports the distance to its "infinite future", centuries away.
        if remaining is None or math.isinf(remaining) or remaining > _NO_DEADLINE:
            return None
        return remaining


_HANDLER_KINDS: dict[tuple[bool, bool], tuple[str, Callable[..., grpc.RpcMethodHandler]]] = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


class CallInterceptor(grpc.ServerInterceptor):
    """Runs `around(call)` around the servicer's behaviour for every kind of RPC."""

    def around(self, call: Call) -> AbstractContextManager[None]:
        raise NotImplementedError

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        attr, make_handler = _HANDLER_KINDS[(handler.request_streaming, handler.response_streaming)]
        behavior = getattr(handler, attr)

        if handler.response_streaming:
            # A generator, so the context manager stays open while the stream is consumed.
            def wrapped(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
                with self.around(Call(method, context)):
                    yield from behavior(request_or_iterator, context)

        else:

            def wrapped(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
                with self.around(Call(method, context)):
                    return behavior(request_or_iterator, context)

        return make_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class RequestIdInterceptor(CallInterceptor):
    """Binds the caller's `x-request-id` (or a new one) and sends it back in initial metadata."""

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        with request_id_scope(call.metadata(metadata.REQUEST_ID)) as request_id:
            call.context.send_initial_metadata(((metadata.REQUEST_ID, request_id),))
            yield


GRPC_HANDLED = Counter(
    "gatehouse_grpc_server_handled_total",
    "gRPC calls completed by the server.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_LATENCY = Histogram(
    "gatehouse_grpc_server_handling_seconds",
    "Time the server took to complete a gRPC call.",
    ["grpc_service", "grpc_method"],
)


class TelemetryInterceptor(CallInterceptor):
    """A Prometheus counter and histogram per method, and one log line per call."""

    # Probes call every few seconds: their lines would drown the ones that matter.
    QUIET_SERVICES = frozenset({HEALTH_SERVICE})

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        started = time.perf_counter()
        timeout = call.time_remaining()
        # The status when the call ends without one set: gRPC's own for each way of ending.
        unset = grpc.StatusCode.UNKNOWN
        try:
            yield
            unset = grpc.StatusCode.OK
        except GeneratorExit:  # the client went away in the middle of a stream
            unset = grpc.StatusCode.CANCELLED
            raise
        finally:
            elapsed = time.perf_counter() - started
            status = call.context.code() or unset
            GRPC_HANDLED.labels(call.service, call.name, status.name).inc()
            GRPC_LATENCY.labels(call.service, call.name).observe(elapsed)
            log.log(
                logging.DEBUG if call.service in self.QUIET_SERVICES else logging.INFO,
                "gRPC %s %s",
                call.method,
                status.name,
                extra={
                    "grpc_method": call.method,
                    "grpc_code": status.name,
                    "duration_ms": round(elapsed * 1000, 2),
                    # What the caller allowed: shows deadlines propagating (or not) along a chain.
                    "timeout_ms": None if timeout is None else round(timeout * 1000),
                },
            )


class ErrorInterceptor(CallInterceptor):
    """Domain errors become their status (errors.STATUS_BY_KIND); anything else is logged and
    becomes INTERNAL without its text, which may hold internals."""

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        try:
            yield
        except DomainError as error:
            errors.abort(call.context, error)
        except Exception:
            code = call.context.code()
            if code is not None and code != grpc.StatusCode.OK:
                raise  # the servicer already ended the call with a status of its own
            log.exception("unhandled error in gRPC %s", call.method)
            errors.abort(call.context, DomainError())


class ServiceCredentialInterceptor(CallInterceptor):
    """Every caller presents `authorization: Bearer <GATEHOUSE_GRPC_TOKEN>`. Only the health
    service is open, so that probes need no secret; reflection describes the API and is not."""

    EXEMPT_SERVICES = frozenset({HEALTH_SERVICE})

    def __init__(self, token: str):
        if not token:
            raise ValueError("a gRPC server needs a service credential (GATEHOUSE_GRPC_TOKEN)")
        self._expected = f"Bearer {token}".encode()

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        if call.service not in self.EXEMPT_SERVICES:
            sent = (call.metadata(metadata.AUTHORIZATION) or "").encode()
            if not hmac.compare_digest(sent, self._expected):
                raise Unauthenticated("A valid service credential is required.", code="invalid_service_credential")
        yield


_SANE_CALLER = re.compile(r"[A-Za-z0-9._:@/ \-]{1,100}")


class CallerInterceptor(CallInterceptor):
    """Every caller names itself (`x-gatehouse-caller`, GATEHOUSE_SERVICE_IDENTITY): a write that
    names no user actor is then audited as done by that service, never by an anonymous "system"
    (issue 15, item 16). Health probes are exempt, as from the credential."""

    EXEMPT_SERVICES = frozenset({HEALTH_SERVICE})

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        caller = call.metadata(metadata.CALLER)
        if call.service not in self.EXEMPT_SERVICES and not (caller and _SANE_CALLER.fullmatch(caller)):
            raise InvalidArgument(
                "Name the calling service in x-gatehouse-caller (GATEHOUSE_SERVICE_IDENTITY).", code="caller_required"
            )
        with caller_scope(caller):
            yield


class DeadlineInterceptor(CallInterceptor):
    """Refuses a call whose deadline has passed and binds the time left for downstream calls."""

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        remaining = call.time_remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded()
        with deadline_scope(remaining):
            yield


class DatabaseInterceptor(CallInterceptor):
    """What Django does around each request: drop connections that are broken or past
    CONN_MAX_AGE, before and after, so a long-lived worker thread never reuses a dead one."""

    @contextlib.contextmanager
    def around(self, call: Call) -> Iterator[None]:
        close_old_connections()
        try:
            yield
        finally:
            close_old_connections()


def chain(*, token: str) -> list[grpc.ServerInterceptor]:
    """The interceptors of every Gatehouse gRPC server, outermost first."""
    return [
        RequestIdInterceptor(),
        TelemetryInterceptor(),
        ErrorInterceptor(),
        ServiceCredentialInterceptor(token),
        CallerInterceptor(),
        DeadlineInterceptor(),
        DatabaseInterceptor(),
    ]
