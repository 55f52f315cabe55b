#!/bin/sh
# Installs the Debian packages a step needs, and does nothing when they are all present.
# Usage: ensure-deps.sh build|test|bench
set -eu
build="gcc make pkg-config libcurl4-openssl-dev libsqlite3-dev libjansson-dev libuv1-dev libssl-dev libmicrohttpd-dev"
case "${1:-build}" in
build) want="$build" ;;
test) want="$build libcmocka-dev python3-pytest clang-format cppcheck systemd procps util-linux" ;;
# The supervisors bench compares with are not installed (that would enable their system
# services): bench/peers.sh unpacks them into bench/peers/.
bench) want="$build" ;;
*) echo "ensure-deps.sh: unknown step '$1'" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
