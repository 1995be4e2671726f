#!/bin/sh
# The main job of `make demo`. Run from the repository root after `make build`.
set -e
EAHAS=${EAHAS:-build/eahas}
echo "== five cifar10 configs sampled under the EA-HAS-Bench constraints (seed 1) =="
$EAHAS space sample --preset cifar10 -n 5 --seed 1 | while read -r cfg; do
  echo "$cfg"
  $EAHAS space describe "$cfg" --preset cifar10 | sed 's/^/    /'
done
