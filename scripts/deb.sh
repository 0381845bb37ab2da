#!/usr/bin/env bash
# scripts/deb.sh — the Debian package, built the way Debian builds PostgreSQL
# extensions: debian/ with pg_buildext (postgresql-server-dev-all) and
# dpkg-buildpackage, giving postgresql-NN-upkeep_<version>_<arch>.deb.
#
# Usage: scripts/deb.sh [--pg 15|17|18] [build|test] [--out DIR]
#   build (default)  build the package into DIR (default: dist/ in the checkout)
#   test             build it, then test/deb/install.sh: apt installs it on a
#                    fresh cluster, CREATE EXTENSION, the demo and the regress
#                    suite run against it, and it is removed cleanly
# --pg 15 (default) builds on the host for its PostgreSQL 15; --pg 17 and 18
# build and test inside the Debian roots of scripts/lib/pgroot.sh (trixie,
# sid), as scripts/test.sh --pg does: nothing of those releases touches the host.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi

PG_MAJOR=15
ACTION=build
OUT=$ROOT/dist
while [ $# -gt 0 ]; do
	case "$1" in
	--pg) PG_MAJOR=${2:-}; shift 2 || exit 2 ;;
	--pg=*) PG_MAJOR=${1#--pg=}; shift ;;
	--out) OUT=${2:-}; shift 2 || exit 2 ;;
	build | test) ACTION=$1; shift ;;
	*) echo "usage: scripts/deb.sh [--pg 15|17|18] [build|test] [--out DIR]" >&2; exit 2 ;;
	esac
done
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)

# the checkout's sources, as scripts/lib/pgroot.sh copies them, and never the packages made before (dist/)
DEB_EXCLUDE=(--exclude=./dist)
tree_to() { pgroot_copy_tree "$ROOT" "$1" "${DEB_EXCLUDE[@]}"; } # copy the checkout (sources only) into DIR

. "$ROOT/scripts/lib/pgroot.sh"
pgroot_suite "$PG_MAJOR" >/dev/null || { echo "PostgreSQL $PG_MAJOR: not supported (15, 17, 18)" >&2; exit 2; }

if [ -n "$(pgroot_suite "$PG_MAJOR")" ] && [ -z "${UPKEEP_IN_PGROOT:-}" ]; then
	echo "== PostgreSQL $PG_MAJOR in the $(pgroot_suite "$PG_MAJOR") root"
	pgroot_lock "$PG_MAJOR" # one run per root: they share its packages and installed extension
	PGROOT=$(pgroot_ensure "$PG_MAJOR") || exit 1
	pgroot_stage "$PGROOT" "$ROOT" "${DEB_EXCLUDE[@]}" || exit 1
	SRC=$PGROOT_SRC
	mkdir "$SRC/dist"
	pgroot_exec "$PG_MAJOR" env UPKEEP_IN_PGROOT="$PG_MAJOR" "/${SRC#"$PGROOT"/}/scripts/deb.sh" --pg "$PG_MAJOR" \
		"$ACTION" --out "/${SRC#"$PGROOT"/}/dist"
	rc=$?
	cp "$SRC"/dist/*.deb "$OUT"/ 2>/dev/null && ls "$OUT"/postgresql-"$PG_MAJOR"-upkeep_*.deb
	exit $rc
fi

# the system's server of that major: the one the package is built for and installs into
export PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
. "$ROOT/scripts/lib/cluster.sh"
[ -n "${UPKEEP_IN_PGROOT:-}" ] ||
	ensure_packages build-essential dpkg-dev debhelper postgresql-server-dev-all "postgresql-server-dev-$PG_MAJOR" \
		libxxhash-dev python3 || exit 1

V=$("$ROOT/scripts/version.sh") || exit 1
echo "== building postgresql-$PG_MAJOR-upkeep $V (dpkg-buildpackage, pg_buildext)"
WORK=$(mktemp -d /tmp/upkeep-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/pg-upkeep-$V"
tree_to "$WORK/pg-upkeep-$V" || exit 1
# Only this major (a release may list several as supported); debian/control is
# regenerated from control.in for it, as pg_buildext does for backports.
(cd "$WORK/pg-upkeep-$V" && PG_SUPPORTED_VERSIONS=$PG_MAJOR PG_UPDATECONTROL=yes \
	dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1) ||
	{ tail -n 60 "$WORK/build.log"; echo "dpkg-buildpackage failed"; exit 1; }
grep -E "warning:" "$WORK/build.log" | grep -v "^dpkg-" | head -20
DEB=$(ls "$WORK"/postgresql-"$PG_MAJOR"-upkeep_"$V"_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || { echo "no postgresql-$PG_MAJOR-upkeep package was built"; ls "$WORK"; exit 1; }
cp "$DEB" "$OUT/"
DEB="$OUT/$(basename "$DEB")"
echo "== built $DEB"
dpkg-deb -c "$DEB" | awk '{ print "   " $6 }'

[ "$ACTION" = test ] || exit 0
echo "== package test (test/deb/install.sh)"
UPKEEP_DEB="$DEB" bash "$ROOT/test/deb/install.sh"
