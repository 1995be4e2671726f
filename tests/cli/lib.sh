# Shared prelude of the CLI test scripts: sourced as `. "$(dirname "$0")/lib.sh"`.
# Sets B (the eahas binary, from EAHAS_BIN), T (a temporary directory removed on exit), and the
# checks: fail (counts in $fails; exits at once if the script set fail_fast=1 before sourcing),
# expect_rc WANT CMD... (exit status; stdout in $T/out, stderr in $T/err), has / lacks PATTERN
# FILE (in $T).
set -u
B=${EAHAS_BIN:?EAHAS_BIN must point to the eahas binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
# fail: counts and goes on; with fail_fast=1 set before sourcing, stops the script at the first.
fail() {
  if [ "${fail_fast:-0}" = 1 ]; then
    echo "FAIL: $*" >&2
    exit 1
  fi
  echo "FAIL: $*"
  fails=$((fails + 1))
}
expect_rc() {
  want=$1
  shift
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  [ "$rc" = "$want" ] || fail "exit $rc (wanted $want): $* -- $(head -c 300 "$T/err")"
}
has() { grep -q -- "$1" "$T/$2" || fail "$2 lacks '$1': $(head -c 400 "$T/$2")"; }
lacks() { grep -q -- "$1" "$T/$2" && fail "$2 has '$1': $(head -c 400 "$T/$2")"; }
