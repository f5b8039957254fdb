#!/usr/bin/env bash
# Runs the hsm benchmarks in ROUNDS fresh processes and prints, as a
# Markdown table for bench/RESULTS.md, each variant's median ops/s and the
# median over rounds of its ratio to the raw crypto11 baseline measured just
# before it in the same round. Ratios taken this way survive a noisy
# machine; absolute figures do not.
#
#   ROUNDS=7 BENCHTIME=1s BENCH=. bench/run.sh
#   bench/run.sh --summarize     # the table again from bench/latest.txt
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=1
rounds=${ROUNDS:-7}
benchtime=${BENCHTIME:-1s}
raw=bench/latest.txt

if [ "${1:-}" != --summarize ]; then
	: >"$raw"
	go test -c -o bench/hsm.test ./hsm
	trap 'rm -f bench/hsm.test' EXIT
	for r in $(seq 1 "$rounds"); do
		echo "round $r" | tee -a "$raw" >&2
		bench/hsm.test -test.run '^$' -test.bench "${BENCH:-.}" -test.benchtime "$benchtime" 2>/dev/null | tee -a "$raw" >&2
	done
fi

awk '
/^round / { round = $2 }
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "ops/s") v = $i
		if ($(i+1) == "rss-B/op") rss[name] = rss[name] " " $i
	}
	ops[name] = ops[name] " " v
	split(name, p, "/")
	base = p[1] "/" p[2] "/crypto11/" p[4]
	if (base in last) ratio[name] = ratio[name] " " (v / last[base])
	if (p[3] == "crypto11") last[name] = v
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
}
function median(list,   a, k, i, j, t) {
	k = split(list, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	if (k % 2) return a[(k + 1) / 2]
	return (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	print "| benchmark | variant | goroutines | ops/s (median) | vs crypto11 (median of rounds) | RSS growth, B/op |"
	print "|---|---|---|---:|---:|---:|"
	for (x = 1; x <= n; x++) {
		name = order[x]
		split(name, p, "/")
		printf "| %s %s | %s | %s | %.0f | %.3f | %.0f |\n", substr(p[1], 10), p[2], p[3], substr(p[4], 2), median(ops[name]), median(ratio[name]), median(rss[name])
	}
}' "$raw"
