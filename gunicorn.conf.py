"""gunicorn settings shared by every way the web process starts (Procfile, Dockerfile, Compose, the
tests): gunicorn reads ./gunicorn.conf.py from its working directory. Command-line flags win.

gunicorn refuses request lines over `limit_request_line` bytes with its own HTML 414, before
Django sees the request. 4094 (its default) is less than a list URL with a full-length cursor and
filters can reach once percent-encoded; 8190 is the most it allows short of "unlimited".
"""

limit_request_line = 8190

# gunicorn would set the WSGI scheme from X-Forwarded-Proto itself when the peer is one of its
# forwarded_allow_ips (loopback by default), so a client on the same host could claim HTTPS.
# Django decides instead, believing the header only from GATEHOUSE_TRUSTED_PROXIES
# (gateway.edge.ForwardedProtoMiddleware).
secure_scheme_headers = {}


def post_fork(server, worker):
    # Tracing (docs/operations.md) is set up in each worker, after the fork: the SDK's export
    # pipeline (a thread, a gRPC channel) does not survive one. A no-op unless OTEL_* asks for it.
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from project.tracing import configure

    configure("web")


# gunicorn 27's control socket (runtime management through `gunicornc`) is not used here, and
# every instance on a host would share its default path (~/.gunicorn/gunicorn.ctl): none is opened.
control_socket_disable = True
