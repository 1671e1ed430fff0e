#!/bin/sh
# Renders nginx.conf.template and starts nginx in the foreground. Logins are checked by
# auth_service.py: at AUTH_UPSTREAM (host:port, docker-compose's `auth` service) or, when
# that is unset, started here beside nginx on 127.0.0.1:AUTH_PORT. Refuses to start unless
# both htpasswd files exist and hold only bcrypt entries, and session.key exists: the UI
# must never be reachable without a login, and there are no default credentials.
set -eu
umask 077

HTPASSWD_DIR=${HTPASSWD_DIR:-/etc/nginx/auth}
PROXY_LISTEN_PORT=${PROXY_LISTEN_PORT:-8080}
PROXY_LISTEN_ADDRESS=${PROXY_LISTEN_ADDRESS:-}
VIEWER_UPSTREAM=${VIEWER_UPSTREAM:-webserver-viewer:3000}
OPERATOR_UPSTREAM=${OPERATOR_UPSTREAM:-webserver-operator:3001}
PROXY_RUNTIME_DIR=${PROXY_RUNTIME_DIR:-/tmp/acct445-proxy}
PROXY_RATE_LIMIT=${PROXY_RATE_LIMIT:-10r/s}
PROXY_RATE_BURST=${PROXY_RATE_BURST:-100}
AUTH_UPSTREAM=${AUTH_UPSTREAM:-}
AUTH_PORT=${AUTH_PORT:-8091}
AUTH_PYTHON=${AUTH_PYTHON:-python3}
TLS_CERT=${TLS_CERT:-}
TLS_KEY=${TLS_KEY:-}
TEMPLATE=${NGINX_TEMPLATE:-$(dirname "$0")/nginx.conf.template}
MIME_TYPES=${NGINX_MIME_TYPES:-/etc/nginx/mime.types}

refuse() {
    echo "auth proxy: $1" >&2
    echo "auth proxy: refusing to start without logins. Create the files with 'make credentials'" >&2
    echo "auth proxy: (see docs/deployment.md) and mount them at $HTPASSWD_DIR." >&2
    exit 64
}

check_htpasswd() {
    file="$HTPASSWD_DIR/$1"
    [ -f "$file" ] || refuse "$file is missing."
    [ -r "$file" ] || refuse "$file is not readable."
    entries=$(grep -c -v -e '^[[:space:]]*$' -e '^#' "$file" || true)
    [ "$entries" -gt 0 ] || refuse "$file has no users."
    if grep -v -e '^[[:space:]]*$' -e '^#' "$file" | grep -q -v -E '^[^:[:space:]]+:\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'; then
        refuse "$file has an entry that is not 'user:bcrypt-hash' (only bcrypt hashes are accepted)."
    fi
}

if [ -z "$AUTH_UPSTREAM" ]; then
    check_htpasswd viewers.htpasswd
    check_htpasswd operators.htpasswd
    [ -f "$HTPASSWD_DIR/session.key" ] || refuse "$HTPASSWD_DIR/session.key is missing."
fi

if [ -n "$TLS_CERT" ] || [ -n "$TLS_KEY" ]; then
    [ -f "$TLS_CERT" ] || refuse "TLS_CERT=$TLS_CERT is not a file (set both TLS_CERT and TLS_KEY, or neither)."
    [ -f "$TLS_KEY" ] || refuse "TLS_KEY=$TLS_KEY is not a file (set both TLS_CERT and TLS_KEY, or neither)."
fi

listen_on=$PROXY_LISTEN_PORT
[ -n "$PROXY_LISTEN_ADDRESS" ] && listen_on="$PROXY_LISTEN_ADDRESS:$PROXY_LISTEN_PORT"
if [ -n "$TLS_CERT" ]; then
    listen="listen $listen_on ssl; ssl_certificate $TLS_CERT; ssl_certificate_key $TLS_KEY; ssl_protocols TLSv1.2 TLSv1.3;"
    hsts='add_header Strict-Transport-Security "max-age=31536000" always;'
else
    listen="listen $listen_on;"
    hsts=""
fi

mkdir -p "$PROXY_RUNTIME_DIR"
# Workers (an unprivileged user) create their temp directories inside; nothing is listable.
chmod 711 "$PROXY_RUNTIME_DIR"
rm -f "$PROXY_RUNTIME_DIR/auth.ready"

# The headers every auth subrequest sends; with a local service, a token only nginx knows,
# so other users of the host cannot ask the service (or pose as another address).
auth_conf=$PROXY_RUNTIME_DIR/auth_request.conf
{
    echo 'proxy_pass_request_body off;'
    echo 'proxy_pass_request_headers off;'
    echo 'proxy_http_version 1.1;'
    echo 'proxy_set_header Connection "";'
    echo 'proxy_set_header Authorization $http_authorization;'
    echo 'proxy_set_header Cookie $http_cookie;'
    echo 'proxy_set_header X-Real-IP $remote_addr;'
    echo 'proxy_set_header X-Forwarded-Proto $scheme;'
    echo 'proxy_set_header X-Acct445-Origin-Refused $origin_refused;'
    echo 'proxy_read_timeout 30s;'
} > "$auth_conf"
if [ -z "$AUTH_UPSTREAM" ]; then
    token=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$token" > "$PROXY_RUNTIME_DIR/auth.token"
    echo "proxy_set_header X-Acct445-Proxy-Token $token;" >> "$auth_conf"
    AUTH_UPSTREAM=127.0.0.1:$AUTH_PORT
    "$AUTH_PYTHON" "$(dirname "$0")/auth_service.py" --htpasswd-dir "$HTPASSWD_DIR" \
        --listen "$AUTH_UPSTREAM" --token-file "$PROXY_RUNTIME_DIR/auth.token" \
        --ready-file "$PROXY_RUNTIME_DIR/auth.ready" &
    auth_pid=$!
    waited=0
    until [ -f "$PROXY_RUNTIME_DIR/auth.ready" ]; do
        kill -0 "$auth_pid" 2>/dev/null || { wait "$auth_pid" || exit $?; exit 64; }
        waited=$((waited + 1))
        [ "$waited" -lt 300 ] || { echo "auth proxy: the auth service did not start" >&2; exit 1; }
        sleep 0.1
    done
fi

escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
sed -e "s|@LISTEN@|$(escape "$listen")|" \
    -e "s|@HSTS@|$(escape "$hsts")|" \
    -e "s|@RUNTIME_DIR@|$(escape "$PROXY_RUNTIME_DIR")|g" \
    -e "s|@MIME_TYPES@|$(escape "$MIME_TYPES")|g" \
    -e "s|@VIEWER_UPSTREAM@|$(escape "$VIEWER_UPSTREAM")|g" \
    -e "s|@OPERATOR_UPSTREAM@|$(escape "$OPERATOR_UPSTREAM")|g" \
    -e "s|@RATE_LIMIT@|$(escape "$PROXY_RATE_LIMIT")|g" \
    -e "s|@RATE_BURST@|$(escape "$PROXY_RATE_BURST")|g" \
    -e "s|@AUTH_UPSTREAM@|$(escape "$AUTH_UPSTREAM")|g" \
    "$TEMPLATE" > "$PROXY_RUNTIME_DIR/nginx.conf"

nginx -e stderr -t -q -c "$PROXY_RUNTIME_DIR/nginx.conf" -p "$PROXY_RUNTIME_DIR"
exec nginx -e stderr -c "$PROXY_RUNTIME_DIR/nginx.conf" -p "$PROXY_RUNTIME_DIR" -g 'daemon off;'
