#!/usr/bin/env bash
# Deep Compression on full Fashion-MNIST (issue 7), as in Han et al. 2016's Table 1: prune (global magnitude, AGP while
# fine-tuning), share weights (k-means per layer, linear initialisation, centroid fine-tuning), then Huffman-code
# into a .shrink container. Prints each stage's size against the float ONNX file, the bits per weight per layer, and
# the accuracy of the unpacked container in ONNX Runtime.
# With DISTILL=1 the pruning and centroid fine-tuning distill from the dense model (--teacher, T 4, α 0.5).
# Usage: [SPARSITY=0.95] [AGP_EPOCHS=10] [FC_BITS=5] [CONV_BITS=8] [CLUSTER_EPOCHS=2] [DISTILL=0] bench/deep_compression.sh [TRAINED_DIR] [OUT_DIR] [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/deep-compression}
shift 2 || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(lenet300 lenet5)
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
source bench/common.sh
for m in "${models[@]}"; do
  require_trained "$trained" "$m"
  teacher=()
  [ "${DISTILL:-0}" = 1 ] && teacher=(--teacher "$trained/$m.onnx" --temperature 4 --alpha 0.5)
  echo "== $m: prune ${SPARSITY:-0.95} (global magnitude, AGP over ${AGP_EPOCHS:-10} epochs)"
  shrink prune "$trained/$m.onnx" --method magnitude --sparsity "${SPARSITY:-0.95}" --scope global --schedule agp \
    --finetune-epochs "${AGP_EPOCHS:-10}" --lr 0.01 --data "$data" --bench-batch none "${teacher[@]}" --out "$out/$m.pruned.onnx" | grep -E "accuracy|sparsity"
  echo "== $m: cluster (fc ${FC_BITS:-5} bits, conv ${CONV_BITS:-8} bits, ${CLUSTER_EPOCHS:-2} epochs of centroid fine-tuning)"
  shrink cluster "$out/$m.pruned.onnx" --bits "${FC_BITS:-5}" --conv-bits "${CONV_BITS:-8}" --finetune-epochs "${CLUSTER_EPOCHS:-2}" --lr 0.001 \
    --data "$data" "${teacher[@]}" --out "$out/$m.clustered.onnx" | grep -E "accuracy|epoch"
  echo "== $m: pack"
  shrink pack "$out/$m.clustered.onnx" --reference "$trained/$m.onnx" --data "$data" --out "$out/$m.shrink"
  shrink eval "$trained/$m.onnx" --data "$data" | tail -1
done
