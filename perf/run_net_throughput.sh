#!/bin/sh
# Training throughput of the net module against PyTorch CPU (docs/PERFORMANCE-net.md), meant for
# an IDLE machine: with threads > 1 every oneDNN primitive ends in an OpenMP barrier, so any other
# load on the cores turns the 2-thread numbers into a measure of the scheduler.
# Usage, from the repository root:  sh perf/run_net_throughput.sh [build-dir=build] [iterations=10]
# Prints: the 4-config table with 1 thread and with 2 threads (ours vs PyTorch, ratio, our CPU s
# per step), then the gw=16 config's oneDNN primitives at 2 threads (implementation, calls, ms).
set -eu
B=${1:-build}
IT=${2:-10}
PY=/usr/bin/python3
cmake --build "$B" --target net_throughput >/dev/null
echo "== load before the run: $(cat /proc/loadavg)"
for t in 1 2; do
  echo "== $t thread(s), default OpenMP settings"
  OMP_NUM_THREADS=$t "$B/net_throughput" "$IT" "$PY" "$t"
done
echo "== 2 threads, OMP_PROC_BIND=close OMP_PLACES=cores"
OMP_NUM_THREADS=2 OMP_PROC_BIND=close OMP_PLACES=cores "$B/net_throughput" "$IT" "$PY" 2
echo "== gw=16 config (index 2), 2 threads: oneDNN primitives over the timed steps"
OMP_NUM_THREADS=2 ONEDNN_VERBOSE=1 "$B/net_throughput" 4 - 2 2 |
  awk -F, '/^onednn_verbose,exec/ { n++; k[n] = $4 " " $5 " " $6; t[n] = $NF }
           END { for (i = int(n / 3) + 1; i <= n; i++) { c[k[i]]++; s[k[i]] += t[i]; tot += t[i] }
                 for (x in s) printf "%9.2f ms %5d  %s\n", s[x], c[x], x
                 printf "%9.2f ms total (4 timed steps)\n", tot }' | sort -rn
echo "== load after the run: $(cat /proc/loadavg)"
