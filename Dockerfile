# syntax=docker/dockerfile:1
# One image for the four SIPAS services; the command picks the service:
#   docker run --rm sipas-live:local run scoring        (docker-compose.yml does this per service)
# Build: docker build -t sipas-live:local .

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---- build: resolve the locked workspace into /app/.venv ----
FROM ${PYTHON_IMAGE} AS build

# Same uv as the dev machines and CI, so uv.lock is read the same way.
RUN pip install --no-cache-dir uv==0.13.9

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Third-party dependencies first: this layer is rebuilt only when the lock changes.
# --frozen because the members' pyproject.toml files are not copied yet (uv could not
# check the lock against them); the lock alone says what to install.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --all-packages --frozen --no-dev --no-install-workspace

# Then the workspace members themselves (editable, as in development, so package data
# and paths resolve the same way).
COPY contracts/ contracts/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --all-packages --frozen --no-dev \
 && python -m compileall -q contracts/src services/*/src

# ---- runtime: no uv, no build tools, non-root ----
FROM ${PYTHON_IMAGE}

RUN groupadd --system --gid 10001 sipas \
 && useradd --system --uid 10001 --gid sipas --create-home --home-dir /home/sipas \
      --shell /usr/sbin/nologin sipas

# Root-owned and read-only for the service user: the code cannot be modified at run time.
COPY --from=build /app /app

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
USER sipas:sipas
EXPOSE 8000

ENTRYPOINT ["/app/.venv/bin/sipas"]
CMD ["run", "intake"]
