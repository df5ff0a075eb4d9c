"""Domain errors across gRPC, both ways, from one table.

The server answers a DomainError with the status its `kind` maps to, the message as the status
details, and the error itself (class, code, message, details) as JSON in the trailing metadata
key `gatehouse-error-bin`. The client raises an equal error of the same class from it, so callers
of an interface see the same exceptions whether the implementation is local or remote.

A status without that metadata did not come from a servicer (the server is down, the deadline
passed, a proxy answered): it becomes the error its status code maps back to. Callers never see a
grpc exception.
"""

from __future__ import annotations

import json
import logging
from typing import Any, NoReturn

import grpc

from project.kernel.errors import ERROR_KINDS, DeadlineExceeded, DomainError

from . import metadata

log = logging.getLogger(__name__)

STATUS_BY_KIND: dict[str, grpc.StatusCode] = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "conflict": grpc.StatusCode.ALREADY_EXISTS,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "rate_limited": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "internal": grpc.StatusCode.INTERNAL,
}

# The way back for statuses that carry no error: the inverse of the table, plus the one status
# the client's own gRPC library produces that the table has no kind for.
_ERROR_BY_STATUS: dict[grpc.StatusCode, type[DomainError]] = {
    **{status: ERROR_KINDS[kind] for kind, status in STATUS_BY_KIND.items()},
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def status_for(error: DomainError) -> grpc.StatusCode:
    return STATUS_BY_KIND.get(error.kind, grpc.StatusCode.INTERNAL)


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def error_metadata(error: DomainError) -> tuple[tuple[str, bytes], ...]:
    payload = {
        "type": _type_name(type(error)),
        "kind": error.kind,
        "code": error.code,
        "message": error.message,
        # Details are JSON by contract (they end up in the HTTP error envelope too); str() keeps a
        # stray UUID from turning the caller's error into an internal one.
        "details": error.details,
    }
    return ((metadata.ERROR, json.dumps(payload, default=str).encode()),)


def abort(context: grpc.ServicerContext, error: DomainError) -> NoReturn:
    """End the call with `error`'s status and the metadata the client rebuilds it from."""
    context.set_trailing_metadata(error_metadata(error))
    context.abort(status_for(error), error.message)
    raise AssertionError("unreachable: ServicerContext.abort raises")  # pragma: no cover


def _known_error_classes() -> dict[str, type[DomainError]]:
    # Only classes this process has already imported (its interfaces) are candidates: a name in
    # the metadata never makes the client import anything.
    found: dict[str, type[DomainError]] = {}
    pending = [DomainError]
    while pending:
        cls = pending.pop()
        found[_type_name(cls)] = cls
        pending.extend(cls.__subclasses__())
    return found


def _rebuild(cls: type[DomainError], *, code: str, message: str, details: dict[str, Any]) -> DomainError:
    # The base initialiser, whatever a subclass's own __init__ takes: the fields travelled already
    # resolved, and equality is on exactly these.
    error = cls.__new__(cls)
    DomainError.__init__(error, message, details=details, code=code)
    return error


def error_from_metadata(trailers: Any) -> DomainError | None:
    """The domain error described in trailing metadata `trailers`, or None when there is none."""
    raw = next((value for key, value in trailers or () if key == metadata.ERROR), None)
    if raw is None:
        return None
    try:
        payload = json.loads(raw)
        code, message, details = payload["code"], payload["message"], payload["details"]
        if not (isinstance(code, str) and isinstance(message, str) and isinstance(details, dict)):
            raise TypeError("malformed error metadata")
    except (ValueError, TypeError, KeyError):
        log.warning("ignoring malformed %s metadata", metadata.ERROR)
        return None
    cls = _known_error_classes().get(str(payload.get("type")))
    if cls is None:
        # An error class this client does not know (a newer server): the nearest one by kind.
        cls = ERROR_KINDS.get(str(payload.get("kind")), DomainError)
    return _rebuild(cls, code=code, message=message, details=details)


def error_from_rpc(exc: grpc.RpcError) -> DomainError:
    """The domain error a failed call stands for."""
    call = exc if isinstance(exc, grpc.Call) else None
    error = error_from_metadata(call.trailing_metadata()) if call is not None else None
    if error is not None:
        return error
    status = call.code() if call is not None else grpc.StatusCode.UNKNOWN
    # The status message of a transport failure names addresses and internals: it goes to the log,
    # and the caller gets the error's own message.
    log.warning(
        "gRPC call failed without a domain error",
        extra={"grpc_code": status.name, "grpc_message": call.details() if call is not None else str(exc)},
    )
    return _ERROR_BY_STATUS.get(status, DomainError)()
