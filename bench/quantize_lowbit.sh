#!/usr/bin/env bash
# Low-bit weights on full Fashion-MNIST (issue 5): post-training int4 / ternary / binary on the trained lenet5 and
# vgg-small (per-channel, uint8 activations calibrated on 512 images, weights stored as ONNX int4), then
# quantization-aware training of lenet5 (activation ranges observed while training, PyTorch-style) for each width.
# Prints one accuracy / size line per run and the executor-vs-ONNX Runtime agreement for QAT. Accuracy only: no
# latency is measured here (bench/quantize.sh does int8 latency).
# Usage: bench/quantize_lowbit.sh [TRAINED_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/quantize}
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
source bench/common.sh
summary() { # JSON on stdin -> one line
  /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin); b, a = r["before"], r["after"]
ex = r.get("executorAccuracy")
line = "%-34s float %6.2f %%  quantized %6.2f %%" % (sys.argv[1], b["accuracy"] * 100, a["accuracy"] * 100)
if ex is not None: line += "  executor %6.2f %%" % (ex * 100)
line += "  file %8.1f -> %7.1f KiB (%.2fx)  packed %7.1f KiB" % (b["bytes"] / 1024, a["bytes"] / 1024, b["bytes"] / a["bytes"], a["packedBytes"] / 1024)
print(line)' "$1"
}
for m in lenet5 vgg-small; do
  for w in int8 int4 ternary binary; do
    shrink quantize "$trained/$m.onnx" --per-channel --weights $w --calib-samples 512 --data "$data" --bench-batch none \
      --out "$out/$m.$w.onnx" --json 2>/dev/null | summary "$m post-training $w"
  done
done
for spec in int4:2 ternary:5 binary:5; do
  w=${spec%:*}; e=${spec#*:}
  shrink quantize "$trained/lenet5.onnx" --mode qat --weights $w --per-channel --epochs $e --lr 0.01 --calib-samples 512 --data "$data" \
    --bench-batch none --out "$out/lenet5.qat-$w.onnx" --json 2>/dev/null | summary "lenet5 qat $w ($e epochs)"
done
