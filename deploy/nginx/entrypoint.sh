#!/bin/sh
# Renders nginx.conf.template and starts nginx in the foreground. Refuses to start unless
# both htpasswd files exist and hold only bcrypt entries: the UI must never be reachable
# without a login, and there are no default credentials to fall back on.
set -eu

HTPASSWD_DIR=${HTPASSWD_DIR:-/etc/nginx/auth}
PROXY_LISTEN_PORT=${PROXY_LISTEN_PORT:-8080}
PROXY_LISTEN_ADDRESS=${PROXY_LISTEN_ADDRESS:-}
VIEWER_UPSTREAM=${VIEWER_UPSTREAM:-webserver-viewer:3000}
OPERATOR_UPSTREAM=${OPERATOR_UPSTREAM:-webserver-operator:3001}
PROXY_RUNTIME_DIR=${PROXY_RUNTIME_DIR:-/tmp/acct445-proxy}
PROXY_RATE_LIMIT=${PROXY_RATE_LIMIT:-20r/s}
PROXY_RATE_BURST=${PROXY_RATE_BURST:-200}
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

check_htpasswd viewers.htpasswd
check_htpasswd operators.htpasswd

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
chmod 755 "$PROXY_RUNTIME_DIR"
# Operators may also read: "/" accepts either file's users, "/operator/" only operators.
cat "$HTPASSWD_DIR/viewers.htpasswd" "$HTPASSWD_DIR/operators.htpasswd" > "$PROXY_RUNTIME_DIR/readers.htpasswd"
cp "$HTPASSWD_DIR/operators.htpasswd" "$PROXY_RUNTIME_DIR/operators.htpasswd"
chmod 644 "$PROXY_RUNTIME_DIR/readers.htpasswd" "$PROXY_RUNTIME_DIR/operators.htpasswd"

escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
sed -e "s|@LISTEN@|$(escape "$listen")|" \
    -e "s|@HSTS@|$(escape "$hsts")|" \
    -e "s|@RUNTIME_DIR@|$(escape "$PROXY_RUNTIME_DIR")|g" \
    -e "s|@MIME_TYPES@|$(escape "$MIME_TYPES")|g" \
    -e "s|@VIEWER_UPSTREAM@|$(escape "$VIEWER_UPSTREAM")|g" \
    -e "s|@OPERATOR_UPSTREAM@|$(escape "$OPERATOR_UPSTREAM")|g" \
    -e "s|@RATE_LIMIT@|$(escape "$PROXY_RATE_LIMIT")|g" \
    -e "s|@RATE_BURST@|$(escape "$PROXY_RATE_BURST")|g" \
    "$TEMPLATE" > "$PROXY_RUNTIME_DIR/nginx.conf"

nginx -e stderr -t -q -c "$PROXY_RUNTIME_DIR/nginx.conf" -p "$PROXY_RUNTIME_DIR"
exec nginx -e stderr -c "$PROXY_RUNTIME_DIR/nginx.conf" -p "$PROXY_RUNTIME_DIR" -g 'daemon off;'
