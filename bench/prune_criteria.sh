#!/usr/bin/env bash
# Structured criteria side by side on a trained model (bench/train_accuracy.sh), full Fashion-MNIST:
# every channel group cut by SPARSITY (default 0.3) with no fine-tuning, so the accuracy right after
# the cut shows how well each criterion picks the channels to remove. slim runs SLIM_EPOCHS (default 2)
# of sparsity training first (a different model, so its figure is not a pure ranking comparison).
# Usage: bench/prune_criteria.sh [TRAINED_DIR] [OUT_DIR] [MODEL]
set -euo pipefail
cd "$(dirname "$0")/.."
trained=${1:-out/train-accuracy}
out=${2:-out/prune-criteria}
model=${3:-vgg-small}
data=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
source bench/common.sh
require_trained "$trained" "$model"
printf "%-14s %10s %10s %12s\n" method accuracy "Δ points" "MACs after"
for m in l1-filter l2-filter fpgm bn-scale apoz entropy taylor-filter slim; do
  extra=()
  [ "$m" = slim ] && extra=(--slim-epochs "${SLIM_EPOCHS:-2}")
  shrink prune "$trained/$model.onnx" --method "$m" --sparsity "${SPARSITY:-0.3}" --data "$data" --bench-batch none --threads 2 \
    "${extra[@]}" --out "$out/$model-$m.onnx" --json > "$out/$model-$m.json"
  /usr/bin/python3 - "$out/$model-$m.json" "$m" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b, a = r["before"], r["after"]
print(f"{sys.argv[2]:<14} {a['accuracy']*100:9.2f}% {(a['accuracy']-b['accuracy'])*100:+10.2f} {a['macs']/1e6:11.2f}M")
PY
done
