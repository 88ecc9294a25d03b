#!/usr/bin/env bash
# Layer merging and half-precision storage (issue 19, items 4-5): on real PyTorch exports of the corpus (BatchNorm statistics
# from real images) and on a low-rank lenet300, `shrink merge` (consecutive + parallel when measured faster + sharing) and
# `shrink convert --precision fp16`, `fp16 --compute` and `bf16`; parameters, file size, fidelity to the input model and
# ONNX Runtime p50 latency at batch 1 and 32 (interleaved runs, 2 threads), tabled by bench/merge_table.py.
# Usage: bench/merge.sh [OUT_DIR] [MODEL...]   (MODEL: a corpus name such as googlenet.realbn)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/merge}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(googlenet.realbn mobilenet_v2.realbn resnet18.realbn vit.realbn)
mkdir -p "$out"
source bench/common.sh
corpus=tests/data/torch/corpus
common=(--bench-batch 1,32 --threads 2 --json)
# A low-rank lenet300 (factorize --ratio 0.2): consecutive merging folds each pair back into one layer only with --force.
shrink zoo lenet300 --out "$out/lenet300.onnx" >/dev/null
shrink factorize "$out/lenet300.onnx" --ratio 0.2 --bench-batch none --out "$out/lenet300.lowrank.onnx" >/dev/null
inputs=("$out/lenet300.lowrank.onnx")
for m in "${models[@]}"; do inputs+=("$corpus/$m.onnx"); done
for path in "${inputs[@]}"; do
  m=$(basename "$path" .onnx)
  echo "== $m" >&2
  extra=(); [ "$m" = lenet300.lowrank ] && extra=(--force)
  shrink merge "$path" "${extra[@]}" "${common[@]}" --out "$out/$m.merged.onnx" >"$out/$m.merge.json"
  shrink convert "$path" --precision fp16 "${common[@]}" --out "$out/$m.fp16.onnx" >"$out/$m.fp16.json"
  shrink convert "$path" --precision fp16 --compute "${common[@]}" --out "$out/$m.fp16c.onnx" >"$out/$m.fp16c.json"
  shrink convert "$path" --precision bf16 "${common[@]}" --out "$out/$m.bf16.onnx" >"$out/$m.bf16.json"
done
python3 bench/merge_table.py "$out"
