"""The load driver of tests/reliability/test_load.py: a separate OS process that drives a gunicorn
server with a mixed authentication workload for a bounded time, so the load's own CPU and memory
are not the test process's and the server sees real, concurrent HTTP clients.

    python -m tests.reliability.load_driver --base-url URL --seconds S --warmup W --clients N < users.json

`users.json` is `{"password": "...", "emails": ["...", ...]}`. Each client thread signs in as one
user (round robin), then loops until the time is up: a profile read (GET /api/v1/users/me), a
refresh (POST /api/v1/auth/token/refresh; the client keeps the rotated pair) or a login (POST
/api/v1/auth/token; the client moves to the new session), by weight. Every one of them is expected
to answer 200; anything else is counted as unexpected, a dropped connection or a timeout as a
transport error.

It prints one line `warm <requests so far>` once the warm-up is over (the test samples the
workers' memory then), and at the end one JSON object with the counts. Standard library only: no
Django in here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

ME = "/api/v1/users/me"
REFRESH = "/api/v1/auth/token/refresh"
LOGIN = "/api/v1/auth/token"
# A client mostly reads; it refreshes when its access token nears expiry and signs in now and then.
WEIGHTS = {"me": 70, "refresh": 20, "login": 10}


class Client:
    def __init__(self, host: str, port: int, email: str, password: str, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.email, self.password = email, password
        self.connection: http.client.HTTPConnection | None = None
        self.access = self.refresh_token = None

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """(status, parsed body); status 0 for a transport error (connection refused, reset, timeout)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.connection.request(method, path, data, headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut short, timed out
            self.connection.close()
            self.connection = None
            return 0, {"transport_error": repr(exc)}
        if response.getheader("Connection", "").lower() == "close":  # gunicorn's sync workers
            self.connection.close()
            self.connection = None
        try:
            return response.status, json.loads(raw) if raw else {}
        except ValueError:
            return response.status, {"raw": raw[:200].decode(errors="replace")}

    def login(self):
        status, body = self.call("POST", LOGIN, {"email": self.email, "password": self.password})
        if status == 200:
            self.access, self.refresh_token = body["access_token"], body["refresh_token"]
        return status, body

    def rotate(self):
        status, body = self.call("POST", REFRESH, {"refresh_token": self.refresh_token})
        if status == 200:
            self.access, self.refresh_token = body["access_token"], body["refresh_token"]
        return status, body

    def me(self):
        status, body = self.call("GET", ME, token=self.access)
        if status == 200 and body.get("email") != self.email:
            return -1, {"wrong_profile": body.get("email")}  # someone else's profile: never expected
        return status, body


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: dict[str, Counter] = {op: Counter() for op in WEIGHTS}
        self.unexpected: list[dict] = []
        self.latencies: list[float] = []
        self.completed = 0

    def record(self, op: str, status: int, body: dict, seconds: float) -> None:
        with self.lock:
            self.completed += 1
            self.statuses[op][status] += 1
            self.latencies.append(seconds)
            if status != 200 and len(self.unexpected) < 20:
                self.unexpected.append({"op": op, "status": status, "body": body})


def run_client(client: Client, results: Results, deadline: float, seed: int) -> None:
    chooser = random.Random(seed)
    ops, weights = list(WEIGHTS), list(WEIGHTS.values())
    op = "login"  # every client starts by signing in
    while time.monotonic() < deadline:
        if client.access is None:
            op = "login"
        started = time.monotonic()
        status, body = getattr(client, {"me": "me", "refresh": "rotate", "login": "login"}[op])()
        results.record(op, status, body, time.monotonic() - started)
        if op == "refresh" and status != 200:
            client.access = None  # the session is gone for this client: sign in again
        op = chooser.choices(ops, weights)[0]
    if client.connection is not None:
        client.connection.close()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--seconds", type=float, required=True, help="how long to drive the server")
    parser.add_argument("--warmup", type=float, required=True, help="seconds before the `warm` line")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as lost")
    args = parser.parse_args(argv)
    users = json.load(sys.stdin)
    url = urlsplit(args.base_url)
    results = Results()
    started = time.monotonic()
    deadline = started + args.seconds
    clients = [
        Client(url.hostname, url.port, users["emails"][n % len(users["emails"])], users["password"], args.timeout)
        for n in range(args.clients)
    ]
    threads = [
        threading.Thread(target=run_client, args=(client, results, deadline, n), daemon=True)
        for n, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, started + args.warmup - time.monotonic()))
    with results.lock:
        at_warmup = results.completed
    print(f"warm {at_warmup}", flush=True)
    for thread in threads:
        thread.join(timeout=args.seconds + args.timeout + 30)
    elapsed = time.monotonic() - started
    summary = {
        "seconds": round(elapsed, 2),
        "clients": args.clients,
        "requests": results.completed,
        "after_warmup": results.completed - at_warmup,
        "statuses": {op: {str(k): v for k, v in sorted(c.items())} for op, c in results.statuses.items()},
        "unexpected": results.unexpected,
        "still_running": sum(thread.is_alive() for thread in threads),
        "latency_ms": {
            "p50": round(percentile(results.latencies, 0.5) * 1000, 1),
            "p99": round(percentile(results.latencies, 0.99) * 1000, 1),
            "max": round(max(results.latencies, default=0.0) * 1000, 1),
        },
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
