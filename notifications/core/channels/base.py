"""What a channel is: the delivery state machine (notifications.core.delivery) asks only this."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from notifications.models import Delivery
from users.interface import User

from ..rendering import Rendered

Send = Callable[[Delivery, User, Rendered], None]
SendMany = Callable[[Sequence[tuple[Delivery, User, Rendered]]], None]


class PermanentFailure(Exception):
    """Retrying cannot help (e.g. the user has no email address)."""


def _always() -> bool:
    return True


def _nothing(deliveries: Sequence[Delivery]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    send: Send
    """Sends one delivery. Raises PermanentFailure when retrying cannot help, anything else for a
    failure that may pass (the delivery is retried with backoff)."""
    configured: Callable[[], bool] = _always
    """Whether the channel can deliver now. A send asking for a channel that cannot is refused, and
    a delivery that finds it unconfigured fails at once; both name what it `needs`."""
    needs: str = ""
    local: bool = False
    """The send only writes this service's rows: it runs inside the transaction that records the
    outcome, so the two commit together. A channel that is not local (it reaches the network)
    sends with no transaction open, under a claim (docs/notifications.md)."""
    send_many: SendMany | None = None
    """A local channel's send of many deliveries at once (a batch's, in one transaction)."""
    after_sent: Callable[[Sequence[Delivery]], None] = _nothing
    """Runs inside the transaction that marks these deliveries sent."""

    def unconfigured(self) -> PermanentFailure:
        return PermanentFailure(f"the {self.name} channel is not configured ({self.needs})")
