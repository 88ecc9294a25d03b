#!/usr/bin/env bash
# The latency table's predictors against measurement, and the measurement's own repeatability (issue 18, item 7's table
# target): N candidates sampled from SPACE (seed SEED), untrained; each piece timed alone and after its predecessor, each
# whole network timed in two passes after the table, by the wall clock and by the thread's CPU time (bench/latency-floor).
# Columns: "pass A vs pass B" the models within ±10 % of themselves (the noise floor); per predictor, within ±10 % of pass A,
# the spread (standard deviation of ln(predicted / measured): what a scale cannot remove) and within ±10 % after a scale fitted
# on the first 3 candidates, counted on the others.
# Usage: [N=16] [ROUNDS=8] [SEED=1] [SPACE=spaces/fashion-cnn.yaml] bench/latency_floor.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/latency-floor}
mkdir -p "$out"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)" > "$out/started"
dotnet build bench/latency-floor -c Release -v quiet -nologo > /dev/null
dotnet bench/latency-floor/bin/Release/net10.0/LatencyFloor.dll "${SPACE:-spaces/fashion-cnn.yaml}" "${N:-16}" "${ROUNDS:-8}" "$out/models" "${SEED:-1}" > "$out/rows.tsv"
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/started"
cat "$out/started"
/usr/bin/python3 bench/latency_floor.py "$out/rows.tsv"
