# The project image: the gRPC code server (default command), the webservers, the daemon and
# every run launched by the DockerRunLauncher. Builds with the classic builder (no BuildKit
# features). See docs/deployment.md.
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: the virtualenv from uv.lock and the dbt manifest --------------------------
FROM ${PYTHON_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_NO_CACHE=1 \
    UV_FROZEN=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# binutils strips debug symbols from the wheels' shared libraries; the build still works
# (with a larger image) where no Debian mirror is reachable.
# hadolint ignore=DL3008
RUN (apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*) \
    || echo "binutils unavailable: shared libraries stay unstripped"
RUN python3 -m pip install "uv>=0.5,<1"
WORKDIR /opt/app
# Dependencies first, so a source change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --no-dev --no-install-project --python python3
COPY params.yaml ./
COPY acct445_assets ./acct445_assets
RUN uv sync --no-dev --python python3
ENV PATH=/opt/venv/bin:$PATH \
    ACCT445_HOME=/tmp/build \
    ACCT445_WAREHOUSE=/tmp/build/acct445.duckdb
# The NYSE session table and the dbt manifest are made here, once, instead of at every
# process start.
RUN python -m acct445_assets.calendar \
    && dagster-dbt project prepare-and-package --file acct445_assets/assets/warehouse.py \
    && test -f acct445_assets/dbt_project/target/manifest.json \
    && rm -rf /tmp/build acct445_assets/dbt_project/logs
COPY deploy/prune-venv.sh /tmp/prune-venv.sh
RUN bash /tmp/prune-venv.sh /opt/venv \
    && find /opt/app -name __pycache__ -type d -prune -exec rm -rf {} +

# ---- runtime: no build tools, non-root ----------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=1000
ARG GID=1000
RUN groupadd --gid "${GID}" dagster \
    && useradd --uid "${UID}" --gid "${GID}" --create-home --home-dir /home/dagster --shell /usr/sbin/nologin dagster \
    && mkdir -p /data /opt/dagster/home \
    && chown "${UID}:${GID}" /data /opt/dagster/home
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/app /opt/app
# dbt writes run artifacts and logs next to the project.
RUN chown -R "${UID}:${GID}" /opt/app/acct445_assets/dbt_project
COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.yaml /opt/dagster/workspace.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DAGSTER_HOME=/opt/dagster/home \
    ACCT445_HOME=/data \
    ACCT445_RESULTS_DIR=/data/results \
    TZ=America/New_York
WORKDIR /opt/app
USER ${UID}:${GID}
VOLUME ["/data"]
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=15s --start-period=180s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-h", "127.0.0.1", "-p", "4000"]
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "acct445_assets.definitions", "--location-name", "acct445_assets"]
