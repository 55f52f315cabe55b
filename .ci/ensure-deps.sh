#!/bin/sh
# Installs the Debian packages a step needs, and does nothing when they are all present. As root,
# build and test also create the config's default user, tradingd, when it is missing.
# Usage: ensure-deps.sh build|test|bench
set -eu
build="gcc make pkg-config libcurl4-openssl-dev libsqlite3-dev libjansson-dev libuv1-dev libssl-dev libmicrohttpd-dev"
account=no
# test: clang builds the libFuzzer harnesses (make fuzz), with the fuzzer runtime that clang
# only recommends (libclang-rt-14-dev: bookworm's clang is 14). prometheus is there for promtool
# (check metrics, check rules); Debian ships no smaller package with it, and on a host running
# systemd its own service starts once installed.
case "${1:-build}" in
build) want="$build" account=yes ;;
test) want="$build libcmocka-dev python3-pytest python3-pytest-xdist clang libclang-rt-14-dev clang-format cppcheck valgrind systemd procps util-linux" account=yes ;;
# The supervisors bench compares with are not installed (that would enable their system
# services): bench/peers.sh unpacks them into bench/peers/.
bench) want="$build" ;;
*) echo "ensure-deps.sh: unknown step '$1'" >&2; exit 2 ;;
esac

install_missing() {
	missing=""
	for p in $want; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
		exit 1
	fi
	echo "installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2
}

# `make run` as root drops to the config's user, and the tests start the daemon as root: on a
# fresh machine that account must exist. The same system account as `make install` makes; as an
# ordinary user nothing is needed, since tradingd drops privileges only when started as root.
ensure_account() {
	[ "$(id -u)" -eq 0 ] || return 0
	getent passwd tradingd >/dev/null && return 0
	echo "creating the system account tradingd (the config's default user)" >&2
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		--user-group tradingd
}

install_missing
[ "$account" = no ] || ensure_account
[ "${1:-build}" = test ] && sh "$(dirname "$0")/../tests/promtool.sh"
exit 0
