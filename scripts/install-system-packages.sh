#!/usr/bin/env bash
# Install Debian packages that are not installed yet: scripts/install-system-packages.sh PKG...
#
# Idempotent and cheap when nothing is missing (dpkg -s only); `apt-get update` runs once, and
# only when something has to be installed. Needs root (or passwordless sudo) and apt-get.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 PACKAGE..." >&2
    exit 2
fi

missing=()
for package in "$@"; do
    # dpkg -s also knows removed-but-configured packages; only "install ok installed" counts.
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-packages: apt-get not found; please install: ${missing[*]}" >&2
    exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "install-system-packages: not root; please run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-system-packages: installing ${missing[*]}"

# Debian starts a package's service on install. A redis-server installed for `make run` must not
# start a system Redis on 6379 (the runner starts its own private one), so while we install,
# invoke-rc.d is told "no" through policy-rc.d, unless the machine already has one of its own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    created_policy=1
fi
cleanup() {
    if [ "$created_policy" -eq 1 ]; then
        "${as_root[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# A stale package list only matters if the install then fails, so a failed update is not fatal.
"${as_root[@]}" apt-get update -qq || echo "install-system-packages: apt-get update failed; trying anyway" >&2
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
