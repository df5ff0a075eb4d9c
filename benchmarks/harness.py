"""The measuring harness: interleaved rounds, one ratio per round, the median and its spread.

These machines are shared and noisy, so no absolute figure is compared with anything: every
contender of a comparison runs in every round, in a rotated order, and each round yields one
ratio. A comparison reports the median of those ratios with their min–max and IQR.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Comparison:
    """One row of the result table.

    `ratios` are per-round figures oriented so that the goal reads `op target`: a speed-up
    (peer time / ours) for "≥ 40× pycasbin", a cost (ours / floor) for "≤ 3× the floor".
    """

    scenario: str
    name: str
    goal: str
    op: str  # ">=" or "<="
    target: float
    ratios: list[float] = field(default_factory=list)
    detail: str = ""  # absolute medians, for the reader (not compared with anything)
    unit: str = "×"  # "" for a plain count (queries)

    def show(self, value: float) -> str:
        return fmt_ratio(value) if self.unit == "×" else f"{value:g}"

    @property
    def median(self) -> float:
        return statistics.median(self.ratios) if self.ratios else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.ratios), max(self.ratios)) if self.ratios else (float("nan"), float("nan"))

    @property
    def iqr(self) -> tuple[float, float]:
        if len(self.ratios) < 4:
            return self.spread
        q = statistics.quantiles(self.ratios, n=4)
        return q[0], q[2]

    @property
    def met(self) -> bool:
        if not self.ratios:
            return False
        return self.median >= self.target if self.op == ">=" else self.median <= self.target

    def as_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "name": self.name,
            "goal": self.goal,
            "op": self.op,
            "target": self.target,
            "ratios": self.ratios,
            "median": self.median,
            "met": self.met,
            "detail": self.detail,
        }


@dataclass
class Curve:
    """A scaling curve for the plots: one series per label, y against x."""

    scenario: str
    title: str
    xlabel: str
    ylabel: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    logx: bool = True
    filename: str = ""


@dataclass
class ScenarioResult:
    scenario: str
    title: str
    comparisons: list[Comparison] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = ""  # a profiler excerpt, when a goal is missed


def per_call(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of `fn`, over `n` calls."""
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def per_second_in_threads(work: Callable[[], object], seconds: float, threads: int) -> float:
    """Calls of `work` per second, from `threads` threads calling it in a loop for `seconds` (each
    thread closes its own database connection at the end)."""
    from django.db import connection

    done = [0] * threads
    stop_at = time.perf_counter() + seconds

    def loop(i: int) -> None:
        try:
            while time.perf_counter() < stop_at:
                work()
                done[i] += 1
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.perf_counter() - started)


def interleave(rounds: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every measure once per round, rotating the order each round so no contender always
    runs first (a warm-up or a neighbour's burst would otherwise favour one position)."""
    names = list(measures)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            figures[name].append(measures[name]())
    return figures


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    return [a / b for a, b in zip(numerators, denominators, strict=True) if b > 0]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(value: float) -> str:
    if value != value:  # NaN
        return "—"
    if value >= 100:
        return f"{value:.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    if value >= 0.1:
        return f"{value:.2f}×"
    return f"{value:.2g}×"  # a diagnostic far below 1 (0.0025×) must not read as 0.00×


def table(results: list[ScenarioResult]) -> str:
    """The plain-text result table printed at the end of a run."""
    rows = [("#", "comparison", "goal", "median", "min–max", "met")]
    for result in results:
        for c in result.comparisons:
            lo, hi = c.spread
            rows.append(
                (
                    c.scenario,
                    c.name,
                    c.goal,
                    c.show(c.median),
                    f"{c.show(lo)}–{c.show(hi)}",
                    "yes" if c.met else "NO",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def profile_text(fn: Callable[[], object], n: int, *, max_lines: int = 40) -> str:
    """A pyinstrument call tree of `n` calls of `fn` (a text excerpt for the doc)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(n):
        fn()
    profiler.stop()
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:max_lines])


def profile_flat(fn: Callable[[], object], n: int, *, top: int = 45, skip: tuple[str, ...] = ()) -> str:
    """The functions `n` calls of `fn` spend their time in, library frames included, by share of
    the whole (each function counted once per stack, so shares nest: a caller's includes its
    callees'). The call tree hides library frames and is too deep to read through a dozen
    middlewares; this lists them. `skip`: path fragments of frames left out of the list
    (wrappers that only pass a call on)."""
    from collections import Counter

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(n):
        fn()
    profiler.stop()
    root = profiler.last_session.root_frame()
    shares: Counter[str] = Counter()

    def walk(frame, seen: frozenset[str]) -> None:
        key = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        if key not in seen:
            shares[key] += frame.time
        for child in frame.children:
            walk(child, seen | {key})

    walk(root, frozenset())
    lines = [f"{root.time / n * 1e6:.0f} µs a call under the profiler ({n} calls); share of it, by function:"]
    for key, seconds in shares.most_common():
        if len(lines) > top:
            break
        if not any(fragment in key for fragment in skip) and "[self]" not in key:
            lines.append(f"{seconds / root.time * 100:5.1f} %  {key}")
    return "\n".join(lines)
