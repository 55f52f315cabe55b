#!/bin/sh
# make lint: every C file is clang-formatted and cppcheck finds nothing. Exit 1 on any finding.
set -u
cd "$(dirname "$0")/.."
files=$(git ls-files -co --exclude-standard '*.c' '*.h')
status=0
if ! clang-format --dry-run --Werror $files; then
	echo "lint: clang-format differences (run: make format)" >&2
	status=1
fi
if ! cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	--std=c11 --inline-suppr -D__GNUC__ -I. \
	--library=tests/cppcheck/jansson.cfg --suppress=missingIncludeSystem $files; then
	echo "lint: cppcheck findings" >&2
	status=1
fi
[ $status -eq 0 ] && echo "lint: clean"
exit $status
