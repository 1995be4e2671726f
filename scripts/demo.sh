#!/bin/sh
# The main job of `make demo`: an energy-aware search comparison on the bundled benchmark.
# Run from the repository root after `make build`.
set -e
EAHAS=${EAHAS:-build/eahas}
BENCH=${BENCH:-data/fashion-mnist.eahas}
OUT=${OUT:-out/demo}
BUDGET=${BUDGET:-0.02}
SEEDS=${SEEDS:-10}
CONFIG="d=10,w0=64,wa=23.1,wm=2.829,gw=24,lr=0.01,opt=adamw,sched=lin,cutout=0,epochs=100"

echo "== the bundled benchmark: $BENCH =="
$EAHAS table stats "$BENCH" | sed -n '1,11p'
echo
echo "== a surrogate query of an untrained config =="
echo "\$ eahas query $BENCH $CONFIG"
$EAHAS query "$BENCH" "$CONFIG"
echo
echo "== nine optimizers x $SEEDS seeds, each under a budget of $BUDGET kWh of (estimated) training energy =="
$EAHAS search "$BENCH" --optimizer rs,re,ls,bananas,hb,bohb,ea-re,ea-ls,ea-bananas \
  --budget-kwh "$BUDGET" --seeds "$SEEDS" -o "$OUT" --quiet
echo
$EAHAS plot regret "$OUT" -o "$OUT/plots"
