#!/bin/sh
# Resumability: a sweep SIGKILLed twice while runs are in progress, then resumed, ends with the
# same set of records as an uninterrupted sweep of the same plan and seeds (--threads 1): none
# lost, none duplicated, none half-written, and no record finished before a kill is ever redone.
set -eu
B="${EAHAS_BIN:?EAHAS_BIN must name the eahas binary}"
T=$(mktemp -d /tmp/eahas_test_sweep_kill.XXXXXX)
SWEEP_PID=""
cleanup() { [ -n "$SWEEP_PID" ] && kill -9 "$SWEEP_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export EAHAS_LOCK_DIR="$T/locks"
FAKE="sh $(pwd)/tests/sweep/fake_trainer.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
N=8

"$B" sweep plan --preset fashion-mnist -n $N --seed 5 -o "$T/plan.jsonl" >/dev/null
# the reference: uninterrupted
"$B" sweep run "$T/plan.jsonl" --out "$T/ref" --epochs 3 --threads 1 --trainer "$FAKE" >/dev/null 2>&1 || fail "reference"

count() { ls "$T/k/records" 2>/dev/null | grep -c '^[0-9a-f]\{16\}\.json$' || true; }
in_flight() { ls "$T/k/tmp" 2>/dev/null | grep -c 'config\.json$' || true; }

# Starts the sweep in the background, waits until it has at least $1 records and a run in
# progress, and kills it with SIGKILL.
kill_at() {
  FAKE_SLEEP=0.25 "$B" sweep run "$T/plan.jsonl" --out "$T/k" --epochs 3 --threads 1 --jobs 2 --trainer "$FAKE" \
    >/dev/null 2>&1 &
  SWEEP_PID=$!
  i=0
  while [ "$(count)" -lt "$1" ] || [ "$(in_flight)" -eq 0 ]; do
    i=$((i + 1)); [ $i -lt 400 ] || fail "sweep made no progress"
    sleep 0.02
  done
  kill -9 "$SWEEP_PID"
  wait "$SWEEP_PID" 2>/dev/null || true
  SWEEP_PID=""
  n=$(count)
  [ "$n" -lt $N ] || fail "the sweep finished before the kill"
  # the workers and trainers died with it (PR_SET_PDEATHSIG): nothing writes behind our back
  sleep 0.3
  ps -eo args | grep -v grep | grep -q "$T/k/tmp" && fail "a trainer outlived the killed sweep"
  # every record present is complete and valid
  "$B" collect "$T/k" -o "$T/check$1.eahas" >/dev/null 2>"$T/err" || fail "half-written record: $(cat "$T/err")"
  for f in "$T"/k/records/*.json; do cksum "$f"; done > "$T/sums$1"
}
kill_at 2
first=$(count)
kill_at $((first + 2))
echo "killed with $first, then $(count) of $N records" >&2

# leftovers of writers killed mid-write (pid 2147483600 is above any pid_max) are removed on resume
echo '{"half' > "$T/k/records/$(head -1 "$T/plan.jsonl" | cut -c8-23).json.tmp.2147483600.0"
echo '{"half' > "$T/k/tmp/0123456789abcdef.2147483600.record.json"

# resume; finished records are never redone: byte-identical after
"$B" sweep run "$T/plan.jsonl" --out "$T/k" --epochs 3 --threads 1 --trainer "$FAKE" >"$T/out" 2>/dev/null ||
  fail "resume failed"
grep -q "$N of $N configs done ($(wc -l < "$T/sums$((first + 2))" | tr -d ' ') were already)" "$T/out" ||
  fail "resume summary: $(cat "$T/out")"
while read -r sum size f; do
  [ "$(cksum "$f")" = "$sum $size $f" ] || fail "$f was redone or changed after the kill"
done < "$T/sums$((first + 2))"
ls "$T/k/records" | grep -v '^[0-9a-f]\{16\}\.json$' && fail "stray files in records/"
ls "$T/k/tmp" | grep -q 2147483600 && fail "a dead writer's file stayed in tmp/"
[ -z "$(ls "$T/k/failed")" ] || fail "a killed run counted as a failure: $(ls "$T/k/failed")"

# the same set of records as the uninterrupted sweep: same ids, same curves
[ "$(ls "$T/ref/records")" = "$(ls "$T/k/records")" ] || fail "record sets differ"
for f in "$T"/ref/records/*.json; do
  g="$T/k/records/$(basename "$f")"
  for key in id config epochs_trained status train_acc val_acc test_acc epoch_time_s; do
    [ "$(grep "\"$key\":" "$f")" = "$(grep "\"$key\":" "$g")" ] || fail "$key differs in $(basename "$f")"
  done
done
# a run finished before the first kill was trained once, ever: one attempt in its log
while read -r sum size f; do
  log="$T/k/logs/$(basename "$f" .json).log"
  [ "$(grep -c '=== attempt' "$log")" -eq 1 ] || fail "$(basename "$f") was trained more than once"
done < "$T/sums2"
echo "ok"
