#!/bin/sh
# eahas sweep slurm: the sbatch script passes bash -n, has the right --array range and options,
# and its command line runs locally when SLURM_ARRAY_TASK_ID is set by hand.
set -eu
B="${EAHAS_BIN:?EAHAS_BIN must name the eahas binary}"
T=$(mktemp -d "/tmp/eahas test slurm.XXXXXX")   # a space in the path: quoting must hold
trap 'rm -rf "$T"' EXIT
export EAHAS_LOCK_DIR="$T/locks"
FAKE="sh tests/sweep/fake_trainer.sh"   # relative: the script cds to where it was written
fail() { echo "FAIL: $*" >&2; exit 1; }

"$B" sweep plan --preset fashion-mnist -n 7 --seed 2 -o "$T/plan.jsonl" >/dev/null
"$B" sweep slurm "$T/plan.jsonl" --out "$T/sweep dir" --partition gpu-a100 --gpus-per-task 1 --time 04:30:00 \
  --epochs 3 --threads 2 --trainer "$FAKE" > "$T/out" || fail "slurm"
S="$T/sweep dir/sweep.sbatch"
[ -f "$S" ] || fail "no script"
grep -q "submit it with:   sbatch $S" "$T/out" || fail "no submit instructions: $(cat "$T/out")"
bash -n "$S" || fail "bash -n"
head -1 "$S" | grep -q '^#!/bin/bash$' || fail "shebang"
grep -q '^#SBATCH --array=0-6$' "$S" || fail "array range: $(grep array "$S")"
grep -q '^#SBATCH --partition=gpu-a100$' "$S" || fail "partition"
grep -q '^#SBATCH --gpus-per-task=1$' "$S" || fail "gpus"
grep -q '^#SBATCH --time=04:30:00$' "$S" || fail "time"
grep -q '^#SBATCH --cpus-per-task=2$' "$S" || fail "cpus"
grep -q -- "sweep run-one '$T/plan.jsonl' --index \"\$SLURM_ARRAY_TASK_ID\" --out '$T/sweep dir' --epochs 3 --threads 2 --trainer 'sh tests/sweep/fake_trainer.sh'" "$S" ||
  fail "command line: $(tail -1 "$S")"
[ -d "$T/sweep dir/logs" ] || fail "the --output directory was not created"
grep -qx "cd '$(pwd)'" "$S" || fail "no cd to the directory of writing"

# without SLURM_ARRAY_TASK_ID the script refuses, saying why
st=0; env -u SLURM_ARRAY_TASK_ID bash "$S" 2>"$T/err" || st=$?
[ "$st" -ne 0 ] && grep -q "this script is an array job" "$T/err" || fail "runs without a task id"
# as array tasks 0 and 6, by hand, from another directory
(cd / && SLURM_ARRAY_TASK_ID=0 bash "$S" 2>/dev/null) || fail "task 0"
(cd / && SLURM_ARRAY_TASK_ID=6 bash "$S" 2>/dev/null) || fail "task 6"
ID0=$(sed -n 1p "$T/plan.jsonl" | cut -c8-23); ID6=$(sed -n 7p "$T/plan.jsonl" | cut -c8-23)
[ "$(ls "$T/sweep dir/records" | tr '\n' ' ')" = "$(printf '%s\n' "$ID0.json" "$ID6.json" | sort | tr '\n' ' ')" ] ||
  fail "records: $(ls "$T/sweep dir/records")"
grep -q '"epochs_trained":	3' "$T/sweep dir/records/$ID6.json" || fail "epochs"
grep -q '"threads":	2' "$T/sweep dir/records/$ID6.json" || fail "threads"
# a task index past the plan fails
st=0; SLURM_ARRAY_TASK_ID=7 bash "$S" 2>/dev/null || st=$?
[ "$st" -eq 1 ] || fail "task 7: $st"
# then the rest locally: the directory is shared by both ways of running
"$B" sweep run "$T/plan.jsonl" --out "$T/sweep dir" --epochs 3 --trainer "$FAKE" 2>/dev/null |
  grep -q "7 of 7 configs done (2 were already)" || fail "local completion"

# bad options are refused
st=0; "$B" sweep slurm "$T/plan.jsonl" --out "$T/x" --time 4h 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "\-\-time '4h' is not \[D-\]HH:MM:SS" "$T/err" || fail "bad time: $(cat "$T/err")"
st=0; "$B" sweep slurm "$T/plan.jsonl" --out "$T/x" --partition 'a;rm' 2>"$T/err" || st=$?
[ "$st" -eq 1 ] && grep -q "partition 'a;rm' has characters" "$T/err" || fail "bad partition"
"$B" sweep slurm "$T/plan.jsonl" --out "$T/y" --time 1-00:00:00 >/dev/null || fail "day-long time"
grep -q '^#SBATCH --time=1-00:00:00$' "$T/y/sweep.sbatch" || fail "day-long time line"
grep -q 'partition\|gpus-per-task' "$T/y/sweep.sbatch" && fail "unrequested options written"
echo "ok"
