#!/bin/sh
# Unpacks the supervisors the restart benchmark compares with (supervisord, runsv, s6-supervise)
# from Debian's packages into bench/peers/ and writes bench/peers/peers.json: how to run each.
# Nothing is installed: dpkg-deb -x runs no maintainer script, so no system service is enabled.
# Idempotent: does nothing when peers.json is there. Usage: sh bench/peers.sh (bench/run.sh).
set -eu
cd "$(dirname "$0")"
BENCH=$(pwd)
PEERS=$BENCH/peers
ROOT=$PEERS/root
py=/usr/bin/python3

log() { printf 'bench/peers: %s\n' "$*" >&2; }

# Skipped when unpacked already, here (peers.json holds absolute paths).
if [ -f "$PEERS/peers.json" ] && grep -qF "\"$ROOT/usr/bin/runsv\"" "$PEERS/peers.json"; then
	exit 0
fi

case $PEERS in
*[\"\\]*)
	log "cannot write $PEERS into JSON (a quote or backslash in the path)"
	exit 1
	;;
esac

# apt-get update, once, when the package lists lack what we need (a fresh machine has none).
updated=0
update() {
	if [ "$updated" = 1 ] || [ "$(id -u)" -ne 0 ]; then
		log "$1 (run apt-get update as root)"
		exit 1
	fi
	log "$1: apt-get update, then again"
	apt-get update -qq >&2
	updated=1
}

# s6's shared libraries (libs6, libskarnet, libexecline) are separate packages, named with their
# soname version; take their names from s6's own dependencies rather than pinning a release.
s6_libs() {
	apt-cache depends s6 2>/dev/null | sed -n 's/^ *Depends: \(lib[a-z0-9.+-]*\)$/\1/p' |
		grep -v '^libc6$' | paste -sd' ' - || true
}
libs=$(s6_libs)
if [ -z "$libs" ]; then
	update "apt-cache knows no s6 package"
	libs=$(s6_libs)
fi
pkgs="supervisor runit s6 $libs"
# supervisord imports pkg_resources; use the system's if it has one.
if ! "$py" -W ignore -c 'import pkg_resources' 2>/dev/null; then
	pkgs="$pkgs python3-pkg-resources"
fi

rm -rf "$PEERS/debs.tmp" "$ROOT.tmp"
mkdir -p "$PEERS/debs.tmp" "$ROOT.tmp"
# apt-get download writes into the current directory and installs nothing.
# shellcheck disable=SC2086
download() { (cd "$PEERS/debs.tmp" && apt-get download -qq $pkgs >/dev/null 2>"$PEERS/download.err"); }
if ! download; then
	cat "$PEERS/download.err" >&2
	update "apt-get download $pkgs failed"
	download || {
		cat "$PEERS/download.err" >&2
		exit 1
	}
fi
rm -f "$PEERS/download.err"
versions=""
for deb in "$PEERS"/debs.tmp/*.deb; do
	dpkg-deb -x "$deb" "$ROOT.tmp"
	versions="$versions\"$(dpkg-deb -f "$deb" Package)\": \"$(dpkg-deb -f "$deb" Version)\","
done

lib=$(dirname "$(find "$ROOT.tmp/usr/lib" -name 'libskarnet.so.*' | head -1)")
# s6-supervise is started through the dynamic loader with --library-path rather than with
# LD_LIBRARY_PATH, which its children would inherit and search before loading libc.
loader=$(ldd "$ROOT.tmp/usr/bin/s6-supervise" 2>/dev/null |
	awk '$1 ~ /^\/.*ld-linux/ { print $1; exit }')
for f in "$ROOT.tmp/usr/bin/supervisord" "$ROOT.tmp/usr/bin/runsv" \
	"$ROOT.tmp/usr/bin/s6-supervise" "$lib" "$loader"; do
	if [ ! -e "$f" ]; then
		log "not found after unpacking: $f"
		exit 1
	fi
done
rm -rf "$ROOT" "$PEERS/debs"
mv "$ROOT.tmp" "$ROOT"
mv "$PEERS/debs.tmp" "$PEERS/debs"
lib=$ROOT${lib#"$ROOT.tmp"}
site=$ROOT/usr/lib/python3/dist-packages

# Each peer must at least start from where it was unpacked.
PYTHONPATH=$site "$py" "$ROOT/usr/bin/supervisord" --version >/dev/null
"$loader" --library-path "$lib" "$ROOT/usr/bin/s6-supervise" 2>&1 | grep -q usage
"$ROOT/usr/bin/runsv" 2>&1 | grep -q usage

cat >"$PEERS/peers.json.tmp" <<EOF
{
 "versions": {${versions%,}},
 "supervisord": {"argv": ["$py", "$ROOT/usr/bin/supervisord"], "env": {"PYTHONPATH": "$site"}},
 "runsv": {"argv": ["$ROOT/usr/bin/runsv"], "env": {}},
 "s6-supervise": {"argv": ["$loader", "--library-path", "$lib", "$ROOT/usr/bin/s6-supervise"],
                  "env": {}}
}
EOF
"$py" -c 'import json, sys; json.load(open(sys.argv[1]))' "$PEERS/peers.json.tmp"
mv "$PEERS/peers.json.tmp" "$PEERS/peers.json"
log "unpacked $pkgs into $ROOT"
