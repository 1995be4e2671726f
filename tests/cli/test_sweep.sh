#!/bin/sh
# eahas sweep plan / run / run-one / status with the fake external trainer: plans are distinct and
# reproducible, every trainer misbehaviour fails its run with a reason while the sweep goes on,
# retries, --jobs marks records energy_shared, bad arguments exit 1.
set -eu
fail_fast=1
. "$(dirname "$0")/lib.sh"
export EAHAS_LOCK_DIR="$T/locks"  # energy-domain locks private to this test
FAKE="sh $(pwd)/tests/sweep/fake_trainer.sh"

# --- plan: N distinct ids, same seed same plan, another seed another plan
"$B" sweep plan --preset fashion-mnist -n 6 --seed 11 -o "$T/plan.jsonl" >/dev/null
[ "$(wc -l < "$T/plan.jsonl")" -eq 6 ] || fail "plan has $(wc -l < "$T/plan.jsonl") lines"
[ "$(cut -c8-23 "$T/plan.jsonl" | sort -u | wc -l)" -eq 6 ] || fail "plan ids not distinct"
grep -q '"preset":"fashion-mnist","seed":11,"config":{"d":' "$T/plan.jsonl" || fail "plan line format"
"$B" sweep plan --preset fashion-mnist -n 6 --seed 11 -o "$T/plan2.jsonl" >/dev/null
cmp -s "$T/plan.jsonl" "$T/plan2.jsonl" || fail "same seed gave another plan"
"$B" sweep plan --preset fashion-mnist -n 6 --seed 12 -o "$T/plan3.jsonl" >/dev/null
cmp -s "$T/plan.jsonl" "$T/plan3.jsonl" && fail "another seed gave the same plan"
ID0=$(head -1 "$T/plan.jsonl" | cut -c8-23)
ID1=$(sed -n 2p "$T/plan.jsonl" | cut -c8-23)

# --- a clean run: 6 records, each epoch line of the trainer in the curve
"$B" sweep run "$T/plan.jsonl" --out "$T/ok" --epochs 3 --threads 1 --trainer "$FAKE" 2>/dev/null >"$T/out" ||
  fail "clean sweep failed"
grep -q "6 of 6 configs done (0 were already)" "$T/out" || fail "summary: $(cat "$T/out")"
[ "$(ls "$T/ok/records" | wc -l)" -eq 6 ] || fail "records: $(ls "$T/ok/records")"
R="$T/ok/records/$ID0.json"
grep -q '"epochs_trained":	3' "$R" || fail "epochs_trained"
grep -q '"epoch_time_s":	\[0.1, 0.2, 0.3\]' "$R" || fail "epoch times"
grep -q '"trainer":	"fake_trainer.sh"' "$R" || fail "trainer name"
grep -q '"shared":	false' "$R" || fail "a lone run shared its energy domain"
# the accuracies are the fake trainer's function of the id: 10 + floor(byte0/4)/10 + 4 e
b=$(( 0x$(echo "$ID0" | cut -c1-2) )); a1=$(( 100 + b / 4 + 40 )); a2=$((a1 + 40)); a3=$((a2 + 40))
grep -q "\"test_acc\":	\[$((a1/10)).$((a1%10)), $((a2/10)).$((a2%10)), $((a3/10)).$((a3%10))\]" "$R" ||
  fail "test_acc curve of $ID0: $(grep test_acc\" "$R")"
# again: nothing to do, nothing changes
sum1=$(cat "$T"/ok/records/*.json | cksum)
"$B" sweep run "$T/plan.jsonl" --out "$T/ok" --epochs 3 --trainer "$FAKE" 2>/dev/null | grep -q "6 of 6 configs done (6 were already)" ||
  fail "second run redid work"
[ "$(cat "$T"/ok/records/*.json | cksum)" = "$sum1" ] || fail "second run changed records"
"$B" sweep status "$T/plan.jsonl" --out "$T/ok" --json | grep -q '"done":6,"failed":0,"todo":0' || fail "status"

# --- each misbehaviour fails that run only, with its reason
check_mode() { # mode expected-reason
  rm -rf "$T/bad"
  st=0
  FAKE_BAD_ID=$ID0 FAKE_BAD_MODE=$1 "$B" sweep run "$T/plan.jsonl" --out "$T/bad" --epochs 3 --retries 0 \
    --trainer "$FAKE" >/dev/null 2>"$T/err" || st=$?
  [ "$st" -eq 2 ] || fail "mode $1: exit status $st"
  [ "$(ls "$T/bad/records" | wc -l)" -eq 5 ] || fail "mode $1: the other runs did not finish"
  [ -e "$T/bad/records/$ID0.json" ] && fail "mode $1: a record for the bad run"
  grep -q "\"attempts\":	1" "$T/bad/failed/$ID0.json" || fail "mode $1: attempts"
  grep -qF "$2" "$T/bad/failed/$ID0.json" || fail "mode $1: reason $(grep reason "$T/bad/failed/$ID0.json")"
  grep -qF "failed $ID0 after 1 attempt: $2" "$T/err" || fail "mode $1: not reported: $(cat "$T/err")"
  grep -q "1 of 6 configs failed" "$T/err" || fail "mode $1: summary"
}
check_mode crash "the trainer exited with status 3 after 1 of 3 epochs (last log line: fake_trainer: crashing on purpose)"
check_mode signal "the trainer was killed by signal 9 (Killed) after 1 of 3 epochs"
check_mode malformed "line 2 of the trainer's output: not a JSON object (NaN and Infinity are not JSON)"
grep -q 'epoch 2 done, acc' "$T/bad/failed/$ID0.json" || fail "malformed: the line is not quoted"
check_mode missing "line 2 of the trainer's output: reported epoch 3 where epoch 2 was due"
check_mode nan "line 2 of the trainer's output: not a JSON object (NaN and Infinity are not JSON)"
check_mode short "the trainer reported 1 of 3 epochs: epoch 2 is missing"
check_mode range "line 1 of the trainer's output: "
grep -q 'train_acc.\{1,3\}=150 is outside \[0, 100\]' "$T/bad/failed/$ID0.json" || fail "range: reason"
check_mode dupkey "line 1 of the trainer's output: key " # the record escapes the quotes after it
grep -qF "line 1 of the trainer's output: key \"test_acc\" appears twice in one object" "$T/err" || fail "dupkey: the key"
# the failure is final for this --retries: a rerun does not retry it ...
FAKE_BAD_ID=$ID0 FAKE_BAD_MODE=crash "$B" sweep run "$T/plan.jsonl" --out "$T/bad" --epochs 3 --retries 0 \
  --trainer "$FAKE" >/dev/null 2>&1 && fail "rerun succeeded"
grep -q "\"attempts\":	1" "$T/bad/failed/$ID0.json" || fail "rerun retried"
# ... a larger --retries does, and success clears the failure
"$B" sweep run "$T/plan.jsonl" --out "$T/bad" --epochs 3 --retries 1 --trainer "$FAKE" >/dev/null 2>&1 || fail "retry"
[ -e "$T/bad/records/$ID0.json" ] || fail "retry left no record"
[ -e "$T/bad/failed/$ID0.json" ] && fail "success left the failure file"

# --- a flaky trainer succeeds on its retry within one sweep
mkdir -p "$T/state"
FAKE_STATE="$T/state" FAKE_BAD_ID=$ID1 FAKE_BAD_MODE=flaky "$B" sweep run "$T/plan.jsonl" --out "$T/flaky" --epochs 2 \
  --retries 1 --trainer "$FAKE" >/dev/null 2>"$T/err" || fail "flaky sweep: $(cat "$T/err")"
grep -q "retrying $ID1 (attempt 1 failed: the trainer exited with status 3" "$T/err" || fail "no retry message"
[ "$(ls "$T/flaky/records" | wc -l)" -eq 6 ] || fail "flaky: records"
grep -c "=== attempt" "$T/flaky/logs/$ID1.log" | grep -q 2 || fail "flaky: not 2 attempts"

# --- --jobs 2 overrides one run per energy domain: the records say so
"$B" sweep run "$T/plan.jsonl" --out "$T/jobs" --epochs 2 --jobs 2 --trainer "$FAKE" >/dev/null 2>"$T/err" || fail "jobs 2"
grep -q "2 runs at once share measured energy domains" "$T/err" || fail "no energy-sharing notice"
[ "$(grep -l '"shared":	true' "$T"/jobs/records/*.json | wc -l)" -eq 6 ] || fail "jobs 2: records not energy_shared"

# --- run-one: one entry, as a Slurm task runs it
"$B" sweep run-one "$T/plan.jsonl" --index 5 --out "$T/one" --epochs 2 --trainer "$FAKE" 2>/dev/null || fail "run-one"
[ "$(ls "$T/one/records")" = "$(sed -n 6p "$T/plan.jsonl" | cut -c8-23).json" ] || fail "run-one record"
st=0; "$B" sweep run-one "$T/plan.jsonl" --index 6 --out "$T/one" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "index 6 is outside \[0, 5\]" "$T/err" || fail "run-one index: $st $(cat "$T/err")"

# --- one process per config: a second run-one of a config in training leaves it alone
FAKE_SLEEP=0.5 "$B" sweep run-one "$T/plan.jsonl" --index 4 --out "$T/lock" --epochs 2 --trainer "$FAKE" 2>/dev/null &
LP=$!
i=0; while [ ! -e "$T/lock/tmp/$(sed -n 5p "$T/plan.jsonl" | cut -c8-23).config.json" ]; do
  i=$((i + 1)); [ $i -lt 250 ] || fail "run-one did not start"; sleep 0.02; done
st=0; "$B" sweep run-one "$T/plan.jsonl" --index 4 --out "$T/lock" --epochs 2 --trainer "$FAKE" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "is being trained by another process" "$T/err" || fail "lock: $st $(cat "$T/err")"
wait $LP || fail "the first run-one failed"
[ -e "$T/lock/records/$(sed -n 5p "$T/plan.jsonl" | cut -c8-23).json" ] || fail "lock: no record"

# --- SIGTERM (scancel, a time limit) or ^C interrupts a run: the trainer dies with it, and the
# run is redone next time rather than counted as a failure of the config
ID3=$(sed -n 4p "$T/plan.jsonl" | cut -c8-23)
FAKE_SLEEP=1 "$B" sweep run-one "$T/plan.jsonl" --index 3 --out "$T/term" --epochs 3 --trainer "$FAKE" 2>"$T/err" &
LP=$!
i=0; while [ ! -e "$T/term/tmp/$ID3.config.json" ]; do
  i=$((i + 1)); [ $i -lt 250 ] || fail "run-one did not start"; sleep 0.02; done
sleep 0.2
kill -TERM $LP
st=0; wait $LP || st=$?
[ "$st" -eq 2 ] && grep -q "interrupted by signal 15 (Terminated): the run will be redone" "$T/err" ||
  fail "SIGTERM: $st $(cat "$T/err")"
[ -e "$T/term/failed/$ID3.json" ] && fail "an interrupted run was counted as a failure"
[ -e "$T/term/records/$ID3.json" ] && fail "an interrupted run left a record"
sleep 0.2
ps -eo args | grep -v grep | grep -q "$T/term/tmp" && fail "the trainer outlived SIGTERM"

# --- the built-in trainer (`eahas train` as a child) failing: its own last words are the reason
st=0; "$B" sweep run "$T/plan.jsonl" --out "$T/builtin" --epochs 1 --data "$T/no-such-dir" --retries 0 \
  >/dev/null 2>"$T/err" || st=$?
[ "$st" -eq 2 ] || fail "built-in trainer without data: exit $st"
grep -q "failed $ID0 after 1 attempt: eahas train exited with status 1 (last log line: eahas: .*no-such-dir" "$T/err" ||
  fail "built-in trainer failure reason: $(cat "$T/err")"
[ "$(ls "$T/builtin/failed" | wc -l)" -eq 6 ] || fail "built-in failures not recorded"

# --- bad input: exit 1 with the reason
st=0; "$B" sweep plan --preset mnist -n 3 --seed 1 -o "$T/x" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "preset 'mnist' is unknown" "$T/err" || fail "bad preset: $st"
st=0; "$B" sweep plan --preset cifar10 -n 0 --seed 1 -o "$T/x" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "\-n '0' is not an integer in \[1, 10000000\]" "$T/err" || fail "bad n: $(cat "$T/err")"
sed 's/"d":/"d":9/' "$T/plan.jsonl" > "$T/badplan.jsonl"
st=0; "$B" sweep run "$T/badplan.jsonl" --out "$T/x" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "line 1 of $T/badplan.jsonl: config" "$T/err" || fail "bad plan: $(cat "$T/err")"
head -1 "$T/plan.jsonl" > "$T/dup.jsonl"; head -1 "$T/plan.jsonl" >> "$T/dup.jsonl"
st=0; "$B" sweep run "$T/dup.jsonl" --out "$T/x" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "line 2 of $T/dup.jsonl: id $ID0 appears twice" "$T/err" || fail "dup plan: $(cat "$T/err")"
sed "1s/$ID0/0123456789abcdef/" "$T/plan.jsonl" > "$T/idplan.jsonl"
st=0; "$B" sweep run "$T/idplan.jsonl" --out "$T/x" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "\"id\" is \"0123456789abcdef\", but preset and config give $ID0" "$T/err" || fail "id plan"
# --out is a file: the sweep stops before any run, with defined counts (they were uninitialized)
st=0; "$B" sweep run "$T/plan.jsonl" --out "$T/plan.jsonl" 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "stopped: done 0 failed 0" "$T/err" && grep -q "records: Not a directory" "$T/err" ||
  fail "--out a file: $st $(cat "$T/err")"
st=0; "$B" sweep frobnicate 2>/dev/null || st=$?
[ "$st" -eq 1 ] || fail "unknown subcommand"
"$B" sweep --help | grep -q "usage: eahas sweep plan" || fail "help"
echo "ok"
