#!/usr/bin/env bash
# Knowledge distillation on full Fashion-MNIST (issue 6), two comparisons, each over SEEDS (default 0 1 2):
#  1. lenet300 trained alone against lenet300 distilled from the trained vgg-small (T TEMPERATURE, α ALPHA): the same EPOCHS
#     (default 10), SGD lr 0.05 momentum 0.9 with a cosine schedule, batch 128, the same seed. T 4 and α 0.5 by default:
#     a sweep on seed 0 (T/α 4/0.9, 4/0.5, 8/0.9, 2/0.7) put α 0.5 first; the CLI's own default is α 0.9.
#  2. lenet5 cut to 90 % sparsity (global magnitude, one shot) and recovered for FT_EPOCHS (default 3) at lr 0.01, with the
#     labels alone against distillation from the dense lenet5 (--teacher, the same T and α).
# Then the PyTorch 1.13 peer doing the same jobs (bench/pytorch_distill.py). Accuracy only; no latency is measured.
# Usage: [EPOCHS=10] [FT_EPOCHS=3] [SEEDS="0 1 2"] [TEMPERATURE=4] [ALPHA=0.5] bench/distill.sh [TRAINED_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/distill}
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
epochs=${EPOCHS:-10}
ft=${FT_EPOCHS:-3}
seeds=(${SEEDS:-0 1 2})
t=${TEMPERATURE:-4}
a=${ALPHA:-0.5}
mkdir -p "$out"
source bench/common.sh
require_trained "$trained" vgg-small lenet5
field() { /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin)
for k in sys.argv[1].split("."): r = r[k]
print(r)' "$1"; }
train=(--epochs "$epochs" --lr 0.05 --schedule cosine --batch 128 --data "$data")
echo "== 1. lenet300: alone against distilled from vgg-small ($epochs epochs, T $t, alpha $a)"
for s in "${seeds[@]}"; do
  rm -rf "$out/lenet300-alone-$s.run" "$out/lenet300-kd-$s.run"
  alone=$(shrink train --model lenet300 "${train[@]}" --seed "$s" --out "$out/lenet300-alone-$s.onnx" --json | field onnxRuntimeAccuracy)
  kd=$(shrink distill --teacher "$trained/vgg-small.onnx" --student lenet300 "${train[@]}" --seed "$s" --temperature "$t" --alpha "$a" \
    --out "$out/lenet300-kd-$s.onnx" --json | field studentSide.accuracy)
  echo "seed $s: alone $alone, distilled $kd"
done
echo "== 2. lenet5 at 90 % sparsity: recovered with labels against distillation from the dense lenet5 ($ft epochs, lr 0.01)"
for s in "${seeds[@]}"; do
  prune=(prune "$trained/lenet5.onnx" --method magnitude --sparsity 0.9 --scope global --finetune-epochs "$ft" --lr 0.01 --seed "$s" --data "$data" --bench-batch none)
  labels=$(shrink "${prune[@]}" --out "$out/lenet5-sparse-labels-$s.onnx" --json | field after.accuracy)
  kd=$(shrink "${prune[@]}" --teacher "$trained/lenet5.onnx" --temperature "$t" --alpha "$a" --out "$out/lenet5-sparse-kd-$s.onnx" --json | field after.accuracy)
  echo "seed $s: labels $labels, distilled $kd"
done
echo "== PyTorch 1.13 peer (same jobs, same teachers' weights)"
/usr/bin/python3 bench/pytorch_distill.py --trained "$trained" --data "$data" --epochs "$epochs" --ft-epochs "$ft" --seeds "${seeds[@]}" \
  --temperature "$t" --alpha "$a" --threads 2
