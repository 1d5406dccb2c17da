#!/bin/sh
# Installs the Debian packages ferry needs to build, test and benchmark.
# Safe to run repeatedly; skips apt-get entirely when everything is present.
set -eu

PKGS="build-essential cmake pkg-config git
libmicrohttpd-dev libcurl4-openssl-dev libpq-dev libsqlite3-dev sqlite3
libjansson-dev libyajl-dev libssl-dev zlib1g-dev libcmocka-dev
postgresql postgresql-client pgbouncer curl procps
clang-format clang-tidy valgrind time python3 python3-requests util-linux
bsdutils gzip
jq openssl dpkg-dev systemd
chromium chromium-driver
clang"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing$missing" >&2
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
