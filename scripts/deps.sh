#!/bin/sh
# Install the Debian packages eahas needs, once. Idempotent: quiet when all are present.
# Usage: scripts/deps.sh [--with-torch]   (python3-torch is only for fixtures and perf/ peers)
set -e
PKGS="cmake make gcc pkg-config libdnnl-dev libxgboost-dev libsqlite3-dev libcjson-dev zlib1g-dev libcmocka-dev gnuplot-nox dataset-fashion-mnist"
[ "$1" = "--with-torch" ] && PKGS="$PKGS python3-torch python3-numpy"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "eahas: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
