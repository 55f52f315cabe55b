#!/bin/sh
# Unpacks promtool, which checks /metrics and etc/prometheus-rules.yml in the tests, from Debian's
# prometheus package into tests/tools/. Installing the package would start a Prometheus server
# on the test machine; dpkg-deb -x runs no maintainer script. Idempotent; a failure only makes
# the promtool tests skip, with the reason in tests/tools/promtool.err.
set -u
cd "$(dirname "$0")"
TOOLS=$(pwd)/tools
[ -x "$TOOLS/usr/bin/promtool" ] && exit 0
mkdir -p "$TOOLS/debs"
fetch() { (cd "$TOOLS/debs" && apt-get download -qq prometheus >/dev/null 2>"$TOOLS/promtool.err"); }
if ! fetch; then
	[ "$(id -u)" -eq 0 ] && apt-get update -qq >&2 && fetch || {
		echo "tests/promtool.sh: cannot download prometheus (see $TOOLS/promtool.err)" >&2
		exit 0
	}
fi
for deb in "$TOOLS"/debs/prometheus_*.deb; do
	dpkg-deb -x "$deb" "$TOOLS/root.tmp" && mkdir -p "$TOOLS/usr/bin" &&
		mv "$TOOLS/root.tmp/usr/bin/promtool" "$TOOLS/usr/bin/promtool"
done
rm -rf "$TOOLS/root.tmp" "$TOOLS/debs"
[ -x "$TOOLS/usr/bin/promtool" ] || echo "tests/promtool.sh: no promtool in the package" >&2
exit 0
