#!/bin/sh
# Builds ferry_<version>_<arch>.deb: ferry and ferryd from a release build,
# the systemd units, the docs and sample settings (docs/install.md).
#   sh scripts/package-deb.sh [BUILD_DIR [OUT_DIR]]
# BUILD_DIR (default build-deb) gets a CMake Release build; the .deb goes
# to OUT_DIR (default dist) and its path is the last line printed.
# Depends: from dpkg-shlibdeps (package dpkg-dev), or, without it (or with
# FERRY_DEB_LDD=1), from objdump, ldd and dpkg -S: the packages owning the
# shared libraries the programs need, each at its installed upstream
# version or newer (stricter than dpkg-shlibdeps: fine on the release it
# was built on).
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=${1:-build-deb}
OUT=${2:-dist}
JOBS=${JOBS:-2}

die() {
    echo "package-deb: $*" >&2
    exit 1
}
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed (Debian package dpkg)"

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFERRY_UNIT_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target ferry-agent ferryd >/dev/null
VERSION=$(sed -n 's/^project(ferry VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$VERSION" ] || die "no version in CMakeLists.txt"
ARCH=$(dpkg --print-architecture)

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ferry-deb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
install -d -m 755 "$R/DEBIAN" "$R/usr/bin" "$R/lib/systemd/system" \
    "$R/etc/ferry" "$R/usr/share/doc/ferry"
install -m 755 -s "$BUILD/agent/ferry" "$BUILD/server/ferryd" "$R/usr/bin/"
install -m 644 packaging/systemd/ferryd.service packaging/systemd/ferry-sync.service \
    packaging/systemd/ferry-sync.timer "$R/lib/systemd/system/"
install -m 644 packaging/ferryd.json.sample packaging/config.json.sample "$R/etc/ferry/"
# The docs as they are in the tree, their relative links intact.
(cd docs && find . -name '*.md' -o -name '*.service' -o -name '*.timer') |
    while read -r f; do
        install -D -m 644 "docs/$f" "$R/usr/share/doc/ferry/$f"
    done
install -m 644 README.md "$R/usr/share/doc/ferry/README.md"
printf 'ferry (%s)\n\nSee /usr/share/doc/ferry/README.md; licence: MIT (SPDX headers in the sources).\n' \
    "$VERSION" >"$R/usr/share/doc/ferry/copyright"
install -m 755 packaging/debian/postinst packaging/debian/prerm \
    packaging/debian/postrm "$R/DEBIAN/"
printf '/etc/ferry/ferryd.json.sample\n/etc/ferry/config.json.sample\n' >"$R/DEBIAN/conffiles"

depends_shlibdeps() {
    command -v dpkg-shlibdeps >/dev/null || return 1
    _d=$STAGE/shlib
    mkdir -p "$_d/debian"
    printf 'Source: ferry\n\nPackage: ferry\nArchitecture: any\n' >"$_d/debian/control"
    (cd "$_d" && dpkg-shlibdeps -O "$R/usr/bin/ferry" "$R/usr/bin/ferryd" 2>/dev/null) |
        sed -n 's/^shlibs:Depends=//p'
}

# Only the libraries the programs name themselves (NEEDED), not what those
# load in turn: their own packages depend on that.
depends_ldd() {
    for _bin in "$R/usr/bin/ferry" "$R/usr/bin/ferryd"; do
        ldd "$_bin" >"$STAGE/ldd"
        objdump -p "$_bin" | awk '/NEEDED/{print $2}' | while read -r _so; do
            awk -v so="$_so" '$1 == so && $3 ~ /^\// {print $3}' "$STAGE/ldd"
        done
    done | sort -u | while read -r _lib; do
        dpkg -S "$_lib" 2>/dev/null || dpkg -S "$(readlink -f "$_lib")" 2>/dev/null ||
            die "no package owns $_lib"
    done | cut -d: -f1 | sort -u | while read -r _pkg; do
        printf '%s (>= %s)\n' "$_pkg" "$(dpkg-query -W -f '${Version}' "$_pkg" | sed 's/-[^-]*$//')"
    done | paste -sd, - | sed 's/,/, /g'
}

DEPENDS=
[ -n "${FERRY_DEB_LDD:-}" ] || DEPENDS=$(depends_shlibdeps || true)
[ -n "$DEPENDS" ] || DEPENDS=$(depends_ldd)
[ -n "$DEPENDS" ] || die "could not compute Depends"
SIZE=$(du -sk --exclude=DEBIAN "$R" | cut -f1)
cat >"$R/DEBIAN/control" <<CONTROL
Package: ferry
Version: $VERSION
Architecture: $ARCH
Maintainer: ferry developers <ferry@localhost>
Installed-Size: $SIZE
Depends: $DEPENDS, passwd
Section: net
Priority: optional
Homepage: file:///usr/share/doc/ferry/README.md
Description: edge-to-server sync of SQLite app databases
 ferry (the agent) captures changes in an app's SQLite database and syncs
 them with ferryd (the ingestion server), which stores them in SQLite or
 PostgreSQL. Includes systemd units for ferryd and a sync timer.
CONTROL
DEB=$OUT/ferry_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group --build "$R" "$DEB" >/dev/null
echo "$DEB"
