#!/bin/sh
# Builds the libFuzzer harnesses (make fuzz) and runs each for SECONDS on a copy of its seed
# corpus (tests/fuzz/corpus/<harness>/ is never modified), leaks detected. One line per harness;
# exits 1 if any crashed, leaked or timed out, naming the input that did it.
# Usage: tests/fuzz/run.sh [SECONDS]
set -u
cd "$(dirname "$0")/../.."
secs=${1:-15}
out=${FUZZ_OUT:-tests/out/fuzz}
mkdir -p "$out"
if ! make -s -j2 fuzz >"$out/build.log" 2>&1; then
	echo "fuzz: make fuzz failed; log: $out/build.log" >&2
	tail -20 "$out/build.log" >&2
	exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tradingd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for bin in build-fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	mkdir -p "$work/$name"
	[ -d "tests/fuzz/corpus/$name" ] && cp "tests/fuzz/corpus/$name"/* "$work/$name/"
	log="$out/$name.log"
	# Artifacts (crash-*, leak-*, timeout-*) go to $out, which outlives the temporary corpus.
	ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -detect_leaks=1 \
		-print_final_stats=1 -artifact_prefix="$out/$name-" "$work/$name" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz $name: ok, ${runs:-?} runs in ${secs}s, coverage ${cov:-?}"
	else
		status=1
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		echo "fuzz $name: FAILED (exit $rc) input: ${artifact:-none}; log: $log"
		# The seed replays the run: "$bin" -seed=N with the same corpus.
		grep -m1 -E "Seed: [0-9]+" "$log"
		grep -m3 -E "ERROR: |SUMMARY: |runtime error" "$log"
	fi
done
exit $status
