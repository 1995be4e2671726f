#!/bin/sh
# A fake external trainer for the sweep tests (protocol: docs/sweeps.md). Usage:
#   fake_trainer.sh CONFIG.json
# Prints one JSON line per epoch whose accuracies are a fixed function of the config id, so two
# sweeps of the same plan give identical curves. Environment:
#   FAKE_SLEEP=S        sleep S seconds per epoch (default 0)
#   FAKE_BAD_ID=ID      the config with this id misbehaves as FAKE_BAD_MODE says:
#   FAKE_BAD_MODE=M     crash (exit 3 after epoch 1), signal (kill itself), malformed (a non-JSON
#                       line), missing (skips epoch 2), nan (a NaN accuracy), short (stops after
#                       epoch 1 with status 0), range (accuracy 150), dupkey (test_acc twice in
#                       one line), flaky (crash on the first attempt only; needs FAKE_STATE=DIR)
set -eu
cfg="$1"
tab=$(printf '\t')
id=$(sed -n "s/^${tab}\"id\":${tab}*\"\([0-9a-f]*\)\".*/\1/p" "$cfg")
epochs=$(sed -n "s/^${tab}\"epochs\":${tab}*\([0-9]*\).*/\1/p" "$cfg")
[ -n "$id" ] && [ -n "$epochs" ] || { echo "fake_trainer: cannot read id/epochs from $cfg" >&2; exit 2; }
mode=ok
[ "${FAKE_BAD_ID:-}" = "$id" ] && mode="${FAKE_BAD_MODE:-crash}"
if [ "$mode" = flaky ]; then
  if [ -e "${FAKE_STATE}/$id.tried" ]; then mode=ok; else : > "${FAKE_STATE}/$id.tried"; mode=crash; fi
fi
base=$(( 0x$(printf '%s' "$id" | cut -c1-2) ))
echo "fake_trainer: training $id for $epochs epochs" >&2
e=1
while [ "$e" -le "$epochs" ]; do
  sleep "${FAKE_SLEEP:-0}"
  acc=$(( 100 + base / 4 + 40 * e ))   # tenths of a percent
  acc="$(( acc / 10 )).$(( acc % 10 ))"
  if [ "$mode" = missing ] && [ "$e" -eq 2 ]; then e=$((e + 1)); continue; fi
  [ "$mode" = malformed ] && [ "$e" -eq 2 ] && { echo "epoch 2 done, acc $acc"; }
  [ "$mode" = nan ] && [ "$e" -eq 2 ] && acc=NaN
  [ "$mode" = range ] && acc=150
  dup=
  [ "$mode" = dupkey ] && dup=",\"test_acc\":99.9"
  echo "{\"epoch\":$e,\"train_acc\":$acc,\"val_acc\":$acc,\"test_acc\":$acc,\"seconds\":0.$e,\"train_loss\":1.5$dup}"
  [ "$mode" = crash ] && { echo "fake_trainer: crashing on purpose" >&2; exit 3; }
  [ "$mode" = signal ] && kill -9 $$
  [ "$mode" = short ] && exit 0
  e=$((e + 1))
done
exit 0
