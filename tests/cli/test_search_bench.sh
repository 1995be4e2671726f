#!/bin/sh
# eahas search and eahas plot on a fitted surrogate benchmark (synthetic runs written by the
# surrogate module's test helper, fitted small): all nine optimizers, the optimum found from the
# recorded + sampled configs, budget never exceeded, determinism across --jobs, curves with the
# recorded run, the Pareto front of the recorded runs.
set -u
B=${EAHAS_BIN:?EAHAS_BIN must point at the eahas binary}
MK=${EAHAS_BUILD:?EAHAS_BUILD must point to the build directory}/surrogate_make_synth
T=$(mktemp -d /tmp/eahas_cli_search_bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$MK" ] || fail "test helper $MK not built"

"$MK" "$T/b.eahas" 120 3 cifar10 >/dev/null || fail "make_synth"
"$B" search "$T/b.eahas" --budget-kwh 0.2 -o "$T/x" 2>"$T/err"; [ $? -eq 1 ] || fail "unfitted file: exit 1"
grep -q "eahas fit" "$T/err" || fail "unfitted file message"
if command -v sqlite3 >/dev/null 2>&1; then # unfitted: a recorded config plots its recorded curves alone
  REC=$(sqlite3 "$T/b.eahas" "select * from configs limit 1" | cut -d'|' -f3)
  EAHAS_GNUPLOT= "$B" plot curves "$T/b.eahas" --config "$REC" -o "$T/u" 2>"$T/err" || fail "plot curves (unfitted)"
  grep -q "recorded curves only" "$T/err" || fail "unfitted: no note on stderr"
  grep -q "test EMA (recorded)" "$T/u/curves.gp" || fail "unfitted: recorded curves missing"
  grep -q "title 'val (surrogate)'" "$T/u/curves.gp" && fail "unfitted: surrogate curves plotted"
  awk '!/^#/ { n++; if ($2 ~ /nan/ || $5 !~ /^-?nan$/) bad = 1 } END { exit bad || n == 0 }' "$T/u/curves.dat" \
    || fail "unfitted: recorded columns should be full, surrogate columns NaN"
  UNREC=d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100
  EAHAS_GNUPLOT= "$B" plot curves "$T/b.eahas" --config "$UNREC" -o "$T/v" 2>"$T/err"; [ $? -eq 1 ] \
    || fail "unfitted, unrecorded config: exit 1"
  grep -q "not recorded there and the file holds no fitted surrogate" "$T/err" || fail "unfitted, unrecorded: message"
fi
EAHAS_GNUPLOT= "$B" plot curves "$T/nonexistent.eahas" --config d=12 -o "$T/w" 2>"$T/err"; [ $? -eq 1 ] || fail "missing file: exit 1"
grep -q "recorded curves only" "$T/err" && fail "missing file must not fall back"
"$B" fit "$T/b.eahas" --members 2 --hidden 16 --epochs 60 --rounds 20 >/dev/null 2>&1 || fail "fit"

COMMON="--budget-kwh 0.2 --seeds 2 --quiet --bananas-steps 5 --optimum-samples 1000"
"$B" search "$T/b.eahas" $COMMON --jobs 2 -o "$T/a" >"$T/out" || fail "search"
for o in rs re ls bananas hb bohb ea-re ea-ls ea-bananas; do
  grep -q "^$o " "$T/out" || fail "table lacks $o"
done
grep -q "over the 120 recorded configs and 1000 configs sampled" "$T/a/summary.json" || fail "optimum method"
awk -F, 'NR > 1 { if ($(NF-7) + 0 > 0.2) bad = 1; if ($NF + 0 < -1e-6) neg = 1 } END { exit bad + neg }' \
  "$T/a/trajectories.csv" || fail "budget exceeded or negative regret"
"$B" search "$T/b.eahas" $COMMON --jobs 1 -o "$T/b" >/dev/null || fail "search --jobs 1"
cmp -s "$T/a/trajectories.csv" "$T/b/trajectories.csv" || fail "not deterministic across --jobs"

CFG=$(sed -n '2p' "$T/a/trajectories.csv" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
EAHAS_GNUPLOT= "$B" plot curves "$T/b.eahas" --config "$CFG" -o "$T/p" 2>/dev/null || fail "plot curves"
[ -s "$T/p/curves.dat" ] || fail "curves.dat"
if command -v sqlite3 >/dev/null 2>&1; then # a recorded config: its curves include the recorded run
  REC=$(sqlite3 "$T/b.eahas" "select * from configs limit 1" | cut -d'|' -f3)
  EAHAS_GNUPLOT= "$B" plot curves "$T/b.eahas" --config "$REC" -o "$T/r" 2>/dev/null || fail "plot curves (recorded)"
  grep -q "test EMA (recorded)" "$T/r/curves.gp" || fail "recorded curves missing"
  awk '!/^#/ { if ($2 ~ /nan/) bad = 1 } END { exit bad }' "$T/r/curves.dat" || fail "recorded values missing"
fi
EAHAS_GNUPLOT= "$B" plot pareto "$T/b.eahas" -o "$T/p" 2>"$T/err" || fail "plot pareto"
grep -q "Pareto front of [1-9]" "$T/err" || fail "pareto front size"
[ "$(grep -vc '^#' "$T/p/pareto.dat")" -eq 120 ] || fail "pareto.dat should hold the 120 recorded runs"
echo ok
