#!/usr/bin/env bash
# Static int8 quantization of the trained lenet5 and vgg-small (bench/train_accuracy.sh) on full
# Fashion-MNIST: per-channel int8 weights, uint8 activations calibrated (CALIBRATION, default minmax) on
# the first 512 training images; size, ONNX Runtime accuracy and p50 latency at batch 1 and 256 against the
# float model, then PyTorch's eager int8 (torch.ao.quantization, onednn) on the same weights in the same run.
# Targets (issue 5): <= 0.5 points lost, >= 2x lower latency at 256 than the float model and lower than
# PyTorch's int8, file about 4x smaller. Run it on a quiet machine: the latency rows are the point.
# Usage: [CALIBRATION=minmax|percentile|entropy] bench/quantize.sh [TRAINED_DIR] [OUT_DIR] [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/quantize}
shift 2 || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(lenet5 vgg-small)
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
source bench/common.sh
for m in "${models[@]}"; do
  require_trained "$trained" "$m"
  echo "== $m: shrink quantize --per-channel --calibration ${CALIBRATION:-minmax} --calib-samples 512"
  shrink quantize "$trained/$m.onnx" --per-channel --calibration "${CALIBRATION:-minmax}" --calib-samples 512 --data "$data" \
    --bench-batch 1,256 --threads 2 --out "$out/$m.int8.onnx"
  echo "== $m: PyTorch eager int8 (same weights, 512 calibration images)"
  /usr/bin/python3 bench/pytorch_quantize.py --model "$m" --trained "$trained" --data "$data" --calibration minmax --threads 2
done
