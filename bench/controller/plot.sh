#!/usr/bin/env bash
# Plot of bench-controller: time until every MCPServer has its Deployment and
# Service vs N, both operators.
# usage: plot.sh DATA PNG WORKERS PEER_VERSION TIMEOUT
#   DATA lines: N ours_s peer_s ours_timeout_done peer_timeout_done ("-" = finished; NaN = not run)
#   A side that timed out is drawn at TIMEOUT with "k of N done" beside it.
set -euo pipefail
data=$1 png=$2 workers=$3 peer=$4 timeout=$5
mkdir -p "$(dirname "$png")"
gnuplot <<EOF2
set terminal pngcairo size 860,520 noenhanced
set output "$png"
set title "Time until every MCPServer has its Deployment and Service (local control plane, 2-core machine)"
set xlabel "MCPServers"
set ylabel "seconds after the first create"
set key bottom right
set grid
set offsets 0, graph 0.08, graph 0.1, 0
plot "$data" using 1:2 with linespoints lw 2 pt 7 title "mcp-controller (--workers $workers)", \
     "$data" using 1:3 with linespoints lw 2 pt 5 title "ToolHive thv-operator $peer", \
     "$data" using 1:(stringcolumn(5) eq "-" ? 1/0 : \$3):(sprintf("timed out: %s of %d done at $timeout s ", stringcolumn(5), \$1)) with labels right offset 0,1 notitle, \
     "$data" using 1:(stringcolumn(4) eq "-" ? 1/0 : \$2):(sprintf("timed out: %s of %d done at $timeout s ", stringcolumn(4), \$1)) with labels right offset 0,1 notitle
EOF2
