#!/bin/sh
# CLI tests of `eahas fit`, `eahas query` and `eahas eval` on a synthetic benchmark file (written
# by the test helper surrogate_make_synth): help, fitting, JSON keys, fidelity, noise determinism,
# tabular answers, batch mode with bad lines and against single answers, the networks' form
# (shared, --per-curve), refusal of a model after the runs changed, and exit statuses. Needs EAHAS_BIN and EAHAS_BUILD (set by ctest).
. "$(dirname "$0")/lib.sh"
MK=${EAHAS_BUILD:?EAHAS_BUILD must point to the build directory}/surrogate_make_synth

[ -x "$MK" ] || { echo "FAIL: $MK not built"; exit 1; }
F="$T/b.eahas"
"$MK" "$F" 80 3 >/dev/null || fail "synthetic file"

for c in fit eval query; do
  expect_rc 0 "$B" $c --help
  has "usage: eahas $c" out
done
expect_rc 1 "$B" fit
expect_rc 1 "$B" fit "$F" --members 0
has "members=0 is not an integer in \[1, 32\]" err
expect_rc 1 "$B" fit "$F" --degree 9
expect_rc 1 "$B" fit "$F" --seed -5
has "seed=-5 is not a non-negative integer" err
expect_rc 1 "$B" fit "$F" --seed 99999999999999999999999
expect_rc 1 "$B" query "$F" d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50 --noise-seed 99999999999999999999999
has "noise-seed=99999999999999999999999 is not an integer in \[0, 2^64 - 1\]" err
expect_rc 1 "$B" query "$F" d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50 --epochs -1
has "epochs=-1 is not an integer in \[1, 200\]" err
expect_rc 1 "$B" query "$F" d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50
has "no fitted surrogate" err

expect_rc 0 "$B" fit "$F" --members 2 --epochs 60 --rounds 20 --seed 4 --json
has '"runs":80' out; has '"members":2' out; has '"degree":5' out; has '"networks":"shared"' out
has '"curves":\["test_acc","test_acc_plain","val_acc","train_acc"\]' out

# a config of the file (the tabular answer exists) and the surrogate's answer
Q=d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50
expect_rc 0 "$B" query "$F" "$Q" --json
for k in '"test_acc":\[' '"test_acc_plain":\[' '"val_acc":\[' '"train_acc":\[' '"final_test_acc":' \
         '"train_time_s":' '"tec_kwh":' '"iec_j_per_image":' '"params":' '"flops":' '"acts":' \
         '"energy_method":"surrogate:estimate:synthetic"' '"epochs":50' '"from_table":false'; do
  has "$k" out
done
n=$(sed 's/.*"test_acc":\[\([^]]*\)\].*/\1/' "$T/out" | tr ',' '\n' | wc -l)
[ "$n" = 50 ] || fail "test_acc has $n values, wanted 50"
expect_rc 0 "$B" query "$F" "$Q" --json --epochs 20
has '"epochs":20' out
expect_rc 1 "$B" query "$F" "$Q" --epochs 51
has "epochs=51 is outside \[1, 50\]" err
expect_rc 0 "$B" query "$F" "$Q" --noise-seed 7 --json
cp "$T/out" "$T/n1"
expect_rc 0 "$B" query "$F" "$Q" --noise-seed 7 --json
cmp -s "$T/out" "$T/n1" || fail "noise with the same seed differs"
expect_rc 0 "$B" query "$F" "$Q" --noise-seed 8 --json
cmp -s "$T/out" "$T/n1" && fail "noise with another seed is identical"
expect_rc 1 "$B" query "$F" "$Q" --tabular
has "is not recorded" err
expect_rc 1 "$B" query "$F" d=99,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50

# batch mode: three lines, one bad; outputs for the good ones, exit 1
# (a UTF-8 byte order mark before line 1, a comment, a blank line with a tab: skipped)
printf '\357\273\277%s\n# comment\n%s\nnot-a-config\n \t\n' "$Q" "${Q%epochs=50}epochs=100" >"$T/in"
"$B" query "$F" - --json <"$T/in" >"$T/out" 2>"$T/err"
[ $? = 1 ] || fail "batch with a bad line should exit 1"
[ "$(wc -l <"$T/out")" = 2 ] || fail "batch printed $(wc -l <"$T/out") lines, wanted 2"
has "line 4 of stdin" err
# a 100 kB line is one bad line (line 2), not many numbered pieces; a NUL byte makes a line bad
{ echo "$Q"; head -c 100000 /dev/zero | tr '\0' '9'; echo; printf '%s\000junk\n' "$Q"; echo "$Q"; } >"$T/in"
"$B" query "$F" - <"$T/in" >"$T/out" 2>"$T/err"
[ $? = 1 ] || fail "batch with a long line should exit 1"
[ "$(grep -c '^eahas: line' "$T/err")" = 2 ] || fail "long line reported as $(grep -c '^eahas: line' "$T/err") errors: $(head -c 300 "$T/err")"
has "line 2 of stdin: config is too long" err
has "line 3 of stdin: contains a NUL byte" err
[ "$(grep -c '^d=6' "$T/out")" = 2 ] || fail "batch answered $(grep -c '^d=6' "$T/out") good lines, wanted 2"

# batch mode answers in blocks (64 lines per call, 16 configs per block): 80 configs with
# --epochs 60 (the 50-epoch ones fail) and --noise-seed give, line by line, the single answers;
# the failing lines are named, in input order, and the exit status is 1
"$B" space sample --preset cifar10 -n 80 --seed 3 >"$T/many" || fail "space sample"
"$B" query "$F" - --json --epochs 60 --noise-seed 5 <"$T/many" >"$T/bout" 2>"$T/berr"
[ $? = 1 ] || fail "batch with 50-epoch configs under --epochs 60 should exit 1"
: >"$T/sout"; : >"$T/serr"; ln=0
while read -r c; do
  ln=$((ln + 1))
  if "$B" query "$F" "$c" --json --epochs 60 --noise-seed 5 >>"$T/sout" 2>"$T/e1"; then :; else
    echo "eahas: line $ln of stdin: $(sed 's/^eahas: //' "$T/e1")" >>"$T/serr"
  fi
done <"$T/many"
cmp -s "$T/bout" "$T/sout" || fail "batch answers differ from single answers ($(wc -l <"$T/bout") vs $(wc -l <"$T/sout") lines)"
cmp -s "$T/berr" "$T/serr" || fail "batch errors differ from single errors: $(diff "$T/berr" "$T/serr" | head -4)"
[ "$(wc -l <"$T/serr")" -gt 5 ] && [ "$(wc -l <"$T/sout")" -gt 30 ] || fail "the batch test needs failing and answered lines"

# eval's options: non-integers, out-of-int values and unknown options are refused clearly
expect_rc 1 "$B" eval "$F" --members 1e99
has "members=1e99 is not a non-negative integer" err
expect_rc 1 "$B" eval "$F" --seed -5
has "seed=-5 is not a non-negative integer" err
expect_rc 1 "$B" eval "$F" --epochs 2.7
expect_rc 1 "$B" eval "$F" --degree nan
expect_rc 1 "$B" eval "$F" --bogus
has "unknown option '--bogus'" err
expect_rc 1 "$B" eval "$F" --holdout 1e-300
has "holdout fraction 1e-300 (seed 0) holds out none of the 80 usable runs" err
expect_rc 1 "$B" eval "$F" --hidden 0
has "hidden width 0 is outside \[1, 256\]" err
expect_rc 1 "$B" eval "$F" --rounds 0
has "\-\-rounds 0 is outside \[1, 100000\]" err
expect_rc 1 "$B" eval "$F" --epochs 100001
has "\-\-epochs 100001 is outside \[1, 100000\]" err
expect_rc 0 "$B" eval "$F" --members 1 --epochs 20 --json
has '"model":.*"bsc"' out; has '"model":.*"mlp-direct"' out; has '"model":.*"svd-xgb"' out
has '"quantity":.*"tec_kwh"' out
expect_rc 0 "$B" eval "$F" --members 1 --epochs 20
has "R2_final" out
# --hidden reaches the BSC and --rounds the trees: their rows change, and only theirs
grep ' bsc ' "$T/out" >"$T/bsc32"; grep ' trees ' "$T/out" >"$T/trees60"
expect_rc 0 "$B" eval "$F" --members 1 --epochs 20 --hidden 8
grep ' bsc ' "$T/out" | cmp -s - "$T/bsc32" && fail "eval --hidden 8 printed the default width's bsc rows"
grep ' trees ' "$T/out" | cmp -s - "$T/trees60" || fail "eval --hidden 8 changed the trees' rows"
expect_rc 0 "$B" eval "$F" --members 1 --epochs 20 --rounds 5
grep ' trees ' "$T/out" | cmp -s - "$T/trees60" && fail "eval --rounds 5 printed the default rounds' trees rows"
# --per-curve: the report says which networks it evaluated, and their bsc rows differ
has "BSC networks shared" out
expect_rc 0 "$B" eval "$F" --members 1 --epochs 20 --per-curve
has "BSC networks per-curve" out
grep ' bsc ' "$T/out" | cmp -s - "$T/bsc32" && fail "eval --per-curve printed the shared networks' bsc rows"
expect_rc 0 "$B" eval "$F" --members 1 --epochs 20 --per-curve --json
has '"bsc_networks":[[:space:]]*"per-curve"' out

# the runs change: the stored model is refused
"$MK" "$F" 85 3 >/dev/null 2>&1
expect_rc 1 "$B" query "$F" "$Q"
has "fitted on 80 runs" err
has "run 'eahas fit' again" err

[ "$fails" = 0 ] && echo "all surrogate CLI tests passed"
exit "$fails"
