# The one image of every Gatehouse process (docker-compose.yml picks the command of each).
#
# Stage 1 builds Gatehouse's wheel from the source (pyproject.toml: setuptools, the `gatehouse`
# command, templates, static files and protos as package data). Stage 2 installs the locked
# runtime dependencies and that wheel: the image runs the installed package, not a source tree.
FROM python:3.11-slim AS wheel

WORKDIR /src
RUN pip install --no-cache-dir "uv==0.13.9"
COPY . .
RUN uv build --wheel --out-dir /dist

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app

# uv pins itself in uv.lock (dev group); this copy only installs the locked runtime dependencies.
RUN pip install --no-cache-dir "uv==0.13.9"

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project && rm -rf /root/.cache

# Gatehouse itself, from its wheel (the dependencies are the lock's, installed above).
COPY --from=wheel /dist/ /tmp/dist/
RUN uv pip install --python /app/.venv/bin/python --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist /root/.cache
# `python manage.py …` (the compose commands) and gunicorn's settings, read from the working directory.
COPY manage.py gunicorn.conf.py ./

# Static files belong to the image, not to the data: every web process serves them (WhiteNoise)
# from /app/static, under the hashed, compressed names collectstatic gives them here. The key only
# lets the settings load; nothing is signed at build time.
ENV GATEHOUSE_DATA_DIR=/app/var \
    GATEHOUSE_STATIC_ROOT=/app/static
RUN SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput --verbosity 0

RUN groupadd --system --gid 10001 gatehouse \
    && useradd --system --uid 10001 --gid gatehouse --home-dir /app --no-create-home gatehouse \
    && mkdir -p /app/var \
    && chown gatehouse:gatehouse /app/var
USER gatehouse

EXPOSE 8000 50051
CMD ["gunicorn", "project.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
