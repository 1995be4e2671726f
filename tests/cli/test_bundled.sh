#!/bin/sh
# The bundled benchmark (issue 8): data/fashion-mnist.eahas opens, `table stats` shows the count
# of runs and their spread, it is fitted (it answers surrogate queries within bounds), and a
# recorded config's tabular answer equals its committed record.
set -eu
B="${EAHAS_BIN:?EAHAS_BIN must name the eahas binary}"
F=data/fashion-mnist.eahas
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$F" ] || fail "$F is missing"

"$B" table stats "$F" > /tmp/eahas_bundled_stats.$$ || fail "table stats"
S=$(cat /tmp/eahas_bundled_stats.$$); rm -f /tmp/eahas_bundled_stats.$$
echo "$S" | grep -q "preset fashion-mnist" || fail "preset: $S"
runs=$(echo "$S" | sed -n 's/^ *[0-9]* configs, \([0-9]*\) runs.*/\1/p')
[ "${runs:-0}" -ge 8 ] || fail "only '${runs}' runs: $S"
for k in final_test_acc final_val_acc train_time_s tec_kwh; do
  echo "$S" | grep -q "^  $k  *min [0-9.e+-]*  *mean [0-9.e+-]*  *max [0-9.e+-]*" || fail "no spread of $k: $S"
done
echo "$S" | grep -q "energy methods: estimate:cpu-tdp-v1" || fail "energy method label: $S"

# a surrogate query of a config that is not in the file: bounded, increasing cost
CFG="d=10,w0=64,wa=23.1,wm=2.829,gw=24,lr=0.01,opt=adamw,sched=lin,cutout=0,epochs=100"
Q=$("$B" query "$F" "$CFG" --json | tr -d ' \t\n') || fail "query"
acc=$(echo "$Q" | sed -n 's/.*"final_test_acc":\([0-9.e+-]*\).*/\1/p')
awk -v a="$acc" 'BEGIN { exit !(a > 10 && a <= 100) }' || fail "final_test_acc '$acc'"
echo "$Q" | grep -q '"energy_method":"[a-z:-]*estimate:cpu-tdp-v1"' || fail "energy_method: $Q"
t50=$("$B" query "$F" "$CFG" --epochs 50 --json | tr -d ' \t\n' | sed -n 's/.*"tec_kwh":\([0-9.e+-]*\).*/\1/p')
t100=$(echo "$Q" | sed -n 's/.*"tec_kwh":\([0-9.e+-]*\).*/\1/p')
awk -v a="$t50" -v b="$t100" 'BEGIN { exit !(a > 0 && b > a) }' || fail "TEC at 50 ($t50) and 100 ($t100) epochs"

# a recorded config: the tabular answer is the committed record's (JSON prints 3 decimals)
# (the sweep keeps committing records: take one the file already holds)
R=""
for f in data/sweep/records/*.json; do
  if "$B" table get "$F" "$(basename "$f" .json)" >/dev/null 2>&1; then R=$f; break; fi
done
[ -n "$R" ] || fail "no committed record is in $F"
C=$(tr -d ' \t\n' < "$R" | grep -o '"config":{[^}]*}' | head -1 | cut -c10-)
want=$(/usr/bin/awk 'BEGIN{RS="\"test_acc_ema\":"} NR==2' "$R" | tr -d ' \t\n[' | cut -d']' -f1 | awk -F, '{print $NF}')
got=$("$B" query "$F" "$C" --tabular --json | tr -d ' \t\n' | sed -n 's/.*"final_test_acc":\([0-9.e+-]*\).*/\1/p')
awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.0005 + 1e-9) }' ||
  fail "tabular final_test_acc $got, record says $want ($R)"
echo "ok ($runs runs)"
