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
