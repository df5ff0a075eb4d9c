"""One table maps a domain error's kind to a gRPC status; the client rebuilds the very error."""

import grpc
import pytest

from project.kernel.errors import ERROR_KINDS, Conflict, DomainError, InvalidArgument, NotFound
from project.rpc import errors
from project.rpc.interceptors import Call, ErrorInterceptor
from users.interface import EmailTaken, InvalidUserInput

EXPECTED = {
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "conflict": grpc.StatusCode.ALREADY_EXISTS,
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "rate_limited": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
    "internal": grpc.StatusCode.INTERNAL,
}


def test_every_kind_of_domain_error_has_its_canonical_status():
    assert errors.STATUS_BY_KIND == EXPECTED
    assert set(ERROR_KINDS) == set(errors.STATUS_BY_KIND)


class RefinedNotFound(NotFound):
    """An error whose constructor takes other arguments than the base's."""

    def __init__(self, thing: str):
        super().__init__(f"No {thing} here.", details={"thing": thing}, code="thing_not_found")


@pytest.mark.parametrize(
    "error",
    [
        EmailTaken(),
        InvalidUserInput("Zoë's 名前 is too long ✂", details={"display_name": ["At most 150 characters."]}),
        InvalidArgument(details={"nested": {"list": [1, 2.5, None, True]}}),
        Conflict(code="refined_code"),
        RefinedNotFound("widget"),
        DomainError(),
    ],
    ids=repr,
)
def test_an_error_rebuilt_from_its_metadata_equals_the_original(error):
    rebuilt = errors.error_from_metadata(errors.error_metadata(error))
    assert type(rebuilt) is type(error)
    assert rebuilt == error


def test_an_error_class_the_client_does_not_know_comes_back_as_its_kind():
    [(key, value)] = errors.error_metadata(EmailTaken(details={"email": ["taken"]}))
    alien = ((key, value.replace(b"users.interface:EmailTaken", b"elsewhere:NewerError")),)
    rebuilt = errors.error_from_metadata(alien)
    assert type(rebuilt) is Conflict
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == (
        "email_taken",
        "A user with this email already exists.",
        {"email": ["taken"]},
    )


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"code": 1}', b'{"code": "x", "message": "y", "details": []}'])
def test_malformed_error_metadata_is_ignored(raw):
    assert errors.error_from_metadata(((errors.metadata.ERROR, raw),)) is None


class _AbortedCall(Exception):
    pass


class _Context:
    """The part of grpc.ServicerContext the error interceptor uses, recording what it was told."""

    def __init__(self):
        self.status = None
        self.message = None
        self.trailers = ()

    def code(self):
        return self.status

    def set_trailing_metadata(self, trailers):
        self.trailers = trailers

    def abort(self, code, details):
        self.status, self.message = code, details
        raise _AbortedCall()


def test_an_unexpected_exception_becomes_internal_without_its_text():
    context = _Context()
    with pytest.raises(_AbortedCall), ErrorInterceptor().around(Call("/x.v1.S/M", context)):
        raise RuntimeError("password=hunter2 at db.internal:5432")
    assert context.status == grpc.StatusCode.INTERNAL
    assert errors.error_from_metadata(context.trailers) == DomainError()
    assert "hunter2" not in context.message


def test_a_domain_error_becomes_its_status_and_metadata():
    context = _Context()
    with pytest.raises(_AbortedCall), ErrorInterceptor().around(Call("/x.v1.S/M", context)):
        raise EmailTaken()
    assert context.status == grpc.StatusCode.ALREADY_EXISTS
    assert context.message == "A user with this email already exists."
    assert errors.error_from_metadata(context.trailers) == EmailTaken()
