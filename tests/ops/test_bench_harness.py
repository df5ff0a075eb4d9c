# ruff: noqa: RUF001  (the multiplication sign and en dash are what the result table prints)
"""The benchmark harness (benchmarks/harness.py) computes what docs/benchmarks.md claims: every
contender in every round, rotated; one ratio per round; the median and spread of those ratios;
a goal met or not by the median. No timing is judged here: the figures are made up."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.harness import Comparison, ScenarioResult, interleave, ratios, table


def test_interleave_runs_every_contender_once_a_round_in_a_rotated_order():
    calls: list[str] = []
    figures = interleave(3, {name: (lambda name=name: calls.append(name) or 1.0) for name in "abc"})
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert figures == {"a": [1.0] * 3, "b": [1.0] * 3, "c": [1.0] * 3}


def test_ratios_pair_the_figures_of_the_same_round():
    assert ratios([10.0, 20.0, 30.0], [1.0, 4.0, 10.0]) == [10.0, 5.0, 3.0]


@given(st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=30))
def test_the_median_lies_within_the_spread_and_decides_the_goal(values):
    at_least = Comparison("1", "x", "≥ 2×", ">=", 2.0, list(values))
    at_most = Comparison("1", "x", "≤ 2×", "<=", 2.0, list(values))
    low, high = at_least.spread
    assert low <= at_least.median <= high
    assert at_least.met == (at_least.median >= 2.0)
    assert at_most.met == (at_most.median <= 2.0)
    iqr_low, iqr_high = at_least.iqr
    assert low <= iqr_low <= iqr_high <= high


def test_a_comparison_without_rounds_is_not_met():
    empty = Comparison("1", "x", "≥ 1×", ">=", 1.0, [])
    assert not empty.met
    assert math.isnan(empty.median)


def test_the_table_shows_each_comparison_with_its_verdict():
    result = ScenarioResult("6", "relay")
    result.comparisons += [
        Comparison("6", "relay over raw", "≥ 0.5×", ">=", 0.5, [0.4, 0.6, 0.7]),
        Comparison("6", "queries", "0", "<=", 0, [0.0], unit=""),
    ]
    lines = table([result]).splitlines()
    assert lines[0].split() == ["#", "comparison", "goal", "median", "min–max", "met"]
    assert "relay over raw" in lines[2] and "0.60×" in lines[2] and lines[2].rstrip().endswith("yes")
    assert "queries" in lines[3] and lines[3].rstrip().endswith("yes")
