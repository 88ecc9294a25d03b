#!/usr/bin/env bash
# The targets of `shrink search` (issue 18, item 7) on full Fashion-MNIST, spaces/fashion-cnn.yaml, goals accuracy and
# batch-1 latency, latency also at batch 256, THREADS ONNX Runtime threads:
# - vs-zoo: evolution, TRIALS trials of EPOCHS epochs (seed 0, --latency table), the front and the best of each goal trained
#   afresh for FINAL epochs; the references lenet5, lenet300 and vgg-small: the trained files of bench/train_accuracy.sh in
#   TRAINED_DIR when there (fully trained), else the zoo's trained like a trial. Target: a fully trained front model that beats
#   lenet5 on accuracy and batch-1 latency, and one that beats vgg-small's accuracy at under half its batch-256 latency.
# - strategies: evolution against random search at TRIALS trials on SEEDS (seed 0's evolution is vs-zoo's run); the
#   hypervolume of each (batch-1 latency, test error) front, and whether evolution's front dominates random's.
# - table: the latency table's predictions against measurement on every measured trial of those runs (share within ±10 %,
#   Kendall τ): target 90 %.
# - repeat: the noise floor of that target: every completed trial's model of the strategies runs timed twice more (shrink bench,
#   THREADS threads, 24 runs after 3 warm-up, as the search's 8 rounds of 3), one pass over all of a run's models then the
#   other; the share of models whose two timings are within ±10 % of each other bounds what the table can reach.
# - crash: evolution, CRASH_TRIALS trials, killed with kill -9 after KILL_AFTER finished trials, resumed: no finished trial lost.
# Every candidate and final model trains with RECIPE (RECIPE= for the library's adam): by default the recipe
# bench/train_accuracy.sh trains lenet5 and vgg-small with (sgd lr 0.05, weight decay 5e-4, cosine over each training's own
# epochs, batch 128), so that "fully trained" means the same on both sides.
# Reduced runs: TRIALS=N (default 60), LIMIT=N trains on the first N training images (the test split is always all 10,000),
# EPOCHS (default 3), FINAL (default 15).
# Usage: [PARTS=vs-zoo,strategies,repeat,crash] [TRIALS=60] [EPOCHS=3] [FINAL=15] [RECIPE="--optimizer sgd …"] [LIMIT=] [SEEDS=0,1,2] [THREADS=1] [CRASH_TRIALS=8] [KILL_AFTER=3]
#        bench/search.sh [TRAINED_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/search}
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
parts=${PARTS:-vs-zoo,strategies,repeat,crash}
trials=${TRIALS:-60}
mkdir -p "$out"
source bench/common.sh
py=/usr/bin/python3
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)" > "$out/started"
has() { [[ ",$parts," == *",$1,"* ]]; }
read -ra recipe <<< "${RECIPE---optimizer sgd --lr 0.05 --weight-decay 5e-4 --schedule cosine --batch 128}"
common=(--space spaces/fashion-cnn.yaml "${recipe[@]}" --data "$data" --epochs-per-trial "${EPOCHS:-3}" --objective accuracy,latency_b1 --large-batch 256
        --latency-threads "${THREADS:-1}" --latency table ${LIMIT:+--limit "$LIMIT"})

# search DIR ARGS...: one run into DIR; the command to DIR.cmd, the JSON result to DIR.json, the wall seconds to DIR.seconds.
search() {
  local dir=$1
  shift
  rm -rf "$dir"
  echo "shrink search $* --out $dir" | sed "s|$PWD/||g" > "$dir.cmd"
  echo "== $(cat "$dir.cmd")" >&2
  local start=$SECONDS
  shrink search "$@" --out "$dir" --json > "$dir.json" 2> "$dir.log" || { echo "search failed: $(tail -3 "$dir.log")" >&2; exit 1; }
  echo "$((SECONDS - start))" > "$dir.seconds"
}

references() {
  local list=()
  for m in lenet5 lenet300 vgg-small; do
    if [ -f "$trained/$m.onnx" ]; then list+=("$m=$trained/$m.onnx"); else list+=("$m"); fi
  done
  (IFS=,; echo "${list[*]}")
}

if has vs-zoo; then
  search "$out/evolution-0" "${common[@]}" --strategy evolution --trials "$trials" --seed 0 --final-epochs "${FINAL:-15}" --references "$(references)"
fi

if has strategies; then
  for seed in $(echo "${SEEDS:-0,1,2}" | tr , ' '); do
    [ "$seed" = 0 ] && [ -f "$out/evolution-0.json" ] || search "$out/evolution-$seed" "${common[@]}" --strategy evolution --trials "$trials" --seed "$seed" --references none
    search "$out/random-$seed" "${common[@]}" --strategy random --trials "$trials" --seed "$seed" --references none
  done
fi

# repeat DIR: each completed trial's model of the run DIR timed in two passes, into DIR.repeat1.json and DIR.repeat2.json
# (one shrink bench --json document per model).
repeat() {
  local dir=$1 pass m
  for pass in 1 2; do
    for m in "$dir"/trials/*/model.onnx; do
      if [ -f "$m" ]; then shrink bench "$m" --batch 1,256 --threads "${THREADS:-1}" --runs 24 --warmup 3 --json; fi
    done > "$dir.repeat$pass.json"
  done
}

if has repeat; then
  for seed in $(echo "${SEEDS:-0,1,2}" | tr , ' '); do
    for s in evolution random; do
      if [ -d "$out/$s-$seed/trials" ]; then repeat "$out/$s-$seed"; fi
    done
  done
fi

if has crash; then
  dir="$out/crash"
  rm -rf "$dir" "$dir.before.json"
  args=("${common[@]}" --strategy evolution --trials "${CRASH_TRIALS:-8}" --seed 3 --references none --out "$dir")
  echo "shrink search ${args[*]} [--resume], killed with kill -9 after ${KILL_AFTER:-3} finished trials" | sed "s|$PWD/||g" > "$dir.cmd"
  # The CLI itself (not the shell function), so that $! is the process kill -9 hits.
  dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll search "${args[@]}" --json > "$dir.json" 2> "$dir.log" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(grep -c '^trial ' "$dir.log" || true)" -ge "${KILL_AFTER:-3}" ]; then
      sleep 2   # into the next trial
      kill -9 "$pid"
      break
    fi
    sleep 1
  done
  wait "$pid" 2>/dev/null || true
  cp "$dir/result.json" "$dir.before.json"
  dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll search "${args[@]}" --resume --json > "$dir.json" 2>> "$dir.log"
fi

$py bench/search_table.py "$out" "${SEEDS:-0,1,2}" "$parts"
