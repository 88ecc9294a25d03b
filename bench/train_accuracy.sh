#!/usr/bin/env bash
# Test accuracy after training the zoo models with `shrink train` on full Fashion-MNIST (60,000 training,
# 10,000 test images; Debian's dataset-fashion-mnist). Prints the executor's and ONNX Runtime's accuracy
# on the exported model. Targets (issue 3): lenet5 >= 90.5 %, lenet300 >= 89 %, vgg-small >= 92.5 %.
# Usage: bench/train_accuracy.sh [OUT_DIR] [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/train-accuracy}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(lenet300 lenet5 vgg-small)
mkdir -p "$out"
source bench/common.sh
for m in "${models[@]}"; do
  case "$m" in
    lenet300) args=(--epochs 20 --lr 0.05 --weight-decay 1e-4 --schedule cosine) ;;
    lenet5) args=(--epochs 20 --lr 0.05 --weight-decay 5e-4 --schedule cosine) ;;
    vgg-small) args=(--epochs 12 --lr 0.05 --weight-decay 5e-4 --schedule cosine) ;;
    resnet-small) args=(--epochs 12 --lr 0.1 --weight-decay 5e-4 --schedule cosine --warmup 1) ;;
    *) echo "unknown model $m" >&2; exit 2 ;;
  esac
  rm -rf "$out/$m.run"
  echo "shrink train --model $m ${args[*]} --batch 128 --seed 0 --threads 2 --out $out/$m.onnx"
  shrink train --model "$m" "${args[@]}" --batch 128 --seed 0 --threads 2 --out "$out/$m.onnx" --run-dir "$out/$m.run" | tee "$out/$m.log"
done
