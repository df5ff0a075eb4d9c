"""OpenTelemetry tracing, configured only by the standard `OTEL_*` variables (docs/operations.md).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: then
nothing of the SDK or the instrumentations is imported, and the helpers here are one attribute
test each. On, every process kind sets it up itself, after any fork (the SDK's export pipeline
holds a thread and a gRPC channel, neither of which survives a fork): gunicorn's `post_fork`, the
Celery worker's `worker_init` and `worker_process_init`, `grpcserve`, `relay_outbox`.

What Gatehouse adds to the official instrumentations (Django, psycopg, redis, Celery, gRPC client
and server, urllib for webhooks): the W3C `traceparent` of the request that wrote an outbox row,
kept with the row and carried in the event envelope; a span where the relay publishes it (a child
of that request) and where a consumer handles it (a child of the publish); and spans for the
permission check engine, the Argon2 verify and mail delivery. Spans name ids, never a token, a
password or a mail's body; URLs lose their query string.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

# Set once configure() ran in this process; None means tracing is off (the hot paths test it).
_tracer: Any = None
_pipeline: Any = None
_configured_pid: int | None = None

_QUERY_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")


def wanted() -> bool:
    """Whether the environment asks for tracing (an OTLP endpoint, and the SDK not disabled)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def enabled() -> bool:
    return _tracer is not None


def configure(process: str) -> bool:
    """Set tracing up in this process (`process`: web, worker, relay, grpc) if the environment asks
    for it; idempotent. In a child forked from a process that had set it up, only the export
    pipeline is made anew (the parent's thread and channel are not the child's). Returns whether
    tracing is on."""
    global _tracer, _pipeline, _configured_pid
    if not wanted():
        return False
    pid = os.getpid()
    if _configured_pid == pid:
        return True
    if _configured_pid is not None:
        _pipeline.renew()
        _configured_pid = pid
        return True

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    attributes: dict[str, Any] = {"gatehouse.process": process}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = f"gatehouse-{process}"
    # The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, the resource from
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, the exporter from OTEL_EXPORTER_OTLP_*.
    provider = TracerProvider(resource=Resource.create(attributes))
    _pipeline = _new_pipeline()
    provider.add_span_processor(_pipeline)
    trace.set_tracer_provider(provider)
    _instrument(process)
    _tracer = trace.get_tracer("gatehouse")
    _configured_pid = pid
    log.info("tracing on: spans go to %s", _endpoint())
    return True


def flush(timeout_millis: int = 5000) -> None:
    """Export what this process holds (a Celery child about to be recycled, a command ending)."""
    if _pipeline is not None and _configured_pid == os.getpid():
        _pipeline.force_flush(timeout_millis)


def _endpoint() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")


def _new_batch_processor() -> Any:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter())


def _pipeline_class() -> type:
    from opentelemetry.sdk.trace import SpanProcessor

    class Pipeline(SpanProcessor):
        """A batch processor and OTLP exporter that a forked child replaces with its own."""

        def __init__(self) -> None:
            self._inner = _new_batch_processor()

        def renew(self) -> None:
            # The inherited one is dropped, not shut down: its thread and channel were the parent's.
            self._inner = _new_batch_processor()

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            self._inner.on_start(span, parent_context=parent_context)

        def on_end(self, span: Any) -> None:
            self._inner.on_end(span)

        def shutdown(self) -> None:
            self._inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return bool(self._inner.force_flush(timeout_millis))

    return Pipeline


def _new_pipeline() -> Any:
    return _pipeline_class()()


def _strip_queries(span: Any) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in _QUERY_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def _instrument(process: str) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    if process == "web":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        def response_hook(span: Any, request: Any, response: Any) -> None:
            if span is None or not span.is_recording():
                return
            _strip_queries(span)
            request_id = getattr(request, "request_id", None)
            if request_id:
                span.set_attribute("gatehouse.request_id", request_id)

        DjangoInstrumentor().instrument(response_hook=response_hook, is_sql_commentor_enabled=False)

    def url_hook(span: Any, request: Any, *rest: Any) -> None:
        if span is not None and span.is_recording():
            _strip_queries(span)

    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    GrpcInstrumentorServer().instrument()
    GrpcInstrumentorClient().instrument()
    URLLibInstrumentor().instrument(request_hook=url_hook, response_hook=url_hook)


# --- Gatehouse's own spans ---------------------------------------------------------------------------


@contextlib.contextmanager
def span(name: str, attributes: dict[str, Any] | None = None, *, kind: str = "internal") -> Iterator[Any]:
    """A span named `name` around the block (None when tracing is off). `attributes`: ids and
    facts, never a secret."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(name, attributes=attributes, kind=SpanKind[kind.upper()]) as current:
        yield current


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to be kept with an outbox row (None when off)."""
    if _tracer is None:
        return None
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def span_from(
    traceparent: str | None, name: str, attributes: dict[str, Any] | None = None, *, kind: str
) -> Iterator[str | None]:
    """A span that continues the trace of `traceparent` (a child of it), whatever the current
    context, or starts a trace when there is none; yields its own traceparent, for the next hop.
    Off: yields `traceparent` unchanged."""
    if _tracer is None:
        yield traceparent
        return
    from opentelemetry.context import Context
    from opentelemetry.propagate import extract, inject
    from opentelemetry.trace import SpanKind

    parent = extract({"traceparent": traceparent}) if traceparent else Context()
    with _tracer.start_as_current_span(name, context=parent, attributes=attributes, kind=SpanKind[kind.upper()]):
        carrier: dict[str, str] = {}
        inject(carrier)
        yield carrier.get("traceparent")


class TraceLogFilter(logging.Filter):
    """Adds `trace_id` and `span_id` (hex, as trace backends show them) to every log record; None
    when tracing is off or no span is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id = record.span_id = None
        if _tracer is not None:
            from opentelemetry import trace

            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
        return True
