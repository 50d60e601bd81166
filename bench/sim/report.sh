#!/usr/bin/env bash
# Regenerates the simulator's tables and plot for docs/BENCHMARKS.md from
# the committed code:  scripts/build.sh && bench/sim/report.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
sim=${BUILDDIR:-build}/bench/sim/vnuma-sim

"$sim" --hours 4 --seed 1 examples/hosts/small-2node.xml examples/hosts/xeon-2s10c-ht.xml \
  examples/hosts/xeon-4s4c-ht.xml examples/hosts/epyc-nps4-2s.xml

data=$(mktemp)
trap 'rm -f "$data"' EXIT
"$sim" --hours 4 --seed 1 --trace phase --series "$data" examples/hosts/xeon-4s4c-ht.xml >/dev/null
gnuplot -e "data='$data'; out='docs/sim-phase-xeon-4s4c.png'; heading='phase trace on xeon-4s4c-ht (4 nodes), seed 1; locality and contention per 5 minutes'" \
  bench/sim/plot.gp
echo "wrote docs/sim-phase-xeon-4s4c.png"
