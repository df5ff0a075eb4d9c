"""Tracing's switch and its log fields (docs/operations.md, "Tracing"), each in a fresh interpreter:
off by default with nothing of the SDK loaded; on, log lines name the span they were written in."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from project.kernel.events import Envelope
from tests.observability.test_tracing_stack import receiver  # noqa: F401 - the OTLP receiver fixture
from tests.support.processes import ROOT

OFF = """
import django, sys
django.setup()
from django.test import Client
from project import tracing
print(tracing.configure("web"), flush=True)
assert Client().get("/healthz").status_code == 200
# Tracing's own parts. (redis-py 8 imports the API and the SDK's metrics for its optional
# observability whenever they are installed; that is redis-py's, at import, and no tracing.)
loaded = sorted(m for m in sys.modules if m.startswith(
    ("opentelemetry.sdk.trace", "opentelemetry.instrumentation", "opentelemetry.exporter", "opentelemetry.propagate")))
print(loaded)
"""

ON = """
import django, logging
django.setup()
from project import tracing
print(tracing.configure("relay"), flush=True)
with tracing.span("probe.work", {"probe.id": "MARK"}):
    logging.getLogger("gatehouse.probe").warning("inside MARK")
logging.getLogger("gatehouse.probe").warning("outside MARK")
tracing.flush()
"""


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_without_an_otel_variable_tracing_is_off_and_nothing_of_the_sdk_is_loaded():
    done = run(OFF)
    assert done.returncode == 0, done.stderr[-3000:]
    switched_on, loaded = done.stdout.splitlines()[-2:]
    assert switched_on == "False"
    assert loaded == "[]"


@pytest.mark.parametrize("variable", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}])
def test_the_standard_variables_turn_it_off_even_with_an_endpoint(variable):
    done = run(OFF, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", **variable)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-2:] == ["False", "[]"]


def test_log_lines_carry_the_trace_and_span_of_the_span_they_were_written_in(receiver):  # noqa: F811
    mark = uuid.uuid4().hex
    done = run(
        ON.replace("MARK", mark),
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_INSECURE="true",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "True"
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{") and mark in line]
    inside = next(line for line in lines if line["message"] == f"inside {mark}")
    outside = next(line for line in lines if line["message"] == f"outside {mark}")
    (span,) = [s for s in receiver.spans() if s["name"] == "probe.work"]
    assert (inside["trace_id"], inside["span_id"]) == (span["trace_id"], span["span_id"])
    assert span["attributes"]["probe.id"] == mark
    assert span["service"] == "gatehouse-relay"
    assert outside["trace_id"] is None and outside["span_id"] is None
    assert "request_id" in inside


def test_the_envelope_carries_a_traceparent_only_when_there_is_one():
    plain = Envelope(type="users.user_registered", producer="users", payload={})
    assert "traceparent" not in plain.to_dict()
    traced = Envelope(
        type="users.user_registered",
        producer="users",
        payload={},
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    assert Envelope.from_dict(traced.to_dict()) == traced
    assert Envelope.from_dict({**plain.to_dict(), "traceparent": 42}).traceparent is None
