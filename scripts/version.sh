#!/usr/bin/env bash
# scripts/version.sh — the version is written in one place: pg_upkeep.control
# (default_version).  Everything else takes it from there:
#   the library (Makefile/CMake pass it as UPKEEP_VERSION; 18 shows it in
#     pg_get_loaded_modules()), the install script extension/pg_upkeep--V.sql,
#   the upgrade scripts (every older install script has a path to V),
#   META.json (PGXN) and debian/changelog (the .deb's version).
#
# Usage: scripts/version.sh           check; prints the version, or what disagrees (exit 1)
#        scripts/version.sh --write   stamp META.json and debian/changelog with the control's version
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

V=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" pg_upkeep.control)
[ -n "$V" ] || { echo "pg_upkeep.control has no default_version" >&2; exit 1; }

meta_version() {
	python3 -c 'import json; m = json.load(open("META.json")); p = m["provides"]["pg_upkeep"]; print(m["version"], p["version"], p["file"])'
}
changelog_version() { sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog | sed 's/-[^-]*$//'; }

if [ "${1:-}" = --write ]; then
	python3 - "$V" <<'PY'
import json, sys
v = sys.argv[1]
with open("META.json") as f:
    m = json.load(f)
m["version"] = v
m["provides"]["pg_upkeep"]["version"] = v
m["provides"]["pg_upkeep"]["file"] = "extension/pg_upkeep--%s.sql" % v
with open("META.json", "w") as f:
    json.dump(m, f, indent=3, ensure_ascii=False)
    f.write("\n")
PY
	if [ "$(changelog_version)" != "$V" ]; then
		{
			echo "pg-upkeep ($V) unstable; urgency=medium"
			echo
			echo "  * pg_upkeep $V."
			echo
			echo " -- $(sed -n 's/^Maintainer: //p' debian/control.in)  $(date -R)"
			echo
			cat debian/changelog
		} >debian/changelog.new
		mv debian/changelog.new debian/changelog
	fi
fi

bad=0
complain() { echo "version: $*" >&2; bad=1; }
read -r mv pv pf < <(meta_version)
[ "$mv" = "$V" ] || complain "META.json version is $mv, pg_upkeep.control says $V (scripts/version.sh --write)"
[ "$pv" = "$V" ] || complain "META.json provides pg_upkeep $pv, pg_upkeep.control says $V (scripts/version.sh --write)"
[ "$pf" = "extension/pg_upkeep--$V.sql" ] || complain "META.json names $pf, not extension/pg_upkeep--$V.sql (scripts/version.sh --write)"
cv=$(changelog_version)
[ "$cv" = "$V" ] || complain "debian/changelog is at $cv, pg_upkeep.control says $V (scripts/version.sh --write)"
[ -f "extension/pg_upkeep--$V.sql" ] || complain "no install script extension/pg_upkeep--$V.sql"
# every older install script reaches V through upgrade scripts
for f in extension/pg_upkeep--*.sql; do
	from=${f#extension/pg_upkeep--}
	from=${from%.sql}
	case "$from" in *--*) continue ;; esac
	[ "$from" = "$V" ] && continue
	at=$from seen=" $from "
	while [ "$at" != "$V" ]; do
		next=$(ls extension/pg_upkeep--"$at"--*.sql 2>/dev/null | sed "s|extension/pg_upkeep--$at--||; s|\.sql$||" | sort -V | tail -n 1 || true)
		case "$seen" in *" $next "*) next= ;; esac
		[ -n "$next" ] || { complain "no upgrade path from $from to $V in extension/"; break; }
		at=$next seen="$seen$next "
	done
done
[ "$bad" -eq 0 ] || exit 1
echo "$V"
