"""The deadline of the unit of work in progress, so that calls it makes downstream give up no later
than it has to.

The gRPC server binds the caller's deadline for the duration of each call; `client` shortens its
timeouts to what is left. Monotonic time, so a wall-clock step cannot stretch or cut a deadline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("gatehouse_deadline", default=None)


@contextlib.contextmanager
def deadline_scope(seconds: float | None) -> Iterator[None]:
    """Allow at most `seconds` from now (None: no limit) for the block; an enclosing shorter
    deadline still holds."""
    deadline = None if seconds is None else time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None and (deadline is None or outer < deadline):
        deadline = outer
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_remaining() -> float | None:
    """Seconds left before the bound deadline (0 once it has passed), or None when none is bound."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.0)
