#!/bin/sh
# CLI tests of `eahas space`: the pycls reference models through the override flags, sampling
# 1000 cifar10 configs that all satisfy the constraints, reproducibility, validate's reports and
# exit statuses. Needs EAHAS_BIN (set by ctest).
. "$(dirname "$0")/lib.sh"

IMAGENET="--preset cifar10 --stem simple_stem_in --stem-w 32 --im-size 224 --in-channels 3 --classes 1000"

# --- the pycls zoo (REFERENCE.md §3) ---
expect_rc 0 "$B" space describe d=13,w0=24,wa=36.44,wm=2.49,gw=8 $IMAGENET --se off --json
has '"flops":199040872,' out; has '"params":2684792,' out; has '"acts":2164056,' out
has '"widths":\[24,56,152,368\]' out; has '"depths":\[1,1,4,7\]' out; has '"num_stages":4' out
has '"group_widths":\[8,8,8,8\]' out; has '"constraints_ok":false' out
expect_rc 0 "$B" space describe d=13,w0=24,wa=36.44,wm=2.49,gw=8 $IMAGENET --se on --json
has '"flops":199519076,' out; has '"params":3162996,' out; has '"acts":2168052,' out
expect_rc 0 "$B" space describe d=14,w0=56,wa=38.84,wm=2.4,gw=16 $IMAGENET --se on --json
has '"flops":797183328,' out; has '"params":6263168,' out; has '"acts":5249888,' out
has '"widths":\[64,128,320,768\]' out
# text form of describe
expect_rc 0 "$B" space describe d=14,w0=56,wa=38.84,wm=2.4,gw=16 $IMAGENET --se=on
has '^flops        797183328$' out; has '^params       6263168$' out; has 'stage 4' out

# --- sampling: 1000 cifar10 configs, all satisfying the constraints ---
# (Its speed, ~0.1 s of CPU, is measured and recorded in docs/PERFORMANCE.md, not asserted here:
# a timed test fails on a loaded machine or under the sanitizers.)
expect_rc 0 "$B" space sample --preset cifar10 -n 1000 --seed 1
cp "$T/out" "$T/s1"
[ "$(wc -l <"$T/s1")" -eq 1000 ] || fail "sample printed $(wc -l <"$T/s1") lines, wanted 1000"
[ "$(sort -u "$T/s1" | wc -l)" -gt 990 ] || fail "sample printed many duplicates"
"$B" space validate --preset cifar10 <"$T/s1" >"$T/vout" 2>"$T/verr" || fail "validate rejected sampled configs: $(head -3 "$T/vout")"
grep -q '^1000 lines, 0 bad' "$T/verr" || fail "validate summary: $(cat "$T/verr")"
# describe --json says constraints_ok for every 25th sampled config (the rest went through validate)
n=0
while IFS= read -r cfg; do
  n=$((n + 1))
  [ $((n % 25)) -eq 1 ] || continue
  "$B" space describe "$cfg" --preset cifar10 --json >"$T/d" 2>&1 || fail "describe $cfg failed"
  grep -q '"constraints_ok":true' "$T/d" || fail "describe says constraints fail for $cfg: $(cat "$T/d")"
  grep -q '"num_stages":2,"max_stages":2' "$T/d" || fail "not 2 stages: $cfg"
done <"$T/s1"
# same seed, same output; other seed, other output; JSON form parses back through validate
"$B" space sample --preset cifar10 -n 1000 --seed 1 >"$T/s1b" 2>/dev/null
cmp -s "$T/s1" "$T/s1b" || fail "same seed gave different configs"
"$B" space sample --preset cifar10 -n 1000 --seed 2 >"$T/s2" 2>/dev/null
cmp -s "$T/s1" "$T/s2" && fail "seeds 1 and 2 gave the same configs"
expect_rc 0 "$B" space sample --preset tinyimagenet -n 50 --seed 3 --json
[ "$(grep -c '^{"d":' "$T/out")" -eq 50 ] || fail "sample --json did not print 50 objects"
cp "$T/out" "$T/sj"
"$B" space validate --preset tinyimagenet <"$T/sj" >/dev/null 2>&1 || fail "JSON samples do not validate"
expect_rc 0 "$B" space sample --preset fashion-mnist -n 20 --seed 4
cp "$T/out" "$T/fm"
"$B" space validate --preset fashion-mnist <"$T/fm" >/dev/null 2>&1 || fail "fashion-mnist samples do not validate"

# --- validate: bad lines with their numbers and reasons, exit 1 ---
{
  sed -n 1p "$T/s1"
  echo "d=12,w0=64,wa=20.3,wm=3.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100"
  echo ""
  sed -n 2p "$T/s1"
  echo "d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100"
  echo "d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100,foo=1"
  printf 'd=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=\377,sched=cos,cutout=16,epochs=100\n'
  echo "d=12,w0=64,wa=20.3,wm=2.600,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16"
  head -c 1048576 /dev/zero | tr '\0' 'd'
  echo
} >"$T/bad"
expect_rc 1 "$B" space validate --preset cifar10 <"$T/bad"
has '^line 2: wm=3.5 is out of range' out
grep -q '^line 3:' "$T/out" && fail "a blank line reported as bad"
has '^line 5: num_stages=3, max_stages=3: preset cifar10 requires exactly 2 stages' out
has "^line 6: unknown key 'foo'" out
has '^line 7: config is not valid UTF-8' out
has "^line 8: missing key 'epochs'" out
has '^line 9: config is too long' out
grep -q '^line [14]:' "$T/out" && fail "good lines reported as bad"
has '9 lines, 6 bad, 1 blank or comment' err
expect_rc 1 "$B" space validate --preset cifar10 --json <"$T/bad"
has '{"line":2,"error":"wm=3.5 is out of range' out
# the lines `query -` skips: a UTF-8 byte order mark before line 1, comments, blank lines
{ printf '\357\273\277'; sed -n 1p "$T/s1"; echo "# sampled with seed 1"; printf ' \t\r\n'; sed -n 2p "$T/s1"; } >"$T/bom"
expect_rc 0 "$B" space validate --preset cifar10 <"$T/bom"
has '^4 lines, 0 bad, 2 blank or comment' err
# --no-constraints: line 5 is in the space, only its stage count breaks the constraints
expect_rc 1 "$B" space validate --preset cifar10 --no-constraints <"$T/bad"
grep -q '^line 5:' "$T/out" && fail "--no-constraints still checks the constraints"

# --- encode ---
expect_rc 0 "$B" space encode d=15,w0=128,wa=8.0,wm=2.750,gw=32,lr=0.5,opt=adamw,sched=lin,cutout=0,epochs=200 --preset cifar10
has '^1 1 0 0.5 1 0 0 0 0 0 0 0 0 1 0 0 0 1 0 0 1 1 0 0 0 1$' out
expect_rc 0 "$B" space encode d=15,w0=128,wa=8.0,wm=2.750,gw=32,lr=0.5,opt=adamw,sched=lin,cutout=0,epochs=200 --preset cifar10 --json
has '^\[1,1,0,0.5,1,0,0,0,0,0,0,0,0,1,0,0,0,1,0,0,1,1,0,0,0,1\]$' out

# --- errors and help ---
expect_rc 1 "$B" space sample --preset cifar100 -n 1
has "preset 'cifar100' is unknown" err
expect_rc 1 "$B" space sample -n 1
has '\-\-preset is required' err
expect_rc 1 "$B" space sample --preset cifar10 -n abc
expect_rc 1 "$B" space sample --preset cifar10 --bogus 1
has "unknown option '--bogus'" err
# stdin from a directory: bad input with the reason
expect_rc 1 "$B" space validate --preset cifar10 <"$T"
has "reading stdin failed after line 0: Is a directory" err
# an unknown option last on the line is unknown, not "needs a value"
expect_rc 1 "$B" space sample --preset cifar10 --bogus
has "unknown option '--bogus'" err
expect_rc 1 "$B" space sample --preset cifar10 -n
has "option -n needs a value" err
# off-grid architectures that overflowed int: a clear error, exit 1
expect_rc 1 "$B" space describe d=13,w0=24,wa=1e308,wm=2.49,gw=8 --preset cifar10
has "block 2 has width 1.09271e+308, above 1000000" err
expect_rc 1 "$B" space describe d=15,w0=100000,wa=100000,wm=3,gw=8 --preset cifar10 --im-size 1000000 --stem-w 1000000
has "exceeds 2^63" err
expect_rc 1 "$B" space describe d=12,w0=60 --preset cifar10
has "missing key" err
expect_rc 1 "$B" space describe d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.2,opt=sgd,sched=cos,cutout=16,epochs=100 --preset cifar10
has 'lr=0.2 is not one of' err
expect_rc 1 "$B" space describe d=13,w0=24,wa=36.44,wm=0.9,gw=8 --preset cifar10
has 'wm=0.9 is out of range' err
expect_rc 1 "$B" space describe d=13,w0=24,wa=36.44,wm=2.49,gw=8 --preset cifar10 --se maybe
expect_rc 1 "$B" space frobnicate
expect_rc 0 "$B" space --help
has 'sample' out
for sub in sample describe encode validate; do
  expect_rc 0 "$B" space $sub --help
  has "usage: eahas space $sub" out
done
# a full config under a preset without overrides: constraints hold / fail as validate says
expect_rc 0 "$B" space describe d=15,w0=80,wa=9.2,wm=2.844,gw=24,lr=0.001,opt=adam,sched=exp,cutout=16,epochs=50 --preset cifar10 --json
has '"constraints_ok":true' out; has '"num_stages":2' out

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all space CLI checks passed"
