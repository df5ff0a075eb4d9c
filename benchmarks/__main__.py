"""Run the benchmark suite: `scripts/bench [--smoke] [scenario…]` (scenarios by number, 1–11).

Every scenario measures Gatehouse and its baseline in the same run, interleaved (benchmarks.harness).
A full run writes docs/benchmarks.md and docs/benchmarks/*.png; a smoke run (seconds, tiny sizes,
what CI runs so the suite cannot rot) writes var/bench/benchmarks-smoke.md instead. The exit status
is non-zero when a scenario crashes, never because of a figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass

from benchmarks import stack
from benchmarks.harness import ScenarioResult, table

SCENARIOS = {
    "1": "benchmarks.s1_check",
    "2": "benchmarks.s2_http",
    "3": "benchmarks.s3_login",
    "4": "benchmarks.s4_fanout",
    "5": "benchmarks.s5_grpc",
    "6": "benchmarks.s6_relay",
    "7": "benchmarks.s7_scaling",
    "8": "benchmarks.s8_oidc",
    "9": "benchmarks.s9_sizing",
    "10": "benchmarks.s10_tracing",
    "11": "benchmarks.s11_orgs",
}
DB = stack.GATEHOUSE_DB


@dataclass
class Context:
    smoke: bool
    db: str

    def rounds(self, full: int) -> int:
        return 1 if self.smoke else full

    def size(self, smoke: int, full: int) -> int:
        return smoke if self.smoke else full


def setup_django() -> None:
    stack.use_gatehouse_settings(DB)
    stack.create_database(DB)
    stack.flush_redis()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The servers run with production settings: the hosted pages need the collected static files.
    call_command("collectstatic", "--noinput", verbosity=0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument("--smoke", action="store_true", help="seconds and tiny sizes: does every scenario run?")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench_* databases for inspection")
    parser.add_argument("scenarios", nargs="*", help="numbers 1–11 (default: all)")
    args = parser.parse_args(argv)
    chosen = args.scenarios or list(SCENARIOS)
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    ctx = Context(smoke=args.smoke, db=DB)
    started = time.monotonic()
    print(f"benchmarks: {'smoke' if args.smoke else 'full'} run of scenario(s) {', '.join(chosen)}", flush=True)
    setup_django()
    results: list[ScenarioResult] = []
    failed: list[str] = []
    try:
        for number in chosen:
            t0 = time.monotonic()
            print(f"\n== scenario {number} ({SCENARIOS[number]})", flush=True)
            try:
                module = importlib.import_module(SCENARIOS[number])
                result = module.run(ctx)
            except Exception:
                traceback.print_exc()
                failed.append(number)
                continue
            results.append(result)
            for c in result.comparisons:
                print(f"   {c.name}: {c.median:.3g} ({c.goal}) {c.detail}", flush=True)
            print(f"   [{time.monotonic() - t0:.1f}s]", flush=True)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            if hasattr(connections["default"], "close_pool"):
                connections["default"].close_pool()  # or the pool keeps reconnecting to a dropped database
            stack.drop_database(DB)
    print("\n" + table(results))
    from benchmarks import report

    stack.LOG_DIR.mkdir(parents=True, exist_ok=True)
    (stack.LOG_DIR / ("results-smoke.json" if args.smoke else "results.json")).write_text(
        json.dumps([[c.as_dict() for c in r.comparisons] for r in results], indent=1)
    )
    path = report.write(
        results, smoke=args.smoke, elapsed=time.monotonic() - started, partial=bool(args.scenarios), crashed=failed
    )
    print(f"\nwrote {path} in {time.monotonic() - started:.0f}s")
    if failed:
        print(f"scenario(s) crashed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.chdir(stack.ROOT)
    sys.exit(main(sys.argv[1:]))
