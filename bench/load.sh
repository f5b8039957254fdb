#!/usr/bin/env bash
# The load harness of issue 14 (bench/load) against real segld processes on
# this machine: SQLite with one daemon, then PostgreSQL with one and with
# three daemons on one database, each flow at each concurrency, every line
# printed and appended to the raw file. Everything it starts it stops (trap).
#
#   bench/load.sh                      every store, flow and concurrency
#   STORES=sqlite FLOWS=loop CONC=16 bench/load.sh
#   bench/load.sh --summarize FILE     the Markdown table of a raw file again
#
# Settings (environment):
#   STORES    sqlite pg1 pg3                      which setups
#   FLOWS     auth-otp sign-codecard app loop     which flows
#   CONC      1 16 64                             concurrencies
#   DURATION  12s   WARMUP 3s   BOUND 5s          each run's windows
#   RSS_ORDERS 100000                             the RSS run: loop orders at
#             concurrency 64 on a fresh SQLite daemon, RSS at 1,000 and at
#             this many (0: no RSS run)
#   OUT       bench/raw/load-YYYY-MM-DD.txt       the raw file (appended to)
#   PORT      18443   the first daemon's API port; daemon i uses PORT+10i,
#             its ops listener +1 and its app listener +2
#   NO_BUILD=1        do not run make build first
#   KEEP=1            keep the work directory (logs, databases)
#
# The setups are segld dev's, made fresh in a work directory, with one
# change to the config it writes: orders.challenges-per-hour is raised from
# 20 to 1000 (its maximum), because the harness's few users each take far
# more than 20 code-card challenges in a run; it is a rate limit per user,
# not a cost. The PostgreSQL cluster is scripts/postgres.sh's throwaway one,
# made durable again (fsync, synchronous_commit and full_page_writes on, by
# ALTER SYSTEM) so that its commits cost what SQLite's do (synchronous=FULL).
set -euo pipefail
cd "$(dirname "$0")/.."

summarize() {
	awk '
	/^flow=/ {
		delete kv
		for (i = 1; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
		vs = ("vs_bound" in kv) ? kv["vs_bound"] : ""
		bound = ("bound" in kv) ? kv["bound"] " " kv["bound_orders_per_s"] : ""
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", kv["store"], kv["daemons"], kv["flow"], kv["concurrency"],
			kv["orders_per_s"], kv["p50_ms"], kv["p99_ms"], bound, vs, kv["errors"]
	}
	BEGIN {
		print "| store | daemons | flow | concurrency | orders/s | p50 ms | p99 ms | bound, orders/s | vs bound | errors |"
		print "|---|---:|---|---:|---:|---:|---:|---|---:|---:|"
	}' "$1"
	grep -h '^rss=' "$1" || true
}

if [ "${1:-}" = --summarize ]; then
	[ $# -eq 2 ] || { echo "usage: bench/load.sh --summarize FILE" >&2; exit 2; }
	summarize "$2"
	exit 0
fi

STORES=${STORES:-sqlite pg1 pg3}
FLOWS=${FLOWS:-auth-otp sign-codecard app loop}
CONC=${CONC:-1 16 64}
DURATION=${DURATION:-12s}
WARMUP=${WARMUP:-3s}
BOUND=${BOUND:-5s}
RSS_ORDERS=${RSS_ORDERS:-100000}
OUT=${OUT:-bench/raw/load-$(date -u +%F).txt}
PORT=${PORT:-18443}

export CGO_ENABLED=1
if [ -z "${NO_BUILD:-}" ]; then
	make build >&2
fi
work=$(mktemp -d /var/tmp/segl-load.XXXXXXXX)
go build -o "$work/load" ./bench/load

pids=()
pgdir=
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$pgdir" ]; then
		scripts/postgres.sh stop "$pgdir" || true
	fi
	if [ -n "${KEEP:-}" ]; then
		echo "bench/load.sh: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$(dirname "$OUT")"
say() { echo "$*" | tee -a "$OUT"; }

# wait_ready OPS_PORT PID: until /readyz answers, or the process died.
wait_ready() {
	local i
	for i in $(seq 1 600); do
		if curl -sf "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || { echo "bench/load.sh: segld (pid $2) died; its log:" >&2; return 1; }
		sleep 0.1
	done
	echo "bench/load.sh: segld on port $1 not ready after 60 s" >&2
	return 1
}

# stop_daemons: TERM to every daemon started, and wait for each.
stop_daemons() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
}

# make_setup DIR [DATABASE_URL]: segld dev's setup in DIR, started once
# (it registers the development relying party), stopped, and its rate
# limit on challenges raised.
make_setup() {
	local dir=$1 db=${2:-} args=()
	[ -z "$db" ] || args=(--database "$db")
	bin/segld dev --dir "$dir" --listen "127.0.0.1:$PORT" --ops-listen "127.0.0.1:$((PORT + 1))" \
		--app-listen "127.0.0.1:$((PORT + 2))" "${args[@]}" >"$dir.dev.log" 2>&1 &
	pids+=($!)
	wait_ready $((PORT + 1)) $! || { tail -n 20 "$dir.dev.log" >&2; exit 1; }
	stop_daemons
	grep -q '^  challenges-per-hour: 20$' "$dir/segl.yaml" || { echo "bench/load.sh: no challenges-per-hour: 20 in $dir/segl.yaml" >&2; exit 1; }
	sed -i 's/^  challenges-per-hour: 20$/  challenges-per-hour: 1000   # bench\/load.sh: a few users take many challenges/' "$dir/segl.yaml"
}

# start_daemons DIR N: N segld on DIR's config, each on its own ports.
addrs=()
apps=()
start_daemons() {
	local dir=$1 n=$2 i p conf
	addrs=()
	apps=()
	# segld dev set SOFTHSM2_CONF for itself; segld --config reads it from
	# the environment, as SoftHSM does.
	conf=$(. "$dir/env" && echo "$SOFTHSM2_CONF")
	for i in $(seq 0 $((n - 1))); do
		p=$((PORT + 10 * i))
		SOFTHSM2_CONF=$conf bin/segld --config "$dir/segl.yaml" --listen "127.0.0.1:$p" --ops-listen "127.0.0.1:$((p + 1))" \
			--app-listen "127.0.0.1:$((p + 2))" >"$dir.segld-$i.log" 2>&1 &
		pids+=($!)
		wait_ready $((p + 1)) $! || { tail -n 20 "$dir.segld-$i.log" >&2; exit 1; }
		addrs+=(--addr "https://127.0.0.1:$p")
		apps+=(--app-addr "127.0.0.1:$((p + 2))")
	done
}

# run_flows DIR: every flow at every concurrency against the daemons running.
failed=0
run_flows() {
	local dir=$1 f c
	for f in $FLOWS; do
		for c in $CONC; do
			echo "bench/load.sh: $f at $c" >&2
			"$work/load" --dev-dir "$dir" "${addrs[@]}" "${apps[@]}" --flow "$f" --concurrency "$c" \
				--duration "$DURATION" --warmup "$WARMUP" --bound-duration "$BOUND" | tee -a "$OUT" || failed=1
		done
	done
}

say "# bench/load.sh $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) $(nproc) cores, $(go version | cut -d' ' -f3)"
for s in $STORES; do
	dir=$work/$s
	case $s in
	sqlite)
		make_setup "$dir"
		say "# setup sqlite daemons=1"
		start_daemons "$dir" 1
		run_flows "$dir"
		stop_daemons
		if [ "$RSS_ORDERS" != 0 ]; then
			say "# setup sqlite daemons=1 rss: a fresh segld, loop at concurrency 64"
			start_daemons "$dir" 1
			"$work/load" --dev-dir "$dir" "${addrs[@]}" --flow loop --concurrency 64 --orders "$RSS_ORDERS" --warmup 0 \
				--bound none --rss-at "1000,$RSS_ORDERS" --pid "${pids[0]}" | tee -a "$OUT" || failed=1
			stop_daemons
		fi
		;;
	pg1 | pg3)
		if [ -z "$pgdir" ]; then
			pgdir=$work/pg
			pgurl=$(scripts/postgres.sh start "$pgdir")
			psql -X -q -v ON_ERROR_STOP=1 "$pgurl" \
				-c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" \
				-c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null
			sleep 1
			say "# postgres $(psql -X -A -t "$pgurl" -c 'SHOW server_version') fsync=$(psql -X -A -t "$pgurl" -c 'SHOW fsync') synchronous_commit=$(psql -X -A -t "$pgurl" -c 'SHOW synchronous_commit')"
		fi
		# A database of its own for each setup.
		db=segl_$s
		psql -X -q -v ON_ERROR_STOP=1 "$pgurl" -c "CREATE DATABASE $db" >/dev/null
		url=${pgurl/\/segl\?/\/$db?}
		make_setup "$dir" "$url"
		n=${s#pg}
		say "# setup postgres daemons=$n"
		start_daemons "$dir" "$n"
		run_flows "$dir"
		stop_daemons
		;;
	*)
		echo "bench/load.sh: STORES: $s is not sqlite, pg1 or pg3" >&2
		exit 2
		;;
	esac
done

echo >&2
summarize "$OUT" >&2
exit $failed
