# The one image of every Gatehouse process (docker-compose.yml picks the command of each).
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

COPY . .

RUN groupadd --system --gid 10001 gatehouse \
    && useradd --system --uid 10001 --gid gatehouse --home-dir /app --no-create-home gatehouse \
    && mkdir -p /app/var \
    && chown gatehouse:gatehouse /app/var
USER gatehouse

EXPOSE 8000 50051
CMD ["gunicorn", "project.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
