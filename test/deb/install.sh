#!/usr/bin/env bash
# Package test: the built postgresql-NN-upkeep .deb ($UPKEEP_DEB)
#  - installs with apt (dependencies from the release's own packages),
#  - puts the library and the extension files where that server looks,
#  - on a fresh cluster: CREATE EXTENSION gives the package's version, the
#    preloaded worker's launcher runs, the demo and the regress suite pass
#    against the installed files (nothing built from the checkout),
#  - is removed cleanly: apt remove --purge leaves none of its files, and a
#    new CREATE EXTENSION then fails.
# Run by scripts/deb.sh test (on the host for 15, inside the root for 17/18).
# A pg_upkeep installed by `make install` beforehand is set aside and put back.
. "$(dirname "$0")/../cluster/lib.sh"

DEB=${UPKEEP_DEB:?set UPKEEP_DEB to the .deb to test}
case "$DEB" in /*) ;; *) DEB=$PWD/$DEB ;; esac
PKG=$(dpkg-deb -f "$DEB" Package)
VER=$(dpkg-deb -f "$DEB" Version)
MAJOR=${PKG#postgresql-}
MAJOR=${MAJOR%-upkeep}
# the system's server of that major: the one the package installs into
PGBIN=/usr/lib/postgresql/$MAJOR/bin
PG_CONFIG=$PGBIN/pg_config
export PGBIN PG_CONFIG
LIBDIR=$("$PG_CONFIG" --pkglibdir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
echo "# $PKG $VER for $("$PG_CONFIG" --version)"

# ---- a make-installed pg_upkeep (files no package owns) is set aside, and put back at exit
STASH="$T_WORK/stash"
mkdir -p "$STASH"
for f in "$LIBDIR"/pg_upkeep.so "$EXTDIR"/pg_upkeep.control "$EXTDIR"/pg_upkeep--*.sql; do
	[ -e "$f" ] || continue
	dpkg -S "$f" >/dev/null 2>&1 && continue
	mkdir -p "$STASH$(dirname "$f")" && mv "$f" "$STASH$f"
done
restore() {
	(cd "$STASH" && find . -type f) | while read -r f; do
		f=${f#.}
		[ -e "$f" ] || mv "$STASH$f" "$f"
	done
}
trap 'restore; t_cleanup' EXIT

apt_get() { # apt-get ARGS...: quiet, its output kept in the work dir and shown on failure
	env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" >>"$T_WORK/apt.log" 2>&1 || { tail -n 20 "$T_WORK/apt.log"; return 1; }
}

[ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" = installed ] &&
	{ echo "# $PKG was installed before the test: removing it first"; apt_get remove --purge "$PKG"; }

# ---- install
check "apt installs $(basename "$DEB")" apt_get install "$DEB"
is "$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$PKG")" "installed $VER" "dpkg lists $PKG $VER as installed"
FILES=$(dpkg -L "$PKG" | while read -r f; do [ -f "$f" ] && echo "$f"; done)
check "the library is in the server's pkglibdir" test -f "$LIBDIR/pg_upkeep.so"
check "the control file and the install script are in its extension dir" \
	test -f "$EXTDIR/pg_upkeep.control" -a -f "$EXTDIR/pg_upkeep--$VER.sql"
check "every upgrade script ships" bash -c "cd '$(dirname "$0")/../../extension' && for f in pg_upkeep--*--*.sql; do test -f '$EXTDIR'/\$f || exit 1; done"

# ---- a fresh cluster, pg_upkeep preloaded from the package
new_cluster main "shared_preload_libraries = 'pg_upkeep'" "max_worker_processes = 16"
is "$(sql "CREATE EXTENSION pg_upkeep; SELECT extversion FROM pg_extension WHERE extname = 'pg_upkeep'")" "$VER" \
	"CREATE EXTENSION pg_upkeep installs version $VER"
check "the worker's launcher runs" wait_until 15 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep launcher'"
is "$(sql "SELECT count(*) FROM pg_proc WHERE pronamespace = 'upkeep'::regnamespace")" \
	"$(sql "SELECT count(*) FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_upkeep') AND d.deptype = 'e'")" \
	"every function of the schema belongs to the extension"
if [ "$(sql "SHOW server_version_num")" -ge 180000 ]; then
	is "$(sql "SELECT version FROM pg_get_loaded_modules() WHERE file_name = 'pg_upkeep.so'")" "$VER" \
		"18: pg_get_loaded_modules() shows the library's version"
fi

# ---- the demo and the regress suite, against the installed files
if PGBIN=$PGBIN bash "$UPKEEP_ROOT/scripts/demo.sh" --installed >"$T_WORK/demo.log" 2>&1; then
	ok "the demo runs against the package"
else
	not_ok "the demo runs against the package"
	tail -n 30 "$T_WORK/demo.log"
fi
out=$(PGBIN=$PGBIN bash "$UPKEEP_ROOT/scripts/test.sh" --installed regress 2>&1)
if echo "$out" | grep -qE "^[0-9]+ passed, 0 failed$"; then
	ok "the regress suite passes against the package ($(echo "$out" | tail -n 1))"
else
	not_ok "the regress suite passes against the package"
	echo "$out" | tail -n 60
fi

# ---- removed cleanly
check "apt removes $PKG" apt_get remove --purge "$PKG"
is "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep . || echo not-installed)" "not-installed" \
	"dpkg no longer lists $PKG"
left=$(for f in $FILES; do [ -e "$f" ] && echo "$f"; done)
is "$left" "" "none of the package's $(echo "$FILES" | wc -l) files is left"
sql "CREATE DATABASE after_removal" >/dev/null
is "$(sql_state -d after_removal "CREATE EXTENSION pg_upkeep")" "0A000" "CREATE EXTENSION pg_upkeep fails once it is removed"
finish
