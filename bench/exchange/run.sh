#!/bin/sh
# Exchange benchmarks (issue 3): request rate and latency through the Upbit client against
# upbit-sim, the cost of validating a 200-market ticker reply, and market-data's CPU while it
# follows 200 KRW markets. Raw output goes to bench/out/exchange/; the tables replace the part of
# docs/benchmarks.md between the exchange-bench markers and nothing else.
# Usage: sh bench/exchange/run.sh   (from anywhere; `make bench` calls it through bench/run.sh)
set -eu

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=bench/out/exchange
DOC=docs/benchmarks.md
START_MARK='<!-- exchange-bench:start -->'
END_MARK='<!-- exchange-bench:end -->'

# Sizes: the whole run stays under about two minutes on two cores.
REPS=3		  # each row runs this often, interleaved; the table shows the median
COUNT=2000	  # small requests per client/curl run
BIG_COUNT=150	  # 200-market ticker requests per run
LIMITED_COUNT=50  # requests under the client's default limits (10/s)
MARKETS_COUNT=200 # synthetic KRW markets in the simulator
CG_ITER=10	  # parses per callgrind run
WARM_S=${EXCHANGE_BENCH_WARM_S:-10}	    # market-data warm-up before the measured window
MEASURE_S=${EXCHANGE_BENCH_MEASURE_S:-30} # the measured window

PIDS=""	     # background processes this script started (each a `timeout` wrapper)
SIM_PID=""   # the simulator itself, for its CPU time
SIM_URL=""

log() { printf 'exchange-bench: %s\n' "$*" >&2; }

# TERM each process we started (timeout passes it on to its child), then KILL what is left.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	for p in $PIDS; do
		stop_pid "$p"
	done
	PIDS=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
	left=""
	for p in $PIDS; do
		[ "$p" = "$1" ] || left="$left $p"
	done
	PIDS=$left
}

# start_sim NAME ARGS...: a loopback simulator on a free port; sets SIM_URL, SIM_PID, SIM_WRAP.
start_sim() {
	name=$1
	shift
	rm -f "$OUT/$name.port"
	timeout $((WARM_S + MEASURE_S + 120)) "$OUT/bin/upbit-sim" --listen 127.0.0.1:0 --log-level warn \
		--port-file "$OUT/$name.port" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
	SIM_WRAP=$!
	PIDS="$PIDS $SIM_WRAP"
	i=0
	# The port file is renamed into place whole once the simulator listens.
	while ! [ -s "$OUT/$name.port" ]; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$SIM_WRAP" 2>/dev/null; then
			log "simulator $name did not start:"
			cat "$OUT/$name.err" >&2
			exit 1
		fi
		sleep 0.1
	done
	SIM_URL="http://127.0.0.1:$(cut -d' ' -f1 "$OUT/$name.port")"
	SIM_PID=$(ps -o pid= --ppid "$SIM_WRAP" | tr -d ' ')
}

fetch() { timeout 20 "$OUT/client_bench" fetch --url "$1"; }

# get KEY=VALUE from the line of FILE whose first word is FIRST (e.g. label=curl-1).
get() {
	awk -v first="$1" -v key="$2" '$1 == first {
		for (i = 1; i <= NF; i++) {
			n = index($i, "=")
			if (substr($i, 1, n - 1) == key) { print substr($i, n + 1); exit }
		}
	}' "$3"
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# utime+stime of a process, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
now_ms() { date +%s%3N; }

# ---- build ----

mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.json "$OUT"/callgrind.* "$OUT"/*.out "$OUT"/*.err "$OUT"/*.log
for f in build/libtd.a bin/upbit-sim bin/tradingd bin/tradingd-net bin/tradectl; do
	if [ ! -f "$f" ]; then
		log "$f is missing: build first (make)"
		exit 1
	fi
done
# A snapshot: the tree may be rebuilt while this runs, and tradingd's workers re-exec it.
mkdir -p "$OUT/bin"
cp build/libtd.a "$OUT/libtd.a"
cp bin/upbit-sim bin/tradingd bin/tradingd-net bin/tradectl "$OUT/bin/"
PKGS="libcurl jansson libuv sqlite3 openssl"
build_one() { # build_one NAME SOURCES...: linked as the Makefile links its programs
	name=$1
	shift
	# shellcheck disable=SC2046,SC2086
	gcc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. -Iworkers/upbit \
		$(pkg-config --cflags $PKGS) -o "$OUT/$name" "$@" "$OUT/libtd.a" \
		$(pkg-config --libs $PKGS) -lm
}
build_one client_bench bench/exchange/client_bench.c
build_one parse_bench bench/exchange/parse_bench.c
# A what-if copy of the HTTP layer that honours libcurl's 0 ms timeout instead of arming a 1 ms
# uv timer (http_uv.c's on_timer). Built here only; the shipped library is not changed.
TIMER0=0
sed 's/timeout_ms == 0 ? 1 : (uint64_t)timeout_ms/(uint64_t)timeout_ms/' workers/upbit/http_uv.c \
	>"$OUT/http_uv_timer0.c"
if ! cmp -s workers/upbit/http_uv.c "$OUT/http_uv_timer0.c"; then
	build_one client_bench_timer0 bench/exchange/client_bench.c "$OUT/http_uv_timer0.c" &&
		TIMER0=1
fi

NPROC=$(nproc)
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
KERNEL=$(uname -r)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
# bench/run.sh names the whole run; run alone, this script names its own.
COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
RUN_ID=${BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$COMMIT}
CLK_TCK=$(getconf CLK_TCK)

# ---- 1. request rate and latency ----

log "1/3 client vs libcurl easy against upbit-sim (limits raised)"
start_sim sim-rate --markets-count "$MARKETS_COUNT" --rate ticker=100000
MARKETS=$(fetch "$SIM_URL/v1/market/all" | grep -o '"market":"KRW-[A-Z0-9]*"' |
	sed 's/"market":"//; s/"//' | paste -sd, -)
NMARKETS=$(echo "$MARKETS" | tr ',' '\n' | grep -c .)
R="$OUT/client.txt"
cb() { timeout 60 "$OUT/client_bench" "$@" --url "$SIM_URL" >>"$R"; }
rep=0
while [ $rep -lt $REPS ]; do
	rep=$((rep + 1))
	cb curl --label curl-1 --count "$COUNT"
	cb client --label client-1 --count "$COUNT" --inflight 1
	cb client --label client-8 --count "$COUNT" --inflight 8
	cb client --label client-32 --count "$COUNT" --inflight 32
	if [ "$TIMER0" = 1 ]; then
		timeout 60 "$OUT/client_bench_timer0" client --label timer0-1 --count "$COUNT" \
			--inflight 1 --url "$SIM_URL" >>"$R"
	fi
	cb curl --label curl-200 --count "$BIG_COUNT" --markets "$MARKETS"
	cb client --label client-200-1 --count "$BIG_COUNT" --inflight 1 --markets "$MARKETS"
	cb client --label client-200-8 --count "$BIG_COUNT" --inflight 8 --markets "$MARKETS"
done
cb client --label default-8 --count "$LIMITED_COUNT" --inflight 8 --default-limits
# Where a 200-market request's instructions go inside the client (callgrind, repeatable).
CGC="$OUT/callgrind-client.txt"
: >"$CGC"
if command -v valgrind >/dev/null 2>&1; then
	f="$OUT/callgrind.out.client-200"
	timeout 90 valgrind --tool=callgrind --callgrind-out-file="$f" "$OUT/client_bench" client \
		--label cg-client-200 --count "$CG_ITER" --inflight 1 --markets "$MARKETS" \
		--url "$SIM_URL" >"$f.txt" 2>"$f.log"
	callgrind_annotate --inclusive=yes "$f" >"$f.annotate" 2>/dev/null || true
	total=$(awk '/^totals:/ { print $2 }' "$f")
	parse=$(awk '/:upbit_parse_tickers / { gsub(",", "", $1); print $1; exit }' "$f.annotate")
	echo "run=client-200 requests=$CG_ITER ir_total=$total ir_parse=${parse:-0}" >>"$CGC"
fi

# The reply parsed in part 2: every market of the simulator in one ticker request.
fetch "$SIM_URL/v1/ticker?markets=$MARKETS" >"$OUT/ticker-200.json"
stop_pid "$SIM_WRAP"
forget_pid "$SIM_WRAP"

# ---- 2. parse and validate ----

log "2/3 upbit_parse_tickers vs json_loadb on a $NMARKETS-market reply"
P="$OUT/parse.txt"
timeout 60 "$OUT/parse_bench" "$OUT/ticker-200.json" >"$P"
CG="$OUT/callgrind.txt"
: >"$CG"
if command -v valgrind >/dev/null 2>&1; then
	for run in json_loadb:0 json_loadb:$CG_ITER upbit_parse_tickers:$CG_ITER; do
		kind=${run%:*}
		n=${run#*:}
		f="$OUT/callgrind.out.$kind.$n"
		timeout 90 valgrind --tool=callgrind --callgrind-out-file="$f" \
			"$OUT/parse_bench" "$OUT/ticker-200.json" --only "$kind" "$n" \
			>/dev/null 2>"$f.log"
		echo "kind=$kind-$n ir=$(awk '/^totals:/ { print $2 }' "$f")" >>"$CG"
	done
	callgrind_annotate "$OUT/callgrind.out.upbit_parse_tickers.$CG_ITER" 2>/dev/null |
		head -40 >"$OUT/callgrind-annotate.txt" || true
fi

# ---- 3. market-data following every market ----

log "3/3 market-data following $NMARKETS markets, ticker every 1000 ms (${WARM_S} s warm-up, ${MEASURE_S} s)"
start_sim sim-md --markets-count "$MARKETS_COUNT"
MD="$OUT/md"
rm -rf "$MD"
mkdir -p "$MD"
QUOTED=$(echo "$MARKETS" | sed 's/[^,]*/"&"/g')
cat >"$MD/tradingd.json" <<EOF
{
	"mode": "paper",
	"data_dir": "$ROOT/$MD/data",
	"run_dir": "$ROOT/$MD/run",
	"log_level": "info",
	"exchange": {"base_url": "$SIM_URL"},
	"market_data": {
		"markets": [$QUOTED],
		"ticker_interval_ms": 1000,
		"backfill_max_minutes": 5
	}
}
EOF
timeout $((WARM_S + MEASURE_S + 60)) "$OUT/bin/tradingd" -c "$MD/tradingd.json" >"$OUT/tradingd.log" 2>&1 &
TD_WRAP=$!
PIDS="$PIDS $TD_WRAP"
SOCK="$ROOT/$MD/run/tradingd.sock"
ctl() { TRADECTL_TIMEOUT_MS=5000 "$OUT/bin/tradectl" -s "$SOCK" "$@"; }
i=0
until ctl status >/dev/null 2>&1 && [ "$(ctl pid market-data 2>/dev/null || echo 0)" != 0 ]; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 "$TD_WRAP" 2>/dev/null; then
		log "tradingd did not start:"
		tail -20 "$OUT/tradingd.log" >&2
		exit 1
	fi
	sleep 0.1
done
sleep "$WARM_S"
ROLES="market-data strategy order-execution notifier maintenance"
: >"$OUT/md-pids.txt"
echo "daemon $(ctl pid)" >>"$OUT/md-pids.txt"
for role in $ROLES; do
	echo "$role $(ctl pid "$role")" >>"$OUT/md-pids.txt"
done
echo "sim $SIM_PID" >>"$OUT/md-pids.txt"
snapshot() { # snapshot FILE: "name pid cpu_ticks" for every process measured
	while read -r name pid; do
		echo "$name $pid $(cpu_ticks "$pid")"
	done <"$OUT/md-pids.txt" >"$1"
}
ctl --json status >"$OUT/md-status-0.json"
T0=$(now_ms)
snapshot "$OUT/md-cpu-0.txt"
sleep "$MEASURE_S"
snapshot "$OUT/md-cpu-1.txt"
T1=$(now_ms)
ctl --json status >"$OUT/md-status-1.json"
M="$OUT/md.txt"
: >"$M"
while read -r name pid c1; do
	c0=$(awk -v n="$name" '$1 == n { print $3 }' "$OUT/md-cpu-0.txt")
	echo "proc=$name pid=$pid cpu_pct=$(calc '%.2f' "($c1 - $c0) * 100000 / $CLK_TCK / ($T1 - $T0)") rss_kb=$(status_kb "$pid" VmRSS) hwm_kb=$(status_kb "$pid" VmHWM)" >>"$M"
done <"$OUT/md-cpu-1.txt"
# Requests the simulator recorded inside the window (recv_ms is wall-clock ms, as T0 and T1).
fetch "$SIM_URL/_sim/requests?limit=100000" >"$OUT/sim-requests.json"
tr '{' '\n' <"$OUT/sim-requests.json" | awk -v t0="$T0" -v t1="$T1" -v out="$M" '
	function num(k,   m) { return match($0, "\"" k "\":[0-9]+") ? substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) + 0 : -1 }
	function str(k) { return match($0, "\"" k "\":\"[^\"]*\"") ? substr($0, RSTART + length(k) + 4, RLENGTH - length(k) - 5) : "" }
	/"seq":/ {
		t = num("recv_ms"); if (t < t0 || t > t1) next
		g = str("group"); n[g]++; if (num("status") != 200) bad[g]++; d[g] += num("duration_ms")
	}
	END {
		for (g in n) printf "group=%s requests=%d non200=%d per_s=%.2f mean_ms=%.2f\n", g, n[g], bad[g] + 0, n[g] * 1000 / (t1 - t0), d[g] / n[g] >> out
	}'
ctr() { grep -o "\"$1\": *[0-9]*" "$2" | head -1 | sed 's/.*: *//'; }
for k in ticker_ok ticker_failed ticks_published candle_pages candle_failures candles_stored; do
	echo "counter=$k delta=$(($(ctr "$k" "$OUT/md-status-1.json") - $(ctr "$k" "$OUT/md-status-0.json")))" >>"$M"
done
ctl shutdown >/dev/null 2>&1 || true
i=0
while kill -0 "$TD_WRAP" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
stop_pid "$TD_WRAP"
forget_pid "$TD_WRAP"
stop_pid "$SIM_WRAP"
forget_pid "$SIM_WRAP"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the section of docs/benchmarks.md ----

S="$OUT/section.md"
# stat LABEL KEY med|min|max|sum: over the runs of one row of the request table.
stat() {
	awk -v first="label=$1" -v key="$2" -v op="$3" '$1 == first {
		for (i = 1; i <= NF; i++) {
			n = index($i, "=")
			if (substr($i, 1, n - 1) == key) v[++c] = substr($i, n + 1) + 0
		}
	}
	END {
		if (!c) exit
		for (i = 1; i <= c; i++)
			for (j = i + 1; j <= c; j++)
				if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		for (i = 1; i <= c; i++) sum += v[i]
		if (op == "min") print v[1]
		else if (op == "max") print v[c]
		else if (op == "sum") print sum
		else print (c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2)
	}' "$R"
}
r() { stat "$1" "$2" med; }
row() { # row LABEL NAME: one line of the request table
	l=$1
	[ -n "$(get "label=$l" mode "$R")" ] || return 0
	printf '| %s | %s | %s | %s | %s/%s | %s (%s–%s) | %s | %s | %s | %s | %s |\n' "$2" \
		"$(get "label=$l" inflight "$R")" "$(get "label=$l" markets "$R")" \
		"$(get "label=$l" limits "$R")" "$(stat "$l" ok sum)" "$(stat "$l" requests sum)" \
		"$(r "$l" rps)" "$(stat "$l" rps min)" "$(stat "$l" rps max)" "$(r "$l" steady_rps)" \
		"$(r "$l" p50_us)" "$(r "$l" p99_us)" "$(r "$l" max_in_1s)" "$(r "$l" cpu_us_per_req)"
}
pp() { get "kind=$1" "$2" "$P"; }
mp() { get "proc=$1" "$2" "$M"; }
mg() { v=$(get "group=$1" "$2" "$M"); echo "${v:-0}"; }
mc() { get "counter=$1" delta "$M"; }
{
	echo "$START_MARK"
	echo "## Exchange client, parsers and market-data"
	echo
	echo "Written by \`bench/exchange/run.sh\`; raw output in \`bench/out/exchange/\`."
	echo "Run \`$RUN_ID\`: commit \`$COMMIT\`, $DATE, on $NPROC CPUs ($CPU_MODEL), Linux $KERNEL;"
	echo "load average $LOAD_START at the start, $LOAD_END at the end."
	echo
	echo "### 1. Requests through the client to upbit-sim"
	echo
	echo "Simulator \`--markets-count $MARKETS_COUNT --rate ticker=100000\`; $COUNT requests per run ($BIG_COUNT with $NMARKETS markets),"
	echo "each row $REPS runs interleaved with the others; each column is the median over the runs (req/s with its range)."
	echo
	echo "| run | in flight | markets | client limits | ok | req/s (range) | steady req/s | p50 µs | p99 µs | max/1 s | CPU µs/req |"
	echo "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
	row curl-1 "libcurl easy"
	row client-1 "upbit client"
	row client-8 "upbit client"
	row client-32 "upbit client"
	row timer0-1 "upbit client, 0 ms curl timeout honoured (what-if)"
	row curl-200 "libcurl easy"
	row client-200-1 "upbit client"
	row client-200-8 "upbit client"
	row default-8 "upbit client"
	echo
	echo "Ratios from this run:"
	echo
	echo "- 1 in flight: client/curl request rate $(calc '%.2f' "$(r client-1 rps) / $(r curl-1 rps)")×; p50 $(r client-1 p50_us) µs against $(r curl-1 p50_us) µs ($(calc '%.1f' "$(r client-1 p50_us) / $(r curl-1 p50_us)")×)."
	if [ -n "$(r timer0-1 rps)" ]; then
		echo "- What-if build, 1 in flight: p50 $(r timer0-1 p50_us) µs, $(r timer0-1 rps) req/s; it removes"
		echo "  $(calc '%.0f' "100 * ($(r client-1 p50_us) - $(r timer0-1 p50_us)) / ($(r client-1 p50_us) - $(r curl-1 p50_us))") % of the client's p50 gap to curl."
	fi
	echo "- 8 in flight: $(calc '%.2f' "$(r client-8 rps) / $(r curl-1 rps)")× curl's rate ($(r client-8 rps) req/s); 32 in flight: $(calc '%.2f' "$(r client-32 rps) / $(r curl-1 rps)")×."
	echo "- $NMARKETS-market replies ($(wc -c <"$OUT/ticker-200.json") bytes): client/curl $(calc '%.2f' "$(r client-200-1 rps) / $(r curl-200 rps)")× at 1 in flight,"
	echo "  $(calc '%.2f' "$(r client-200-8 rps) / $(r curl-200 rps)")× at 8; CPU per request $(r client-200-1 cpu_us_per_req) µs against $(r curl-200 cpu_us_per_req) µs."
	if [ -s "$CGC" ]; then
		cg_total=$(get run=client-200 ir_total "$CGC")
		cg_parse=$(get run=client-200 ir_parse "$CGC")
		echo "- Callgrind, $CG_ITER requests of $NMARKETS markets, whole process: $(calc '%.0f' "$cg_total / $CG_ITER") instructions per request,"
		echo "  $(calc '%.1f' "$cg_parse * 100 / $cg_total") % of them inside \`upbit_parse_tickers\`."
	fi
	echo "- Default limits: $(r default-8 rps) req/s over the run, $(r default-8 steady_rps) req/s steady, at most"
	echo "  $(r default-8 max_in_1s) completions in any one-second window; p50 $(r default-8 p50_us) µs."
	echo
	echo "### 2. Parse and validate a $NMARKETS-market ticker reply"
	echo
	echo "The reply to \`GET /v1/ticker?markets=<all $NMARKETS>\` captured from the simulator"
	echo "(\`bench/out/exchange/ticker-200.json\`), by \`bench/exchange/parse_bench.c\`."
	echo
	echo "| | bytes | markets | ns/reply (median) | best round | ns/market | MB/s | replies/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for k in json_loadb upbit_parse_tickers; do
		# shellcheck disable=SC2016
		printf '| `%s` | %s | %s | %s | %s | %s | %s | %s |\n' "$k" "$(pp "$k" bytes)" \
			"$(pp "$k" markets)" "$(pp "$k" ns_per_reply)" "$(pp "$k" best_ns_per_reply)" \
			"$(pp "$k" ns_per_market)" "$(pp "$k" mb_per_s)" "$(pp "$k" replies_per_s)"
	done
	echo
	noise=$(awk -v a="$(pp json_loadb best_ns_per_reply)" -v b="$(pp json_loadb ns_per_reply)" \
		-v c="$(pp upbit_parse_tickers best_ns_per_reply)" -v d="$(pp upbit_parse_tickers ns_per_reply)" \
		'BEGIN { x = 1 - a / b; y = 1 - c / d; printf "%.0f", 100 * (x > y ? x : y) }')
	echo "- Timed, median rounds: \`upbit_parse_tickers\` / \`json_loadb\` $(calc '%.2f' "$(pp upbit_parse_tickers ns_per_reply) / $(pp json_loadb ns_per_reply)"); the best round is up to ${noise} % below the median one."
	if [ -s "$CG" ]; then
		base=$(get "kind=json_loadb-0" ir "$CG")
		load=$(get "kind=json_loadb-$CG_ITER" ir "$CG")
		parse=$(get "kind=upbit_parse_tickers-$CG_ITER" ir "$CG")
		echo "- Callgrind, ($CG_ITER runs − 0 runs) / $CG_ITER: \`json_loadb\` $(calc '%.0f' "($load - $base) / $CG_ITER") instructions per reply,"
		echo "  \`upbit_parse_tickers\` $(calc '%.0f' "($parse - $base) / $CG_ITER") ($(calc '%.0f' "($parse - $base) / $CG_ITER / $NMARKETS") per market): ratio $(calc '%.3f' "($parse - $base) / ($load - $base)")."
	fi
	echo "- One $NMARKETS-market reply per second: $(calc '%.2f' "$(pp upbit_parse_tickers ns_per_reply) / 1e7") % of one core (median round)."
	echo
	echo "### 3. market-data following $NMARKETS KRW markets, ticker every 1000 ms"
	echo
	echo "\`bin/tradingd\`, paper mode, simulator \`--markets-count $MARKETS_COUNT\` with Upbit's default limits;"
	echo "\`market_data.markets\` all $NMARKETS markets (ticker query $(printf '%s' "$MARKETS" | sed 's/,/%2C/g' | awk '{ print length($0) + 8 }') characters), \`ticker_interval_ms\` 1000,"
	echo "\`backfill_max_minutes\` 5; ${WARM_S} s of warm-up, then a window of $(calc '%.1f' "($T1 - $T0) / 1000") s: CPU over the window, RSS at its end,"
	echo "requests from the simulator's own log inside it."
	echo
	echo "| process | CPU % of one core | RSS MB | peak RSS MB |"
	echo "|---|---:|---:|---:|"
	for p in market-data strategy order-execution notifier maintenance daemon sim; do
		case $p in
		daemon) name="tradingd supervisor" ;;
		sim) name="upbit-sim" ;;
		*) name=$p ;;
		esac
		printf '| %s | %s | %s | %s |\n' "$name" "$(mp "$p" cpu_pct)" \
			"$(calc '%.1f' "$(mp "$p" rss_kb) / 1024")" "$(calc '%.1f' "$(mp "$p" hwm_kb) / 1024")"
	done
	echo
	echo "| requests seen by the simulator | count | per s | not 200 | mean server ms |"
	echo "|---|---:|---:|---:|---:|"
	for g in ticker candle; do
		printf '| %s | %s | %s | %s | %s |\n' "$g" "$(mg "$g" requests)" "$(mg "$g" per_s)" \
			"$(mg "$g" non200)" "$(mg "$g" mean_ms)"
	done
	echo
	echo "market-data's own counters over the window: $(mc ticker_ok) ticker replies accepted, $(mc ticker_failed) failed,"
	echo "$(mc ticks_published) ticks published, $(mc candle_pages) candle pages, $(mc candles_stored) candles stored"
	echo "($(calc '%.1f' "$(mc candles_stored) * 1000 / ($T1 - $T0)")/s; $NMARKETS markets make $(calc '%.2f' "$NMARKETS / 60") new minute candles per second)."
	cps=$(mg candle per_s)
	first=$(calc '%.0f' "2 * $NMARKETS / ($cps + 0.000001)")
	echo "At $cps candle requests per second, one pass over all $((2 * NMARKETS)) candle series (minutes and days) takes about"
	echo "$first s, and each market's minute series is visited about every $(calc '%.0f' "$NMARKETS / ($cps + 0.000001)") s; warm-up plus window: $((WARM_S + MEASURE_S)) s."
	if [ "$first" -gt $((WARM_S + MEASURE_S)) ]; then
		echo "\`EXCHANGE_BENCH_WARM_S=$((first + 30)) sh bench/exchange/run.sh\` measures after the first pass."
	fi
	echo "$END_MARK"
} >"$S"

# Replace only the marked section (or append it); the rest of the file is left as it is.
mkdir -p docs
[ -f "$DOC" ] || : >"$DOC"
if grep -qF "$START_MARK" "$DOC" && grep -qF "$END_MARK" "$DOC"; then
	awk -v s="$START_MARK" -v e="$END_MARK" -v sec="$S" '
		$0 == s { while ((getline l < sec) > 0) print l; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip' "$DOC" >"$DOC.exchange.tmp"
else
	{
		cat "$DOC"
		[ -s "$DOC" ] && echo
		cat "$S"
	} >"$DOC.exchange.tmp"
fi
mv "$DOC.exchange.tmp" "$DOC"
log "done: $DOC (section between the exchange-bench markers), raw output in $OUT/"
