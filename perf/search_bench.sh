#!/bin/sh
# Search-speed benchmark: all nine optimizers x 20 seeds, wall time of `eahas search`.
#   perf/search_bench.sh [BENCH.eahas] [--budget-kwh X] [--jobs K]
# Without a benchmark file it runs on the synthetic benchmark (cifar10 space). Prints the wall
# time per optimizer (each alone, 20 seeds) and of the whole run, for docs/PERFORMANCE-search.md.
set -eu
BIN=${EAHAS_BIN:-build/eahas}
SRC=--synthetic
BUDGET=${BUDGET:-100}
JOBS=${JOBS:-$(nproc)}
case "${1:-}" in *.eahas) SRC=$1; shift ;; esac
while [ $# -gt 0 ]; do
  case "$1" in
    --budget-kwh) BUDGET=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
OUT=$(mktemp -d /tmp/eahas_search_bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
now() { date +%s.%N; }
echo "search benchmark: $SRC, budget $BUDGET kWh, 20 seeds, $JOBS threads, $(nproc) CPUs, $(uname -m)"
echo "optimizer    wall_s  evaluations(mean)"
for o in rs re ls bananas hb bohb ea-re ea-ls ea-bananas; do
  t0=$(now)
  "$BIN" search $SRC --optimizer $o --budget-kwh "$BUDGET" --seeds 20 --jobs "$JOBS" --quiet --json -o "$OUT/$o" >"$OUT/$o.json"
  t1=$(now)
  ev=$(sed -n 's/.*"evaluations_mean": \([0-9.e+]*\).*/\1/p' "$OUT/$o.json" | head -1)
  printf "%-11s %7.2f  %s\n" "$o" "$(echo "$t1 - $t0" | bc -l)" "$ev"
done
t0=$(now)
"$BIN" search $SRC --budget-kwh "$BUDGET" --seeds 20 --jobs "$JOBS" --quiet -o "$OUT/all" >"$OUT/all.txt"
t1=$(now)
printf "all nine    %7.2f  (one command, 180 runs)\n" "$(echo "$t1 - $t0" | bc -l)"
cat "$OUT/all.txt"
