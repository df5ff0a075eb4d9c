"""Domain errors: one base class, one machine code each, one mapping to HTTP and gRPC.

Every module's interface raises subclasses of these; the REST exception handler and the gRPC
mapping translate them by their `kind`, so a new error needs no new translation code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every error that crosses a service boundary."""

    kind: ClassVar[str] = "internal"
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None, code: str | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may refine the class's code
        super().__init__(self.message)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.code == self.code
            and other.message == self.message
            and other.details == self.details
        )

    def __hash__(self) -> int:
        return hash((type(self), self.code, self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, details={self.details!r})"


class InvalidArgument(DomainError):
    kind = "invalid_argument"
    code = "validation_error"
    default_message = "The request is not valid."


class NotFound(DomainError):
    kind = "not_found"
    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    kind = "conflict"
    code = "conflict"
    default_message = "Conflict with the current state."


class Unauthenticated(DomainError):
    kind = "unauthenticated"
    code = "not_authenticated"
    default_message = "Authentication is required."


class PermissionDenied(DomainError):
    kind = "permission_denied"
    code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class RateLimited(DomainError):
    kind = "rate_limited"
    code = "rate_limited"
    default_message = "Too many requests."


class ServiceUnavailable(DomainError):
    """A dependency (a remote core service, the database, ...) cannot be reached right now."""

    kind = "unavailable"
    code = "service_unavailable"
    default_message = "The service is temporarily unavailable."


class DeadlineExceeded(ServiceUnavailable):
    code = "deadline_exceeded"
    default_message = "The service did not answer in time."


ERROR_KINDS: dict[str, type[DomainError]] = {
    cls.kind: cls
    for cls in (
        DomainError,
        InvalidArgument,
        NotFound,
        Conflict,
        Unauthenticated,
        PermissionDenied,
        RateLimited,
        ServiceUnavailable,
    )
}
