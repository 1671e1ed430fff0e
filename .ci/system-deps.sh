#!/usr/bin/env bash
# System packages the integration tests need (nginx for the auth proxy, Chromium for the
# browser check, PostgreSQL 15 server binaries for the real Dagster storage). Idempotent:
# installs only what is missing, so re-running on a prepared machine does no network work.
set -euo pipefail

packages=(nginx chromium postgresql-15 ca-certificates procps)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    echo "system-deps: all present (${packages[*]})"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=sudo
else
    # Stop before any test runs: without these the integration tests fail after the rest ran.
    echo "system-deps: missing ${missing[*]}; install them once as root, then re-run:" >&2
    echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# nginx/postgresql packages try to start their services on install; nothing here should run them.
$SUDO mkdir -p /usr/sbin
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc" >/dev/null
    $SUDO chmod +x "$policy_rc"
    created_policy=1
fi
trap '[[ $created_policy == 1 ]] && $SUDO rm -f "$policy_rc"' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
