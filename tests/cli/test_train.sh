#!/bin/sh
# CLI tests of `eahas train` that need no training: bad arguments and an unwritable -o are
# refused at once (exit status 1), before any data is loaded, so no training is lost at the end.
# Needs EAHAS_BIN (set by ctest).
. "$(dirname "$0")/lib.sh"

C=d=6,w0=48,wa=8.0,wm=2.500,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50
expect_rc 0 "$B" train --help
has 'usage: eahas train' out
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 1 -o "$T/missing/run.json"
has "train: cannot write -o $T/missing/run.json: directory $T/missing does not exist" err
lacks 'loading data' err
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 1 -o "$T"
has "is a directory" err
lacks 'loading data' err
# names that pass a directory check but cannot be written: refused before any training
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 1 -o ''
has "train: -o needs a name, got an empty string" err
lacks 'loading data' err
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 1 -o "$T/new/"
has "names a directory (it ends in /)" err
LONG=$(printf '%0240d' 0)
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 1 -o "$T/$LONG.json"
has "245 in its last part, is too long (at most 4063 and 223)" err
lacks 'loading data' err
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 0 -o "$T/r.json"
has "'0' is not an integer in \[1, 200\]" err
expect_rc 1 "$B" train $C --preset fashion-mnist --epochs 1
has '\-o FILE is missing' err
expect_rc 1 "$B" train $C --preset fashion-mnist --bogus -o "$T/r.json"
has "unknown option '--bogus'" err
[ -e "$T/r.json" ] && fail "a refused run wrote $T/r.json"

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all train CLI checks passed"
