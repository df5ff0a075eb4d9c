"""Metrics read from the database when Prometheus scrapes `/metrics` (docs/operations.md, "Metrics").

Counters live where their events happen (`prometheus_client` in each process, summed across
gunicorn workers by its multiprocess mode). What is a state rather than an event — the outbox's
backlog and lag, the dead letters waiting, the deliveries that failed — is counted at scrape time
by collectors that the owning package registers here from its `AppConfig.ready()`, so that the
web process's `/metrics` shows it whichever process did the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# name -> (help, read): read() returns the value, or a list of (labels, value).
_gauges: dict[str, tuple[str, list[str], Callable[[], float | Iterable[tuple[tuple[str, ...], float]]]]] = {}


def register_gauge(
    name: str, documentation: str, read: Callable[[], float | Iterable[tuple[tuple[str, ...], float]]],
    *, labels: list[str] | None = None,
) -> None:  # fmt: skip
    """A gauge whose value `read()` computes at scrape time (a database count: keep it cheap)."""
    _gauges[name] = (documentation, labels or [], read)


class ScrapeTimeGauges(Collector):
    def collect(self):
        for name, (documentation, labels, read) in list(_gauges.items()):
            family = GaugeMetricFamily(name, documentation, labels=labels or None)
            try:
                value = read()
            except Exception:  # a database that does not answer must not fail the scrape
                log.warning("metric %s could not be read", name, exc_info=True)
                continue
            if labels:
                for label_values, sample in value:  # type: ignore[union-attr]
                    family.add_metric(list(label_values), sample)
            else:
                family.add_metric([], value)
            yield family

    def describe(self):
        return []


_collector = ScrapeTimeGauges()
REGISTRY.register(_collector)


def add_scrape_time_gauges(registry: CollectorRegistry) -> None:
    """Add the scrape-time gauges to a registry made for one scrape (multiprocess mode)."""
    registry.register(_collector)
