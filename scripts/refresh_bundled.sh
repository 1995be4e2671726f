#!/bin/sh
# Rebuild the bundled benchmark data/fashion-mnist.eahas from the sweep's records:
# collect into a new file, fit the surrogates, evaluate them; the committed file is replaced only
# when all three succeeded (a failure leaves it as it was). Writes the eval report's table to
# out/eval-report.txt, then refreshes the README's demo output and the tables of
# docs/eval-report.md (default split and three 30 % splits).
# Run from the repository root after `make build`. Usage: scripts/refresh_bundled.sh [fit options]
set -eu
EAHAS=${EAHAS:-build/eahas}
BENCH=data/fashion-mnist.eahas
NEW=data/.fashion-mnist.eahas.new
mkdir -p out
rm -f "$NEW"
trap 'rm -f "$NEW" out/eval-report.txt.new' EXIT
"$EAHAS" collect data/sweep -o "$NEW"
"$EAHAS" fit "$NEW" "$@"
"$EAHAS" eval "$NEW" >out/eval-report.txt.new
mv "$NEW" "$BENCH"
sed "s#$NEW#$BENCH#" out/eval-report.txt.new >out/eval-report.txt   # name the committed file
rm -f out/eval-report.txt.new
trap - EXIT
"$EAHAS" table stats "$BENCH"
# the README changes only if the whole demo succeeded (sh has no pipefail)
scripts/demo.sh >out/demo-output.txt
scripts/readme_demo.py <out/demo-output.txt
scripts/eval_report_tables.py "$EAHAS"
echo "refreshed $BENCH; eval tables in docs/eval-report.md (edit its prose); README demo output updated"
