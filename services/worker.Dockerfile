# Every queue worker, one image per stage: STAGE is parsing, ai or notion (`python3 -m gleaner_<stage>`).
# Build from the repo root, once per stage:
#   buildah bud -f services/worker.Dockerfile --build-arg STAGE=parsing -t gleaner-worker-parsing:dev .
#   (or docker build -f services/worker.Dockerfile --build-arg STAGE=parsing …)
# BASE is any image with python3 3.11 and its venv module; the default is the official slim image, tests
# pass a local Debian base since no registry can be pulled from here.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS builder
ARG STAGE
RUN case "${STAGE}" in parsing|ai|notion) ;; *) echo "STAGE must be parsing, ai or notion" >&2; exit 1;; esac
# uv from the Python package index, pinned (not from another image, so any BASE works).
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
# Bytecode compiled at build time (the runtime filesystem is read-only); copies, not links, out of the
# cache mount; the base image's python3, never a downloaded one; the system's CA store, so a build behind
# a TLS-inspecting proxy works when its CA is installed or mounted.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_NO_DEV=1 UV_PYTHON=python3 UV_PYTHON_DOWNLOADS=never \
    UV_SYSTEM_CERTS=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Third-party dependencies first: this layer changes only with the lock. Every member's pyproject.toml is
# needed to read the workspace; --no-default-groups keeps the root's dev and bench groups out.
COPY pyproject.toml uv.lock ./
COPY libs/core/pyproject.toml libs/core/
COPY services/api/pyproject.toml services/api/
COPY services/worker-parsing/pyproject.toml services/worker-parsing/
COPY services/worker-ai/pyproject.toml services/worker-ai/
COPY services/worker-notion/pyproject.toml services/worker-notion/
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-default-groups --no-install-workspace --package gleaner-worker-${STAGE}
# Then the two members this image runs, installed as wheels: nothing in the venv points back to /src.
COPY libs/core libs/core
COPY services/worker-${STAGE} services/worker-${STAGE}
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-default-groups --no-editable --package gleaner-worker-${STAGE}

FROM ${BASE}
ARG STAGE
# A fixed numeric uid, so the pod's runAsNonRoot can check it; no home, no shell.
RUN groupadd --system --gid 65532 gleaner \
    && useradd --system --uid 65532 --gid gleaner --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin gleaner
COPY --from=builder --chown=65532:65532 /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 GLEANER_WORKER_STAGE=${STAGE}
WORKDIR /app
USER 65532:65532
# worker metrics on GLEANER_WORKER_METRICS_PORT
EXPOSE 9100
# Exec form: python is PID 1 and receives SIGTERM itself (warm shutdown: the running job finishes). An
# exec-form CMD cannot expand STAGE, so python runs the stage's module named by the environment (as
# `python3 -m gleaner_<stage>`; arguments after the command reach it). The chart names the module itself.
CMD ["python3", "-c", "import os, runpy; runpy.run_module('gleaner_' + os.environ['GLEANER_WORKER_STAGE'], run_name='__main__', alter_sys=True)"]
