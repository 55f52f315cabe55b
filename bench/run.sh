#!/bin/sh
# make bench: crash-to-restart latency of tradingd's workers against supervisord, runsv and
# s6-supervise, and tradingd's idle footprint. Raw results in bench/out/, tables in
# docs/benchmarks.md. Loopback and local sockets only; every process started is stopped.
set -eu
cd "$(dirname "$0")/.."
out=bench/out
py=/usr/bin/python3
for prog in gcc timeout apt-get dpkg-deb ldd git; do
	if ! command -v "$prog" >/dev/null 2>&1; then
		echo "bench: $prog is missing (sh .ci/ensure-deps.sh bench)" >&2
		exit 1
	fi
done
# The peers run from bench/peers/, unpacked from Debian's packages, never installed.
sh bench/peers.sh
# One name for this run in both parts of docs/benchmarks.md, and for the analysis to cite.
# "-dirty": the tree differs from the commit (docs/benchmarks.md, which the bench writes, aside).
BENCH_COMMIT=$(git rev-parse --short HEAD)
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!docs/benchmarks.md')" ]; then
	BENCH_COMMIT="$BENCH_COMMIT-dirty"
fi
BENCH_RUN_ID=${BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$BENCH_COMMIT}
export BENCH_COMMIT BENCH_RUN_ID
echo "bench: run $BENCH_RUN_ID" >&2
if [ ! -x bin/tradingd ] || [ ! -x bin/tradingd-net ] || [ ! -x bin/tradectl ]; then
	echo "bench: build bin/tradingd and bin/tradectl first (make)" >&2
	exit 1
fi
mkdir -p "$out/bin"
# A snapshot: the tree may be rebuilt while the bench runs, and workers re-exec the binary.
cp bin/tradingd bin/tradingd-net bin/tradectl bin/upbit-sim "$out/bin/"
for prog in tiny_child spawn_floor; do
	gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$out/$prog" "bench/$prog.c"
done
# Each measurement has its own deadline inside; this bounds the whole run.
timeout -k 10 280 "$py" bench/restart_bench.py
"$py" bench/render_doc.py "$out/results.json" docs/benchmarks.md
echo "bench: wrote docs/benchmarks.md" >&2
# The exchange benchmarks fill their own marked section of the same document.
if [ -f bench/exchange/run.sh ]; then
	sh bench/exchange/run.sh
fi
# The backup of a large database while the daemon runs fills its own marked section.
timeout -k 10 900 "$py" bench/backup_bench.py
echo "bench: wrote the backup section of docs/benchmarks.md" >&2
# So do the scheduler's (firing accuracy, overhead of 1,000 jobs): about 95 s.
timeout -k 10 200 "$py" bench/sched/sched_bench.py
# Tick-to-order latency (issue 7): about 100 s.
timeout -k 10 300 "$py" bench/tick/tick_bench.py
echo "bench: wrote the tick-to-order section of docs/benchmarks.md" >&2
