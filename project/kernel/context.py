"""Request context that travels with a unit of work: HTTP request, gRPC call, task, event."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("gatehouse_request_id", default=None)
# The named service identity a gRPC call came from (`x-gatehouse-caller`): who acts when a write
# names no user actor (issue 15, item 16). None in process.
_caller: ContextVar[str | None] = ContextVar("gatehouse_caller", default=None)


def get_caller() -> str | None:
    return _caller.get()


@contextlib.contextmanager
def caller_scope(caller: str | None) -> Iterator[None]:
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


# A client-sent id is echoed only if it is short and plain: it ends up in logs and headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{8,128}")


def sane_request_id(value: str | None) -> str | None:
    """Return `value` if it is safe to echo and log as a request id, else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def get_request_id() -> str | None:
    return _request_id.get()


@contextlib.contextmanager
def request_id_scope(request_id: str | None) -> Iterator[str]:
    """Bind a request id (a new one if `request_id` is not sane) for the duration of the block."""
    value = sane_request_id(request_id) or new_request_id()
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record so the JSON formatter can emit it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs after the request's scope has closed: its request still knows.
            record.request_id = _request_id.get() or getattr(getattr(record, "request", None), "request_id", None)
        return True
