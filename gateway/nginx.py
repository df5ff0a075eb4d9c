"""nginx as the gateway in front of the web processes, configured from the route table.

`render()` writes a complete nginx.conf: one upstream pool per app service (gateway.routes) plus
the `gateway` pool for everything else, least-connections balancing, passive health (an instance
that fails is left out for `fail_timeout`), idempotent requests retried once on another
instance, keepalive to the upstreams, the request id kept or made and passed on, the client
address appended to X-Forwarded-For (the web processes trust it via GATEHOUSE_TRUSTED_PROXIES),
the body-size limit, and the JSON error envelope (docs/api.md) for the errors nginx itself answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .routes import APP_SERVICES, GATEWAY_POOL

_SERVER = re.compile(r"[A-Za-z0-9.\-]+:\d{1,5}|\[[0-9A-Fa-f:]+\]:\d{1,5}|unix:/[^\s;{}]+")


@dataclass
class NginxSettings:
    listen: str = "8080"
    # Pool name (an app service's name, or "gateway") → upstream servers ("host:port").
    pools: dict[str, list[str]] = field(default_factory=dict)
    max_body_bytes: int = 1048576
    prefix: str | None = None  # a directory for pid, logs and temp files (nginx as a normal user)
    worker_processes: str = "auto"
    user: str | None = None  # the workers' user, when the master runs as root
    max_fails: int = 1
    fail_timeout: int = 10
    keepalive: int = 32
    connect_timeout: float = 2.0
    read_timeout: int = 60


def _envelope(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message, "details": {}}})


def _check_servers(name: str, servers: list[str]) -> None:
    if not servers:
        raise ValueError(f"pool {name!r} has no servers")
    bad = [server for server in servers if not _SERVER.fullmatch(server)]
    if bad:
        raise ValueError(f"pool {name!r}: not host:port: {bad}")


def pools_for(settings: NginxSettings) -> dict[str, list[str]]:
    """Every pool with its servers; an app service without its own servers uses the gateway's."""
    if GATEWAY_POOL not in settings.pools:
        raise ValueError(f"the {GATEWAY_POOL!r} pool needs servers")
    known = {GATEWAY_POOL, *(service.name for service in APP_SERVICES)}
    unknown = sorted(set(settings.pools) - known)
    if unknown:
        raise ValueError(f"unknown pools {unknown}; known: {sorted(known)}")
    pools = {name: list(settings.pools.get(name) or settings.pools[GATEWAY_POOL]) for name in sorted(known)}
    for name, servers in pools.items():
        _check_servers(name, servers)
    return pools


def render(settings: NginxSettings) -> str:
    pools = pools_for(settings)
    prefix = Path(settings.prefix) if settings.prefix else None
    # Without a prefix, the paths of the official nginx image (docker-compose.split.yml).
    path = (lambda name: str(prefix / name)) if prefix else (lambda name: f"/var/cache/nginx/{name}")
    log = (lambda name: str(prefix / name)) if prefix else (lambda name: f"/var/log/nginx/{name}")
    pid = str(prefix / "nginx.pid") if prefix else "/var/run/nginx.pid"

    lines = [
        "# Rendered by `manage.py gateway nginx-config` from gateway/routes.py. Do not edit: render it again.",
        *([f"user {settings.user};"] if settings.user else []),
        f"worker_processes {settings.worker_processes};",
        f"pid {pid};",
        f"error_log {log('error.log')} warn;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        "    server_tokens off;",
        "    default_type application/json;",
        f"    client_body_temp_path {path('client_body')};",
        f"    proxy_temp_path {path('proxy')};",
        f"    fastcgi_temp_path {path('fastcgi')};",
        f"    uwsgi_temp_path {path('uwsgi')};",
        f"    scgi_temp_path {path('scgi')};",
        "",
        "    # The client's request id when it is sane (as the web processes judge it), else nginx's own.",
        "    map $http_x_request_id $gatehouse_request_id {",
        '        "~^[A-Za-z0-9._:-]{8,128}$" $http_x_request_id;',
        "        default $request_id;",
        "    }",
        '    log_format gatehouse escape=json \'{"time":"$time_iso8601","request_id":"$gatehouse_request_id",'
        '"client":"$remote_addr","method":"$request_method","uri":"$request_uri","status":$status,'
        '"upstream":"$upstream_addr","upstream_status":"$upstream_status","request_time":$request_time}\';',
        f"    access_log {log('access.log')} gatehouse;",
        "",
        f"    client_max_body_size {settings.max_body_bytes};",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header X-Request-ID $gatehouse_request_id;",
        f"    proxy_connect_timeout {int(settings.connect_timeout * 1000)}ms;",
        f"    proxy_read_timeout {settings.read_timeout}s;",
        "    # A dead or failing instance: try the next one. nginx never retries POST, PATCH or LOCK",
        "    # (non-idempotent) on another instance once the request was sent.",
        "    proxy_next_upstream error timeout http_502 http_504;",
        "    proxy_next_upstream_tries 2;",
        "    proxy_next_upstream_timeout 10s;",
        "    proxy_intercept_errors off;",
        "",
    ]
    for name, servers in pools.items():
        lines.append(f"    upstream gatehouse_{name} {{")
        lines.append("        least_conn;")
        for server in servers:
            lines.append(
                f"        server {server} max_fails={settings.max_fails} fail_timeout={settings.fail_timeout}s;"
            )
        lines.append(f"        keepalive {settings.keepalive};")
        lines.append("    }")
        lines.append("")

    lines += [
        "    server {",
        f"        listen {settings.listen};",
        "        # Errors nginx answers itself are the documented envelope too (docs/api.md).",
        "        error_page 413 = @too_large;",
        "        error_page 502 503 504 = @unavailable;",
        "        location @too_large {",
        "            add_header X-Request-ID $gatehouse_request_id always;",
        f"            return 413 '{_envelope('request_too_large', 'The request body is too large.')}';",
        "        }",
        "        location @unavailable {",
        "            add_header X-Request-ID $gatehouse_request_id always;",
        "            add_header Retry-After 5 always;",
        f"            return 503 '{_envelope('service_unavailable', 'No instance is available; retry shortly.')}';",
        "        }",
    ]
    for service in APP_SERVICES:
        lines.append(f"        # {service.title}")
        for location in service.locations:
            lines.append(f"        location {location} {{ proxy_pass http://gatehouse_{service.name}; }}")
    lines += [
        "        # The gateway's own endpoints (health, metrics, JWKS, schema, docs, admin).",
        f"        location / {{ proxy_pass http://gatehouse_{GATEWAY_POOL}; }}",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)
