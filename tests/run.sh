#!/bin/sh
# make test: lint, then the unit tests (cmocka), the parsers fuzzed briefly (libFuzzer) and the
# integration tests (pytest against the real binaries, four test files at a time), once plain and
# once under AddressSanitizer+UBSan.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
out=tests/out
rm -rf "$out"
mkdir -p "$out"
passed=0
failed=0
failures=""

count() { # count NAME STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $1"
	fi
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"; a crash counts as one.
run_unit() { # run_unit BUILD_DIR LABEL
	for t in "$1"/tests/test_*; do
		[ -x "$t" ] || continue
		name="$2/$(basename "$t")"
		log="$out/$(echo "$name" | tr / _).log"
		"$t" >"$log" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
		if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
			failed=$((failed + 1))
		fi
		if [ "$rc" -ne 0 ]; then
			failures="$failures $name"
			echo "FAILED $name (exit $rc); log: $log" >&2
			tail -20 "$log" >&2
		fi
	done
}

run_pytest() { # run_pytest BIN_DIR LABEL
	xml="$out/pytest-$2.xml"
	# The integration tests mostly wait on daemons (a few % CPU each): four at a time, a file
	# per process (files share module fixtures), fill two cores without starving them.
	TD_BIN="$1" /usr/bin/python3 -m pytest -q -p no:cacheprovider -n 4 --dist loadfile \
		--junitxml="$xml" tests/integration >"$out/pytest-$2.log" 2>&1
	rc=$?
	tail -30 "$out/pytest-$2.log"
	if [ ! -f "$xml" ]; then
		count "pytest-$2" 1
		return
	fi
	set -- $(/usr/bin/python3 tests/junit_counts.py "$xml")
	passed=$((passed + $1))
	failed=$((failed + $2))
	[ "$2" -eq 0 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] && count "pytest-exit" 1
	[ "$2" -ne 0 ] && failures="$failures pytest-$2"
}

echo "== lint"
sh tests/lint.sh
count lint $?

echo "== build"
make -s all unit >"$out/build.log" 2>&1
count build $?
echo "== build (ASan+UBSan)"
make -s SAN=1 all unit >"$out/build-asan.log" 2>&1
count build-asan $?
grep -h -E " error|Error [0-9]" "$out/build.log" "$out/build-asan.log" >&2

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"

echo "== unit"
run_unit build plain
echo "== unit (ASan+UBSan)"
run_unit build-asan asan
echo "== fuzz (libFuzzer, 15 s per parser)"
sh tests/fuzz/run.sh 15
count fuzz $?
echo "== integration"
run_pytest bin plain
echo "== integration (ASan+UBSan)"
run_pytest bin-asan asan

[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
