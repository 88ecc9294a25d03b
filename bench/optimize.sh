#!/usr/bin/env bash
# The targets of `shrink optimize` (issue 17, item 10) on full Fashion-MNIST with the zoo models of
# bench/train_accuracy.sh (their cache in TRAINED_DIR; missing ones are trained first). Parts (PARTS, comma-separated):
# - size: lenet5, vgg-small (SIZE_MODELS), --goal size --max-accuracy-drop 0.5 --budget 2h with every technique, and the
#   same budget restricted to each single technique (--techniques T, SINGLE) for "the best single technique alone";
#   the compression ratio is the float ONNX file's bytes over the best trial's size figure (the .shrink container of a
#   clustered trial: the figure of the README's Deep Compression ratios; else parameter bytes with sparse float tensors
#   in Deep Compression's relative-index form where smaller, ModelStats.SparseBytes), checked by packing
#   best.onnx with `shrink pack` (its container bytes and the unpacked model's accuracy); the hand-made pipeline's
#   ratio is measured from out/deep-compression (bench/deep_compression.sh) when it is there.
# - latency: vgg-small, resnet-small (LATENCY_MODELS), --goal latency --max-accuracy-drop 1, every technique against each
#   single one of SINGLE_LATENCY (structured: the README's 3.36× and 1.77×); the bests, side by side in one interleaved
#   `shrink bench` run at batch 1 and 256; then lenet5 --goal latency --max-accuracy-drop 0.5 (LENET_LATENCY_BUDGET,
#   default 0.5 of BUDGET) against PyTorch's eager int8 of the same weights (bench/pytorch_quantize.py) in the same run.
# - crash: lenet5 --goal size --trials CRASH_TRIALS --seed 0 uninterrupted, then the same run killed with kill -9 KILLS
#   times at random moments (2 to KILL_MAX seconds after each start, RANDOM seeded by CRASH_SEED) and resumed: no
#   finished trial lost or rerun (number, hash, metrics and finish time unchanged), and the same best (configuration hash, best.onnx bytes).
# - strategies: vgg-small (STRATEGY_MODEL) --goal size, evolution against random at STRATEGY_TRIALS trials, seeds SEEDS;
#   the hypervolume of each (size, accuracy) front per seed.
# Reduced runs: TRIALS=N replaces every time budget by N trials, LIMIT=N fine-tunes on N training images, MAX_EPOCHS
# (default 10, as the hand-made lenet5 pipeline's distilled epochs) bounds the fine-tuning epochs.
# Usage: [PARTS=size,latency,crash,strategies] [BUDGET=2h] [TRIALS=] [LIMIT=] [MAX_EPOCHS=10] [SINGLE=unstructured,structured,factorize,quantize,cluster,half]
#        [SIZE_MODELS=lenet5,vgg-small] [LATENCY_MODELS=vgg-small,resnet-small] [SINGLE_LATENCY=structured,quantize] [KILLS=20] [KILL_MAX=60]
#        [CRASH_TRIALS=12] [STRATEGY_TRIALS=40] [SEEDS=0,1,2] [THREADS=2] bench/optimize.sh [TRAINED_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/optimize}
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
parts=${PARTS:-size,latency,crash,strategies}
threads=${THREADS:-2}
mkdir -p "$out"
source bench/common.sh
py=/usr/bin/python3
started="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
echo "$started" > "$out/started"
has() { [[ ",$parts," == *",$1,"* ]]; }

# trained MODEL: the trained zoo model, trained by bench/train_accuracy.sh when missing.
trained() { [ -f "$trained/$1.onnx" ] || bench/train_accuracy.sh "$trained" "$1" >&2; echo "$trained/$1.onnx"; }

# budget [TIME]: the search budget flags (TRIALS replaces the time).
budget() { if [ -n "${TRIALS:-}" ]; then echo "--trials $TRIALS"; else echo "--budget ${1:-${BUDGET:-2h}}"; fi; }
common() { echo "--data $data --threads $threads --max-epochs ${MAX_EPOCHS:-10}${LIMIT:+ --limit $LIMIT}"; }

# optimize DIR ARGS...: one run into DIR (exit 3, budget missed, is a result too); the command goes to DIR.cmd, the result to DIR.json.
optimize() {
  local dir=$1
  shift
  rm -rf "$dir"
  echo "shrink optimize $*" | sed "s|$PWD/||g" > "$dir.cmd"
  echo "== $(cat "$dir.cmd")" >&2
  local start=$SECONDS rc=0
  shrink optimize "$@" --out "$dir" --json > "$dir.json" 2> "$dir.log" || rc=$?
  echo "$((SECONDS - start))" > "$dir.seconds"
  [ $rc = 0 ] || [ $rc = 3 ] || { echo "optimize failed (exit $rc): $(tail -3 "$dir.log")" >&2; exit 1; }
}

# pack_best DIR ORIGINAL: DIR/best.shrink when the best is clustered (its bytes and the unpacked model's accuracy), for the table.
pack_best() {
  if $py -c "import json,sys; sys.exit(0 if 'container_bytes' in json.load(open('$1.json'))['best']['metrics'] else 1)"; then
    shrink pack "$1/best.onnx" --reference "$2" --data "$data" --out "$1/best.shrink" --json > "$1.pack.json"
  fi
}

if has size; then
  for m in $(echo "${SIZE_MODELS:-lenet5,vgg-small}" | tr , ' '); do
    model=$(trained "$m")
    optimize "$out/size-$m-all" "$model" --goal size --max-accuracy-drop 0.5 $(budget) $(common) --seed 0
    pack_best "$out/size-$m-all" "$model"
    for t in $(echo "${SINGLE:-unstructured,structured,factorize,quantize,cluster,half}" | tr , ' '); do
      optimize "$out/size-$m-$t" "$model" --goal size --max-accuracy-drop 0.5 $(budget) $(common) --seed 0 --techniques "$t"
      pack_best "$out/size-$m-$t" "$model"
    done
  done
  $py bench/optimize_table.py size "$out" "$trained" "${SIZE_MODELS:-lenet5,vgg-small}" "${SINGLE:-unstructured,structured,factorize,quantize,cluster,half}"
fi

if has latency; then
  for m in $(echo "${LATENCY_MODELS:-vgg-small,resnet-small}" | tr , ' '); do
    model=$(trained "$m")
    optimize "$out/latency-$m-all" "$model" --goal latency --max-accuracy-drop 1 $(budget) $(common) --seed 0
    for t in $(echo "${SINGLE_LATENCY:-structured,quantize}" | tr , ' '); do
      optimize "$out/latency-$m-$t" "$model" --goal latency --max-accuracy-drop 1 $(budget) $(common) --seed 0 --techniques "$t"
      # Side by side in one interleaved run: every technique's best against this single technique's best.
      shrink bench "$out/latency-$m-all/best.onnx" --vs "$out/latency-$m-$t/best.onnx" --batch 1,256 --threads "$threads" --runs 50 --json > "$out/latency-$m-all-vs-$t.json"
    done
    shrink bench "$out/latency-$m-all/best.onnx" --vs "$model" --batch 1,256 --threads "$threads" --runs 50 --json > "$out/latency-$m-all-vs-original.json"
  done
  model=$(trained lenet5)
  optimize "$out/latency-lenet5-all" "$model" --goal latency --max-accuracy-drop 0.5 $(budget "${LENET_LATENCY_BUDGET:-1h}") $(common) --seed 0
  shrink bench "$out/latency-lenet5-all/best.onnx" --vs "$model" --batch 1,256 --threads "$threads" --runs 50 --json > "$out/latency-lenet5-all-vs-original.json"
  $py bench/pytorch_quantize.py --model lenet5 --trained "$trained" --data "$data" --threads "$threads" --bench-batch 1,256 > "$out/latency-lenet5-pytorch.json" 2> "$out/latency-lenet5-pytorch.log"
  $py bench/optimize_table.py latency "$out" "$trained" "${LATENCY_MODELS:-vgg-small,resnet-small}" "${SINGLE_LATENCY:-structured,quantize}"
fi

if has crash; then
  model=$(trained lenet5)
  args=("$model" --goal size --max-accuracy-drop 0.5 --trials "${CRASH_TRIALS:-12}" $(common) --seed 0)
  optimize "$out/crash-reference" "${args[@]}"
  dir="$out/crash-killed"
  rm -rf "$dir" "$dir.kills"
  RANDOM=${CRASH_SEED:-17}
  kills=0 starts=0 start=$SECONDS
  echo "shrink optimize ${args[*]} --out $dir [--resume], killed with kill -9 ${KILLS:-20} times at random moments" | sed "s|$PWD/||g" > "$dir.cmd"
  while :; do
    resume=()
    if [ -f "$dir/trials.db" ] && [ -f "$dir/options.json" ]; then resume=(--resume); else rm -rf "$dir"; fi
    # The CLI itself (not the shell function), so that $! is the process kill -9 hits.
    dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll optimize "${args[@]}" --out "$dir" "${resume[@]}" --json > "$dir.json" 2>> "$dir.log" &
    pid=$!
    starts=$((starts + 1))
    if [ "$kills" -ge "${KILLS:-20}" ]; then
      rc=0; wait "$pid" || rc=$?
      [ $rc = 0 ] || [ $rc = 3 ] || { echo "the last resume failed (exit $rc): $(tail -3 "$dir.log")" >&2; exit 1; }
      break
    fi
    delay=$((2 + RANDOM % (${KILL_MAX:-60} - 1)))
    for _ in $(seq "$delay"); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid"; wait "$pid" 2>/dev/null || true
      kills=$((kills + 1))
      $py bench/optimize_table.py snapshot "$dir" "$dir.kills" "$kills" "$delay"
    else
      # The run ended before the next kill: fewer kills than asked (the table says how many; lower KILL_MAX for more).
      rc=0; wait "$pid" || rc=$?
      [ $rc = 0 ] || [ $rc = 3 ] || { echo "a resume failed (exit $rc): $(tail -3 "$dir.log")" >&2; exit 1; }
      break
    fi
  done
  echo "$((SECONDS - start)) $starts $kills" > "$dir.seconds"
  $py bench/optimize_table.py crash "$out" "$dir"
fi

if has strategies; then
  m=${STRATEGY_MODEL:-vgg-small}
  model=$(trained "$m")
  for seed in $(echo "${SEEDS:-0,1,2}" | tr , ' '); do
    for s in evolution random; do
      optimize "$out/strategy-$m-$s-$seed" "$model" --goal size --max-accuracy-drop 0.5 --trials "${STRATEGY_TRIALS:-40}" $(common) --seed "$seed" --strategy "$s"
    done
  done
  $py bench/optimize_table.py strategies "$out" "$m" "${SEEDS:-0,1,2}"
fi
