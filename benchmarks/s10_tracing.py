"""Scenario 10: what tracing costs the HTTP permission check (docs/operations.md, "Tracing").

Three gunicorn servers of the same build, measured in turns under wrk like scenario 2:
- tracing off (no OTEL_* variable: the default), over the same server in an interpreter that
  cannot import OpenTelemetry at all (benchmarks/without_otel): "off costs nothing" is a ratio
  of about 1;
- tracing on with 10 % of the traces sampled (`OTEL_TRACES_SAMPLER=traceidratio`, argument 0.1),
  exporting over OTLP/gRPC to a receiver in this process, over tracing off.
"""

from __future__ import annotations

import threading
from concurrent import futures

from benchmarks import stack, web
from benchmarks.harness import Comparison, ScenarioResult, interleave, median, ratios
from benchmarks.s1_check import SCOPE
from benchmarks.s2_http import CONNECTIONS, WORKERS, grant_check_permission

WITHOUT_OTEL = stack.ROOT / "benchmarks" / "without_otel"


def otlp_receiver():
    """An OTLP/gRPC trace receiver that counts the spans it is sent; returns (endpoint, server, count)."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received = {"spans": 0}
    lock = threading.Lock()

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            with lock:
                received["spans"] += count
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return f"http://127.0.0.1:{port}", server, received


def run(ctx) -> ScenarioResult:
    result = ScenarioResult("10", "Tracing cost on the HTTP check")
    email = "tracing@bench.example.com"
    user_id = web.bench_user(email)
    code = grant_check_permission(user_id)
    seconds = 1 if ctx.smoke else 5
    endpoint, receiver, received = otlp_receiver()
    base_env = {k: v for k, v in stack.gatehouse_env(ctx.db).items() if not k.startswith("OTEL_")}
    pythonpath = [str(WITHOUT_OTEL), str(stack.ROOT)] + ([base_env["PYTHONPATH"]] if base_env.get("PYTHONPATH") else [])
    servers = {
        "off": base_env,
        "no_sdk": {**base_env, "PYTHONPATH": ":".join(pythonpath)},
        "sampled": {
            **base_env,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_TRACES_SAMPLER": "traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_SERVICE_NAME": "gatehouse-bench",
        },
    }
    ports = {name: stack.free_port() for name in servers}
    body = {"permission": code, "scope": SCOPE}
    try:
        with (
            stack.gunicorn("trace-off", "project.wsgi", env=servers["off"], port=ports["off"], workers=WORKERS),
            stack.gunicorn(
                "trace-no-sdk", "project.wsgi", env=servers["no_sdk"], port=ports["no_sdk"], workers=WORKERS
            ),
            stack.gunicorn(
                "trace-sampled", "project.wsgi", env=servers["sampled"], port=ports["sampled"], workers=WORKERS
            ),
        ):
            token = web.login(ports["off"], email)
            for name, port in ports.items():
                status, answer, _ = web.post(port, "/api/v1/rbac/check", body, token)
                assert status == 200 and answer == {"allowed": True}, (name, status, answer)
            measures = {
                name: (
                    lambda port=port: web.wrk(
                        f"http://127.0.0.1:{port}/api/v1/rbac/check",
                        seconds=seconds,
                        connections=CONNECTIONS,
                        body=body,
                        token=token,
                    )
                )
                for name, port in ports.items()
            }
            f = interleave(ctx.rounds(5), measures)
    finally:
        receiver.stop(1)
    rps = {name: f"{median(values):.0f} req/s" for name, values in f.items()}
    result.comparisons += [
        Comparison(
            "10",
            "HTTP check, tracing off (no OTEL_* set) over the same build without the SDK importable",
            "≥ 0.97×",
            ">=",
            0.97,
            ratios(f["off"], f["no_sdk"]),
            f"off {rps['off']}, without the SDK {rps['no_sdk']}",
        ),
        Comparison(
            "10",
            "HTTP check, tracing on at 10 % sampling (OTLP/gRPC export) over tracing off",
            "≥ 0.85×",
            ">=",
            0.85,
            ratios(f["sampled"], f["off"]),
            f"10 % sampled {rps['sampled']}; {received['spans']} spans received",
        ),
    ]
    result.notes.append(
        f"gunicorn with {WORKERS} sync workers per server, the three measured in turns; wrk with 1 thread and "
        f"{CONNECTIONS} connections, {seconds} s per contender per round. The machine is shared with other "
        "engineers' test runs: only same-run ratios mean anything."
    )
    return result
