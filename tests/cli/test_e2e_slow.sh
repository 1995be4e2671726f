#!/bin/sh
# Issue 8's end-to-end test: plan -> sweep (2 configs, 2 epochs, the built-in trainer on the
# real Fashion-MNIST files) -> collect -> fit -> query -> search, on a temporary benchmark file.
# The surrogate needs complete learning curves of at least 8 configs, which a 2-epoch sweep
# cannot give in a test's time, so the temporary file also collects the bundled sweep's committed
# records (data/sweep/records): the 2 fresh runs sit beside them, are looked up exactly, and the
# fitted file is queried and searched.
set -eu
fail_fast=1
. "$(dirname "$0")/lib.sh"
export EAHAS_LOCK_DIR="$T/locks"
[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "skip: no Fashion-MNIST"; exit 0; }

"$B" sweep plan --preset fashion-mnist -n 2 --seed 5 -o "$T/plan.jsonl" >/dev/null || fail "plan"
[ "$(wc -l < "$T/plan.jsonl")" -eq 2 ] || fail "plan has $(wc -l < "$T/plan.jsonl") lines"
"$B" sweep run "$T/plan.jsonl" --out "$T/s" --epochs 2 --threads 1 --retries 0 >"$T/out" 2>"$T/err" ||
  { cat "$T"/s/logs/*.log >&2; fail "sweep: $(cat "$T/err")"; }
[ "$(ls "$T/s/records" | wc -l)" -eq 2 ] || fail "sweep wrote $(ls "$T/s/records" | wc -l) records"

"$B" collect "$T/s" data/sweep -o "$T/b.eahas" >"$T/out" 2>"$T/err" || fail "collect: $(cat "$T/err")"
n_bundled=$(ls data/sweep/records | wc -l)
"$B" table stats "$T/b.eahas" --json | grep -q "\"runs\":$((n_bundled + 2))," ||
  fail "stats: $("$B" table stats "$T/b.eahas" --json)"

"$B" fit "$T/b.eahas" --members 2 --epochs 60 >"$T/out" 2>"$T/err" || fail "fit: $(cat "$T/err")"
grep -q "fitted" "$T/out" || fail "fit summary: $(cat "$T/out")"

# exact lookup of a fresh run, then a surrogate query of the same config at 2 epochs
CFG=$(head -1 "$T/plan.jsonl" | grep -o '"config":{[^}]*}' | cut -c10-)
"$B" query "$T/b.eahas" "$CFG" --tabular --epochs 2 --json >"$T/q1" || fail "query --tabular"
grep -q '"from_table":true' "$T/q1" || grep -q '"from_table": *true' "$T/q1" || fail "tabular query: $(cat "$T/q1")"
"$B" query "$T/b.eahas" "$CFG" --epochs 2 --json >"$T/q2" || fail "query"
acc=$(tr -d ' \t\n' < "$T/q2" | sed -n 's/.*"final_test_acc":\([0-9.e+-]*\).*/\1/p')
awk -v a="$acc" 'BEGIN { exit !(a >= 0 && a <= 100) }' || fail "final_test_acc '$acc'"
tec=$(tr -d ' \t\n' < "$T/q2" | sed -n 's/.*"tec_kwh":\([0-9.e+-]*\).*/\1/p')
awk -v t="$tec" 'BEGIN { exit !(t > 0) }' || fail "tec_kwh '$tec'"

# a search of every optimizer, 2 seeds, under a small budget, never exceeded
"$B" search "$T/b.eahas" --budget-kwh 0.005 --seeds 2 --jobs 2 --quiet -o "$T/search" >"$T/out" 2>"$T/err" ||
  fail "search: $(cat "$T/err")"
for o in rs re ls bananas hb bohb ea-re ea-ls ea-bananas; do
  grep -q "^$o " "$T/out" || fail "no row for $o: $(cat "$T/out")"
done
[ -s "$T/search/trajectories.csv" ] || fail "no trajectories"
echo "ok"
