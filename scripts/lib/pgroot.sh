# scripts/lib/pgroot.sh — PostgreSQL servers newer than the host's, from Debian's
# own packages, in a root filesystem used through chroot.
#
# The host runs Debian 12 and its PostgreSQL 15.  PostgreSQL 17 comes from the
# next stable release (trixie) and 18 from unstable (sid), as Debian's binary
# packages (server, dev headers, pgTAP, pg_cron) installed into a root made
# with debootstrap -- the way Debian and the PostgreSQL packagers test
# extensions across releases.  Nothing of another release is installed on the
# host.
#
# Source it, then:
#   pgroot_suite MAJOR            Debian suite that ships postgresql-MAJOR ("" = the host)
#   pgroot_ensure MAJOR           make the root if missing, add missing packages; prints its path
#   pgroot_exec MAJOR cmd...      run cmd (as root, clean environment: pass variables with
#                                 `env VAR=value cmd`) inside the root, with /proc, /dev and
#                                 /dev/shm mounted for the duration and unmounted on every exit
#   pgroot_lock MAJOR             take the root's lock for this shell (one run per root at a time;
#                                 take it before pgroot_ensure, which may add packages)
#   pgroot_stage ROOTDIR FROM [tar options...]
#                                 copy the checkout FROM into a fresh directory under ROOTDIR/build,
#                                 named in PGROOT_SRC and removed when the shell exits
#   pgroot_copy_tree FROM TO [tar options...]
#                                 copy the checkout's sources (no .git, build output or test results)
#
# Roots live outside the checkout, in $UPKEEP_ROOTS (default
# /var/cache/pg-upkeep-roots/<suite>), and are reused.  A root is made in a
# temporary directory next to it and renamed when complete, so an interrupted
# build leaves no half-made root behind.  The mirror is the host's own (read
# from its apt configuration at run time); no host name is written anywhere.
#
# Mounts are made inside a private mount namespace (unshare -m): they are
# invisible to the host, are unmounted explicitly when the command ends, and
# vanish with the namespace even if this shell is killed outright.

UPKEEP_ROOTS=${UPKEEP_ROOTS:-/var/cache/pg-upkeep-roots}

# MAJOR -> Debian suite.  15 is the host's own release.
pgroot_suite() {
	case "$1" in
	15) echo "" ;;
	17) echo trixie ;;
	18) echo sid ;;
	*) return 1 ;;
	esac
}

# Packages every root carries: the server and its dev headers, the extensions
# the suites use, the build and test tools, and what Debian's own extension
# packaging needs (pg_buildext from postgresql-server-dev-all, debhelper).
pgroot_packages() {
	local v=$1
	echo "postgresql-$v postgresql-server-dev-$v postgresql-$v-cron postgresql-$v-pgtap" \
		"libtap-parser-sourcehandler-pgtap-perl g++ make cmake libgtest-dev libxxhash-dev python3 procps" \
		"build-essential postgresql-server-dev-all debhelper dpkg-dev fakeroot"
}

# The host's Debian mirror: the first URI of the deb822 stanza (or sources.list
# line) that serves the host's own release.
pgroot_mirror() {
	local codename f
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$codename" '
			function flush() { if (uri != "" && deb && suite_ok && !done) { print uri; done = 1 } uri = ""; deb = 0; suite_ok = 0 }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == want) suite_ok = 1 }
			END { flush() }' "$f"
	done | head -n 1 | grep . && return 0
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v want="$codename" '$1 == "deb" { u = $2; s = $3; if ($2 ~ /^\[/) { for (i = 2; i <= NF && $i !~ /\]$/; i++); u = $(i + 1); s = $(i + 2) } if (s == want) { print u; exit } }' "$f"
	done | head -n 1 | grep .
}

pgroot_dir() { echo "$UPKEEP_ROOTS/$(pgroot_suite "$1")"; }

# _pgroot_ns ROOT cmd...: run cmd chrooted into ROOT inside a private mount namespace.
_pgroot_ns() {
	local root=$1; shift
	unshare --mount --propagation private -- /bin/bash -c '
		root=$1; shift
		done_mounts=()
		undo() { local i; for ((i = ${#done_mounts[@]} - 1; i >= 0; i--)); do umount -l "${done_mounts[$i]}" 2>/dev/null; done; }
		trap undo EXIT
		trap "exit 130" INT TERM HUP
		mount -t proc proc "$root/proc" && done_mounts+=("$root/proc") || exit 1
		mount --rbind /dev "$root/dev" && done_mounts+=("$root/dev") || exit 1
		mount -t tmpfs -o mode=1777 shm "$root/dev/shm" && done_mounts+=("$root/dev/shm") || exit 1
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
	' pgroot "$root" "$@"
}

pgroot_lock() {
	mkdir -p "$UPKEEP_ROOTS"
	exec {PGROOT_LOCK_FD}>"$UPKEEP_ROOTS/$(pgroot_suite "$1").lock"
	flock "$PGROOT_LOCK_FD"
}

# pgroot_exec MAJOR cmd...
pgroot_exec() {
	local v=$1; shift
	_pgroot_ns "$(pgroot_dir "$v")" "$@"
}

# pgroot_copy_tree FROM TO [tar options...]: the sources of the checkout FROM
# copied into the directory TO, without .git, build output (objects, shared
# libraries, bitcode, build/) or test results; further options (--exclude=...)
# are the caller's own.
pgroot_copy_tree() {
	local from=$1 to=$2
	shift 2
	tar -C "$from" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=./build \
		--exclude=./results --exclude=./tmp_check --exclude=./log --exclude=regression.diffs \
		--exclude=regression.out "$@" -cf - . | tar -C "$to" -xf -
}

# pgroot_stage ROOTDIR FROM [tar options...]: a copy of the checkout FROM
# (pgroot_copy_tree, with the options given) in a fresh directory under
# ROOTDIR/build, whose path it sets in PGROOT_SRC (inside the root:
# /${PGROOT_SRC#"$ROOTDIR"/}).  Not in a subshell: it sets this shell's EXIT
# trap to remove that directory, and its INT, TERM and HUP traps to exit.
pgroot_stage() {
	local rootdir=$1 from=$2
	shift 2
	mkdir -p "$rootdir/build"
	PGROOT_SRC=$(mktemp -d "$rootdir/build/upkeep-src.XXXXXX") && chmod 755 "$PGROOT_SRC" || return 1
	trap 'rm -rf --one-file-system "$PGROOT_SRC"' EXIT
	trap 'exit 130' INT TERM HUP
	pgroot_copy_tree "$from" "$PGROOT_SRC" "$@"
}

# pgroot_ensure MAJOR: the root's path on stdout; progress on stderr.
pgroot_ensure() {
	local v=$1 suite root mirror tmp pkgs installed missing p t0=$SECONDS
	suite=$(pgroot_suite "$v") && [ -n "$suite" ] || { echo "no root for PostgreSQL $v" >&2; return 1; }
	root="$UPKEEP_ROOTS/$suite"
	pkgs=$(pgroot_packages "$v")
	mkdir -p "$UPKEEP_ROOTS"
	if [ ! -x "$root/usr/bin/apt-get" ]; then
		command -v debootstrap >/dev/null || {
			echo "installing debootstrap" >&2
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null || return 1
		}
		mirror=$(pgroot_mirror) || { echo "no Debian mirror found in the apt configuration" >&2; return 1; }
		tmp=$(mktemp -d "$UPKEEP_ROOTS/.$suite.XXXXXX") && chmod 755 "$tmp" || return 1
		# shellcheck disable=SC2064  # expand $tmp now
		trap "rm -rf --one-file-system '$tmp'" EXIT
		trap 'exit 130' INT TERM HUP
		echo "== making a $suite root for PostgreSQL $v (debootstrap, $mirror)" >&2
		# A throwaway test root: dpkg need not fsync every file (most of the
		# time of a root goes there), and needs no manuals or translations.
		mkdir -p "$tmp/etc/dpkg/dpkg.cfg.d"
		printf '%s\n' force-unsafe-io 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
			'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/locale/*' \
			>"$tmp/etc/dpkg/dpkg.cfg.d/90pg-upkeep"
		# debootstrap mounts /proc and /sys in the target while it works: a
		# private namespace makes sure none of that outlives an interruption.
		unshare --mount --propagation private -- \
			debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1 ||
			{ tail -n 20 "$tmp.log" >&2; rm -f "$tmp.log"; return 1; }
		rm -f "$tmp.log"
		echo "   debootstrap: $((SECONDS - t0)) s" >&2
		cat >"$tmp/etc/apt/sources.list.d/debian.sources" <<-EOF
			Types: deb
			URIs: $mirror
			Suites: $suite
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
		: >"$tmp/etc/apt/sources.list"
		# unstable's Release file on a frozen mirror is past its Valid-Until date.
		echo 'Acquire::Check-Valid-Until "false";' >"$tmp/etc/apt/apt.conf.d/90pg-upkeep"
		echo 'APT::Install-Recommends "false";' >>"$tmp/etc/apt/apt.conf.d/90pg-upkeep"
		# No services start in the root, and no "main" cluster is made: tests make their own.
		printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
		chmod 755 "$tmp/usr/sbin/policy-rc.d"
		mkdir -p "$tmp/etc/postgresql-common/createcluster.d"
		echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.d/50-pg-upkeep.conf"
		_pgroot_ns "$tmp" apt-get update -qq >&2 || return 1
		# shellcheck disable=SC2086
		_pgroot_ns "$tmp" apt-get install -y -qq $pkgs >"$tmp/tmp/apt.log" 2>&1 ||
			{ tail -n 30 "$tmp/tmp/apt.log" >&2; return 1; }
		_pgroot_ns "$tmp" apt-get clean
		rm -f "$tmp/tmp/apt.log"
		mv -T "$tmp" "$root" || return 1
		trap - EXIT INT TERM HUP
		echo "== root ready in $((SECONDS - t0)) s: $root" >&2
	else
		# an existing root: add what a newer checkout needs
		# shellcheck disable=SC2086
		installed=" $(_pgroot_ns "$root" dpkg-query -W -f='${db:Status-Status} ${Package}\n' $pkgs 2>/dev/null |
			awk '$1 == "installed" { printf "%s ", $2 }')"
		missing=
		for p in $pkgs; do
			case "$installed" in *" $p "*) ;; *) missing="$missing $p" ;; esac
		done
		if [ -n "${missing// /}" ]; then
			echo "== adding to the $suite root:$missing" >&2
			# shellcheck disable=SC2086
			{ _pgroot_ns "$root" apt-get update -qq && _pgroot_ns "$root" apt-get install -y -qq $missing; } \
				>"$root/tmp/apt.log" 2>&1 || { tail -n 30 "$root/tmp/apt.log" >&2; return 1; }
			rm -f "$root/tmp/apt.log"
		fi
	fi
	echo "$root"
}
