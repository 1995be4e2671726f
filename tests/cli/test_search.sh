#!/bin/sh
# eahas search and eahas plot on the synthetic benchmark: help, bad input, outputs, budget never
# exceeded, determinism across runs and thread counts, --no-partial, plots with and without gnuplot.
set -u
B=${EAHAS_BIN:?EAHAS_BIN must point at the eahas binary}
T=$(mktemp -d /tmp/eahas_cli_search.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$B" search --help | grep -q "budget-kwh" || fail "search --help"
"$B" plot --help | grep -q "pareto" || fail "plot --help"

"$B" search --synthetic -o "$T/x" 2>"$T/err"; [ $? -eq 1 ] || fail "missing budget: exit 1"
grep -q "a budget is required" "$T/err" || fail "missing budget message"
"$B" search --synthetic --budget-kwh 5 --optimizer rs,sa -o "$T/x" 2>"$T/err"; [ $? -eq 1 ] || fail "bad optimizer"
grep -q "optimizer 'sa' is unknown" "$T/err" || fail "bad optimizer message"
"$B" search --synthetic --budget-kwh 5 --optimizer rs,,re -o "$T/x" 2>"$T/err"; [ $? -eq 1 ] || fail "empty optimizer item"
grep -q "'rs,,re' has an empty item" "$T/err" || fail "empty optimizer item message"
"$B" search --synthetic --budget-kwh -3 -o "$T/x" 2>"$T/err"; [ $? -eq 1 ] || fail "negative budget"
"$B" search --synthetic --budget-kwh 5 --hb-eta 1 -o "$T/x" 2>"$T/err"; [ $? -eq 1 ] || fail "bad hb-eta"
grep -q "hb_eta=1 is outside" "$T/err" || fail "bad hb-eta message"
"$B" search /nonexistent.eahas --budget-kwh 5 -o "$T/x" 2>"$T/err"; [ $? -ne 0 ] || fail "missing file"
"$B" search --synthetic --budget-kwh 5 -o '' 2>"$T/err"; [ $? -eq 1 ] || fail "empty -o: exit 1"
grep -q "search: -o needs a name, got an empty string" "$T/err" || fail "empty -o message"
"$B" plot pareto '' 2>"$T/err"; [ $? -eq 1 ] || fail "plot pareto '': exit 1"
"$B" plot pareto "$T/x" -o '' 2>"$T/err"; [ $? -eq 1 ] || fail "plot -o '': exit 1"
grep -q "plot: -o needs a name" "$T/err" || fail "plot empty -o message"

# a budget below the cost of any evaluation: valid output with n/a, and a note saying why
"$B" search --synthetic --budget-kwh 1e-12 --seeds 2 --optimizer rs,hb --quiet -o "$T/tiny" >"$T/out" 2>"$T/err" ||
  fail "tiny budget: exit $?"
grep -q "4 of 4 runs made no evaluation: the budget of 1e-12 kWh is below the cost of their first one" "$T/err" ||
  fail "tiny budget note: $(cat "$T/err")"
grep -q "n/a" "$T/out" || fail "tiny budget: no n/a in $(cat "$T/out")"
COMMON="--synthetic --budget-kwh 15 --seeds 2 --quiet --bananas-steps 5"
"$B" search $COMMON --jobs 2 -o "$T/a" >"$T/out" || fail "search run"
ls "$T/a" | grep -q '\.new$' && fail "a .new file left after the output set was written"
for f in trajectories.csv trajectories.json summary.json summary.txt; do
  [ -s "$T/a/$f" ] || fail "missing $f"
done
for o in rs re ls bananas hb bohb ea-re ea-ls ea-bananas; do
  grep -q "^$o " "$T/out" || fail "table lacks $o"
done
grep -q "vs re to regret\|never reached re" "$T/out" || fail "EA- saving column"
# budget never exceeded: column 12 is cum_energy_kwh (the config column is quoted: count from the end)
awk -F, 'NR > 1 { if ($(NF-7) + 0 > 15) bad = 1 } END { exit bad }' "$T/a/trajectories.csv" || fail "budget exceeded"
# same seeds, other thread count: identical trajectories
"$B" search $COMMON --jobs 1 -o "$T/b" >/dev/null || fail "search --jobs 1"
cmp -s "$T/a/trajectories.csv" "$T/b/trajectories.csv" || fail "not deterministic across --jobs"
# --no-partial: no truncated evaluation (column 8 from the end is truncated? use the header)
"$B" search $COMMON --optimizer rs,hb --no-partial -o "$T/c" >/dev/null || fail "--no-partial"
awk -F, 'NR > 1 { if ($(NF-11) != 0) bad = 1 } END { exit bad }' "$T/c/trajectories.csv" || fail "truncated with --no-partial"
awk -F, 'NR > 1 { if ($(NF-11) != 0) n++ } END { exit !(n > 0) }' "$T/a/trajectories.csv" || fail "no truncated evaluation by default"
"$B" search $COMMON --optimizer rs --json -o "$T/d" | grep -q '"optimizer": "rs"' || fail "--json"

# plots: without gnuplot a message and exit 0, scripts written
EAHAS_GNUPLOT= "$B" plot regret "$T/a" 2>"$T/err" >/dev/null || fail "plot without gnuplot: exit 0"
grep -q "gnuplot not found" "$T/err" || fail "no-gnuplot message"
[ -s "$T/a/plots/regret.gp" ] && [ -s "$T/a/plots/regret.dat" ] || fail "scripts not written without gnuplot"
if command -v gnuplot >/dev/null 2>&1; then
  "$B" plot regret "$T/a" >/dev/null || fail "plot regret"
  [ -s "$T/a/plots/regret.svg" ] && [ -s "$T/a/plots/regret.png" ] || fail "regret svg/png"
  "$B" plot pareto "$T/a" -o "$T/p" >/dev/null 2>&1 || fail "plot pareto"
  [ -s "$T/p/pareto.svg" ] || fail "pareto svg"
  "$B" plot curves --synthetic --config d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100 -o "$T/p" >/dev/null || fail "plot curves"
  [ -s "$T/p/curves.png" ] || fail "curves png"
fi
"$B" plot curves --synthetic --config d=99 -o "$T/p" 2>/dev/null; [ $? -eq 1 ] || fail "bad config: exit 1"
"$B" plot sideways "$T/a" 2>/dev/null; [ $? -eq 1 ] || fail "unknown plot: exit 1"
echo ok
