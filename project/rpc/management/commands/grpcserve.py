"""`manage.py grpcserve [service …] [--host H] [--port N]`: serve core services over gRPC."""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from project import tracing
from project.rpc.server import DEFAULT_HOST, DEFAULT_PORT, SERVICERS, UnknownService, build_server

log = logging.getLogger("gatehouse.rpc")


class Command(BaseCommand):
    help = (
        "Serve core services over gRPC, with health and reflection, until SIGTERM or SIGINT. "
        f"Without service names, serves every core service that has a servicer ({', '.join(SERVICERS)})."
    )

    def add_arguments(self, parser):
        parser.add_argument("services", nargs="*", metavar="service", help="core services to serve")
        parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
        parser.add_argument("--workers", type=int, default=10, help="threads serving calls (default 10)")
        parser.add_argument(
            "--grace", type=float, default=10.0, help="seconds calls in flight get to finish on shutdown (default 10)"
        )
        parser.add_argument(
            "--metrics-port", type=int, default=None, help="also serve Prometheus metrics over HTTP on this port"
        )

    def handle(self, *args, **options):
        token = settings.GATEHOUSE_GRPC_TOKEN
        if not token:
            raise CommandError(
                "GATEHOUSE_GRPC_TOKEN is not set: a gRPC server refuses to start without the service "
                "credential its callers must present."
            )
        services = options["services"] or list(SERVICERS)
        # Before the server is built: the gRPC instrumentation wraps grpc.server().
        tracing.configure("grpc")
        try:
            server = build_server(
                services, token=token, host=options["host"], port=options["port"], max_workers=options["workers"]
            )
        except UnknownService as exc:
            raise CommandError(str(exc)) from None
        except RuntimeError as exc:  # the port is taken, the host is not ours
            raise CommandError(f"cannot serve on {options['host']}:{options['port']}: {exc}") from None

        if options["metrics_port"] is not None:
            from prometheus_client import start_http_server

            start_http_server(options["metrics_port"], addr=options["host"])

        stopping = threading.Event()

        def request_stop(signum, frame):
            stopping.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        server.start()
        log.info(
            "grpcserve: serving %s on %s",
            ", ".join(server.services.values()),
            server.address,
            extra={"services": sorted(server.services), "address": server.address},
        )
        # A timed wait: the signal handler runs in this thread only between bytecodes.
        while not stopping.wait(0.5):
            pass
        log.info("grpcserve: stopping (grace %ss)", options["grace"])
        server.stop(options["grace"])
        tracing.flush()
        log.info("grpcserve: stopped")
