"""`manage.py gateway nginx-config`: nginx's configuration, rendered from the route table."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gateway.nginx import NginxSettings, render
from gateway.routes import APP_SERVICES, GATEWAY_POOL

POOLS = (GATEWAY_POOL, *(service.name for service in APP_SERVICES))


def _env_pools() -> dict[str, list[str]]:
    pools = {}
    for name in POOLS:
        value = os.environ.get(f"GATEHOUSE_UPSTREAM_{name.upper()}", "")
        servers = [server.strip() for server in value.split(",") if server.strip()]
        if servers:
            pools[name] = servers
    return pools


class Command(BaseCommand):
    help = "Gateway tooling. `nginx-config` prints (or writes) nginx.conf for the route table."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        nginx = sub.add_parser(
            "nginx-config",
            help="Render nginx.conf: a pool per app service, least_conn, passive health, retries, keepalive.",
        )
        nginx.add_argument("--listen", default="8080", help="nginx's listen directive (default 8080).")
        nginx.add_argument(
            "--upstream",
            action="append",
            default=[],
            metavar="POOL=HOST:PORT[,HOST:PORT…]",
            help=f"Servers of a pool ({', '.join(POOLS)}); repeatable. Default: GATEHOUSE_UPSTREAM_<POOL>; "
            "app services without servers use the gateway pool's (the monolith: every instance serves all).",
        )
        nginx.add_argument("--prefix", help="Directory for pid, logs and temp files (run nginx as a normal user).")
        nginx.add_argument("--output", "-o", help="Write to this file instead of standard output.")
        nginx.add_argument("--worker-processes", default="auto")
        nginx.add_argument(
            "--user",
            help="The workers' user when nginx starts as root (ignored otherwise); default: nginx's own (nobody).",
        )

    def handle(self, *args, action, **options):
        pools = _env_pools()
        for item in options["upstream"]:
            name, sep, servers = item.partition("=")
            if not sep or not servers.strip():
                raise CommandError(f"--upstream {item!r}: expected POOL=HOST:PORT[,HOST:PORT…]")
            pools[name.strip()] = [server.strip() for server in servers.split(",") if server.strip()]
        pools.setdefault(GATEWAY_POOL, ["127.0.0.1:8000"])
        config = NginxSettings(
            listen=options["listen"],
            pools=pools,
            max_body_bytes=settings.GATEHOUSE_MAX_BODY_BYTES,
            prefix=options["prefix"],
            worker_processes=options["worker_processes"],
            user=options["user"] if options["user"] and os.geteuid() == 0 else None,
        )
        try:
            text = render(config)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as out:
                out.write(text)
            self.stderr.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text, ending="")
