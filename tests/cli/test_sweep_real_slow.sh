#!/bin/sh
# A real sweep: 4 fashion-mnist configs, 2 epochs each, through the built-in trainer (`eahas
# train` in a child process), collected into a benchmark file and read back with `table get`.
# Plan seed 5 draws four small networks (5.1, 6.0, 7.0 and 20.2 MFLOPs), so this takes minutes.
set -eu
fail_fast=1
. "$(dirname "$0")/lib.sh"
export EAHAS_LOCK_DIR="$T/locks"

"$B" sweep plan --preset fashion-mnist -n 4 --seed 5 -o "$T/plan.jsonl" >/dev/null
"$B" sweep run "$T/plan.jsonl" --out "$T/s" --epochs 2 --threads 1 --retries 0 >"$T/out" 2>"$T/err" ||
  { cat "$T"/s/logs/*.log >&2; fail "sweep: $(cat "$T/err")"; }
grep -q "4 of 4 configs done (0 were already)" "$T/out" || fail "summary: $(cat "$T/out")"
"$B" collect "$T/s" -o "$T/b.eahas" >"$T/out" 2>"$T/err" || fail "collect: $(cat "$T/err")"
grep -q "4 record files: 4 added to $T/b.eahas, 0 already there, 0 duplicates, 0 rejected" "$T/out" ||
  fail "collect summary: $(cat "$T/out")"
for id in $(cut -c8-23 "$T/plan.jsonl"); do
  R="$T/s/records/$id.json"
  CFG=$(grep "\"id\":\"$id\"" "$T/plan.jsonl" | grep -o '"config":{[^}]*}' | cut -c10-)
  "$B" table get "$T/b.eahas" "$CFG" --json > "$T/got.json" || fail "table get $id"
  [ "$(cat "$T/got.json")" = "$(cat "$R")" ] || { diff "$T/got.json" "$R" >&2; fail "$id: table differs from record"; }
  grep -q '"epochs_trained":	2' "$R" || fail "$id: epochs"
  grep -q '"epochs_limit":	2' "$R" || fail "$id: limit"
  grep -q '"status":	"ok"' "$R" || fail "$id: status"
  grep -q '"trainer":	"eahas"' "$R" || fail "$id: trainer"
  grep -q '"dataset":	"fashion-mnist"' "$R" || fail "$id: dataset"
  grep -q '"threads":	1' "$R" || fail "$id: threads"
  grep -q '"method":	"[a-z]' "$R" || fail "$id: energy method"
  grep -q '"shared":	false' "$R" || fail "$id: a lone run shared its energy domain"
  # learned something: the test accuracy after 2 epochs is above chance (10 % for 10 classes)
  acc=$(sed -n 's/.*"test_acc":	\[[0-9.e+-]*, \([0-9.e+-]*\)\].*/\1/p' "$R")
  awk -v a="$acc" 'BEGIN { exit !(a > 10.0 && a <= 100) }' || echo "note: $id test accuracy $acc% after 2 epochs" >&2
  awk -v a="$acc" 'BEGIN { exit !(a >= 0 && a <= 100) }' || fail "$id: test accuracy '$acc'"
done
"$B" table stats "$T/b.eahas" --json | grep -q '"configs":4,"runs":4,"ok":4,"diverged":0,"failed":0,"curve_rows":8' ||
  fail "stats: $("$B" table stats "$T/b.eahas" --json)"
"$B" table stats "$T/b.eahas" >&2
echo "ok"
