#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: no service on the machine is used
# or assumed.
#
#   scripts/postgres.sh start [--port N] DIR   prints the cluster's pgx URL
#   scripts/postgres.sh stop DIR               stops it and removes it; idempotent
#
# The cluster (data directory, Unix socket, server log) lives in a short
# directory of its own, /tmp/segl-pg.XXXXXXXXXX, mode 0700, and DIR records its
# path in DIR/postgres.rundir. It is not in DIR itself for two reasons: a socket
# path has at most 107 bytes, and t.TempDir() paths are longer than that for
# long test names; and when run as root the server runs as another user, who
# cannot enter DIR's parents (t.TempDir() makes them 0700 and root's). At stop
# the server log is kept as DIR/postgres.log.
#
# Without --port the server listens on the Unix socket only
# (listen_addresses = ''), and the socket trusts whoever reaches it: only the
# directory's owner and root can. With --port N it also listens on
# 127.0.0.1:N, where the superuser `segl` needs the password generated at start
# (scram-sha-256); the URL printed carries it.
#
# initdb and pg_ctl refuse to run as root. As root the cluster belongs to
# SEGL_PG_USER, by default `postgres`, which Debian's postgresql-common creates
# for its own clusters and which therefore exists wherever scripts/deps.sh has
# run; a user that does not exist is created (a system user without a home or a
# shell). `nobody` is not used: it must not own files.
#
# The binaries are those of SEGL_PG_BINDIR if set; else of `pg_config
# --bindir`; else of the newest /usr/lib/postgresql/*/bin, where Debian puts
# them; else of the initdb on PATH.
#
# Durability is off (fsync, full_page_writes, synchronous_commit): a crash
# loses a cluster that is thrown away anyway, and tests run faster.
set -euo pipefail

prog=scripts/postgres.sh
die() { echo "$prog: $*" >&2; exit 1; }
usage() { die "usage: $prog start [--port N] DIR | $prog stop DIR"; }

# The caller's PG* variables (PGHOST, PGPORT, PGOPTIONS, PGDATA...) would
# redirect psql and pg_ctl; this cluster is named in full instead.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)

rundir_re='^/tmp/segl-pg\.[A-Za-z0-9]{10}$'
superuser=segl
database=segl

is_root() { [ "$(id -u)" = 0 ]; }

# as USER CMD...: runs CMD as USER when this is root, else as ourselves.
as() {
	local user=$1
	shift
	if is_root; then
		runuser -u "$user" -- "$@"
	else
		"$@"
	fi
}

bindir() {
	local d
	if [ -n "${SEGL_PG_BINDIR:-}" ]; then
		[ -x "$SEGL_PG_BINDIR/initdb" ] || die "SEGL_PG_BINDIR=$SEGL_PG_BINDIR has no initdb"
		echo "$SEGL_PG_BINDIR"
		return
	fi
	if command -v pg_config >/dev/null && d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/initdb" ]; then
		echo "$d"
		return
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | while read -r b; do [ -x "$b/initdb" ] && echo "$b"; done | tail -n1)
	if [ -n "$d" ]; then
		echo "$d"
		return
	fi
	if d=$(command -v initdb); then
		dirname "$d"
		return
	fi
	die "no PostgreSQL server (initdb) found: run scripts/deps.sh, or set SEGL_PG_BINDIR to the directory of initdb, pg_ctl and postgres"
}

# pguser: the user the server runs as; created if it does not exist.
pguser() {
	if ! is_root; then
		id -un
		return
	fi
	local user=${SEGL_PG_USER:-postgres}
	if ! id -u "$user" >/dev/null 2>&1; then
		# Another test package may be creating it at the same time.
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$user" 2>/dev/null || id -u "$user" >/dev/null 2>&1 ||
			die "cannot create the user $user to run PostgreSQL as (initdb refuses root): create it, or set SEGL_PG_USER to an existing unprivileged user"
	fi
	[ "$(id -u "$user")" != 0 ] || die "SEGL_PG_USER=$user is root; initdb refuses root: name an unprivileged user"
	echo "$user"
}

logtail() {
	local f=$1
	[ -s "$f" ] || return 0
	echo "$prog: last lines of $f:" >&2
	tail -n 30 "$f" | sed 's/^/    /' >&2
}

start() {
	local port=5432 tcp=
	while (($#)); do
		case $1 in
		--port)
			[ $# -ge 2 ] || usage
			[[ $2 =~ ^[0-9]+$ ]] && ((10#$2 > 0 && 10#$2 < 65536)) || die "--port $2: want a TCP port, 1 to 65535"
			port=$2 tcp=1
			shift 2
			;;
		-*) usage ;;
		*) break ;;
		esac
	done
	[ $# -eq 1 ] || usage
	local dir=$1 user
	bin=$(bindir) # global: start_failed uses it
	user=$(pguser)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ ! -e "$dir/postgres.rundir" ] || die "$dir already has a cluster ($(cat "$dir/postgres.rundir")): run $prog stop $dir first"

	rundir=$(mktemp -d /tmp/segl-pg.XXXXXXXXXX) || die "cannot make a directory under /tmp"
	chmod 0700 "$rundir"
	# From here on a failure removes what was made.
	trap 'start_failed' EXIT
	if is_root; then
		chown "$user:" "$rundir" || die "cannot give $rundir to $user"
	fi
	cd "$rundir" # initdb and the server need a working directory they can enter

	local password
	password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	(umask 077 && printf '%s\n' "$password" >"$rundir/password")
	if is_root; then
		chown "$user:" "$rundir/password"
	fi

	if ! as "$user" "$bin/initdb" -D "$rundir/data" -U "$superuser" --pwfile="$rundir/password" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync \
		>"$rundir/initdb.log" 2>&1; then
		logtail "$rundir/initdb.log"
		die "initdb failed (as $user, in $rundir/data)"
	fi

	local listen="''"
	[ -z "$tcp" ] || listen="'127.0.0.1'"
	cat >>"$rundir/data/postgresql.conf" <<-EOF

		# scripts/postgres.sh: a throwaway cluster for tests.
		listen_addresses = $listen
		port = $port
		unix_socket_directories = '$rundir'
		fsync = off
		full_page_writes = off
		synchronous_commit = off
		timezone = 'UTC'
	EOF

	if ! as "$user" "$bin/pg_ctl" -D "$rundir/data" -l "$rundir/log" -w -t 60 start >/dev/null 2>&1; then
		logtail "$rundir/log"
		[ -z "$tcp" ] || echo "$prog: is port $port already in use?" >&2
		die "the server did not start (pg_ctl start, as $user, in $rundir/data)"
	fi
	if ! "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$rundir" -p "$port" -U "$superuser" -d postgres \
		-c "CREATE DATABASE $database" >"$rundir/psql.log" 2>&1; then
		logtail "$rundir/psql.log"
		logtail "$rundir/log"
		die "cannot create the database $database"
	fi

	echo "$rundir" >"$dir/postgres.rundir"
	trap - EXIT
	if [ -n "$tcp" ]; then
		echo "postgres://$superuser:$password@127.0.0.1:$port/$database?sslmode=disable"
	else
		echo "postgres://$superuser@/$database?host=$rundir&port=$port&sslmode=disable"
	fi
}

# start_failed: the EXIT trap of a failed start; stops the server if it runs
# and removes the run directory.
start_failed() {
	cd /
	if [ -f "$rundir/data/postmaster.pid" ]; then
		as "$(stat -c %U "$rundir")" "$bin/pg_ctl" -D "$rundir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$rundir"
}

stop() {
	[ $# -eq 1 ] || usage
	local dir=$1
	[ -f "$dir/postgres.rundir" ] || return 0 # never started, or stopped already
	local rundir
	read -r rundir <"$dir/postgres.rundir" || true
	[[ $rundir =~ $rundir_re ]] || die "$dir/postgres.rundir names '$rundir', not a directory this script makes; remove it by hand"
	if [ -d "$rundir" ]; then
		local bin owner st=0
		bin=$(bindir)
		owner=$(stat -c %U "$rundir")
		cd "$rundir"
		as "$owner" "$bin/pg_ctl" -D "$rundir/data" status >/dev/null 2>&1 || st=$?
		if [ "$st" = 0 ] && ! as "$owner" "$bin/pg_ctl" -D "$rundir/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
			logtail "$rundir/log"
			die "the server in $rundir/data did not stop (pg_ctl stop -m fast, as $owner): stop it (pg_ctl -D $rundir/data -m immediate stop), then run $prog stop $dir again"
		fi
		cd /
		[ ! -f "$rundir/log" ] || cp "$rundir/log" "$dir/postgres.log" 2>/dev/null || true
		rm -rf "$rundir"
	fi
	rm -f "$dir/postgres.rundir"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) start "$@" ;;
stop) stop "$@" ;;
*) usage ;;
esac
