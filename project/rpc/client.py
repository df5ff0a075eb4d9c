"""Calling a core service over gRPC: what every remote implementation of an interface shares.

`ServiceClient(target, Stub).call("Method", request)` sends the service credential and the
request id, sets a timeout (GATEHOUSE_GRPC_TIMEOUT, or less when the unit of work in progress has
less time left), fails fast when the server is unreachable, and turns every failure into a domain
error (project.rpc.errors). Channels are cached, one per target and process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import grpc
from django.conf import settings
from django.db import connections

from project.kernel.context import get_request_id
from project.kernel.errors import DeadlineExceeded

from . import metadata
from .deadlines import time_remaining
from .errors import error_from_rpc

CHANNEL_OPTIONS = (
    # gRPC's default backoff grows to two minutes: a restarted server would stay unused that long.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # Notice a peer that vanished without closing the connection (a killed pod, a dropped NAT entry).
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)

_channels: dict[tuple[int, str], grpc.Channel] = {}
_channels_lock = threading.Lock()


def channel(target: str) -> grpc.Channel:
    """The process's channel to `target`, created on first use.

    Keyed by process id as well: a gRPC channel does not survive fork(), and gunicorn and Celery
    workers fork after the app is loaded.
    """
    key = (os.getpid(), target)
    with _channels_lock:
        found = _channels.get(key)
        if found is None:
            found = _channels[key] = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        return found


def close_channel(target: str) -> None:
    with _channels_lock:
        found = _channels.pop((os.getpid(), target), None)
    if found is not None:
        found.close()


class RemoteCallInTransaction(RuntimeError):
    """A remote call made while a database transaction is open: it could neither see the
    transaction's uncommitted rows nor be rolled back with it. Call after commit."""


def _in_transaction() -> bool:
    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


class ServiceClient:
    """The calls of one gRPC service at one target, made the Gatehouse way."""

    def __init__(self, target: str, stub_class: Callable[[grpc.Channel], Any]):
        self.target = target
        self._stub_class = stub_class
        self._stub: tuple[grpc.Channel, Any] | None = None

    def _get_stub(self) -> Any:
        current = channel(self.target)
        if self._stub is None or self._stub[0] is not current:
            self._stub = (current, self._stub_class(current))
        return self._stub[1]

    def _timeout(self) -> float:
        timeout = float(settings.GATEHOUSE_GRPC_TIMEOUT)
        remaining = time_remaining()
        if remaining is not None:
            if remaining <= 0:
                raise DeadlineExceeded()
            timeout = min(timeout, remaining)
        return timeout

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        sent = [
            (metadata.AUTHORIZATION, f"Bearer {settings.GATEHOUSE_GRPC_TOKEN}"),
            (metadata.CALLER, settings.GATEHOUSE_SERVICE_IDENTITY),
        ]
        request_id = get_request_id()
        if request_id:
            sent.append((metadata.REQUEST_ID, request_id))
        return tuple(sent)

    def call(self, method: str, request: Any) -> Any:
        """Call `method` ("GetUser") with `request`; its reply, or the domain error it stands for."""
        if _in_transaction():
            raise RemoteCallInTransaction(
                f"{self.target}: remote call {method} inside a database transaction; move it after the commit"
            )
        rpc = getattr(self._get_stub(), method)
        try:
            # wait_for_ready=False: an unreachable server fails the call at once (UNAVAILABLE)
            # rather than holding the caller until the timeout.
            return rpc(request, timeout=self._timeout(), metadata=self._metadata(), wait_for_ready=False)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
