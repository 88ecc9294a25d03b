#!/usr/bin/env bash
# The main job end to end on the embedded default data: build a zoo model, inspect it, round-trip it
# through the IR (with external data), run it on a NumPy input in ONNX Runtime and in the training
# executor, train it (checkpointed run directory), evaluate the trained model, benchmark it, then
# compress it: structured pruning with fine-tuning, and static int8 quantization of the pruned model; then the
# automatic way: shrink optimize searches every technique together for the smallest and for the fastest model
# within 0.5 points of the trained model's accuracy (6 trials each), prints the before/after table and keeps the
# run directory (best.onnx, best.recipe.yaml, pareto.json, result.json, the report).
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-out/demo}
mkdir -p "$out"
dotnet build src/Shrink.Cli -c Release -v quiet -nologo >/dev/null
shrink() { dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll "$@"; }
shrink zoo lenet5 --out "$out/lenet5.onnx" --seed 0
shrink inspect "$out/lenet5.onnx"
shrink convert "$out/lenet5.onnx" --out "$out/lenet5-ext.onnx" --external-data
shrink run "$out/lenet5-ext.onnx" --input tests/data/torch/lenet_fmnist.input.npy --out "$out/logits.npy"
shrink run "$out/lenet5-ext.onnx" --input tests/data/torch/lenet_fmnist.input.npy --out "$out/logits-torch.npy" --engine torch
rm -rf "$out/lenet5-trained.run"
shrink train --model "$out/lenet5.onnx" --data "${SHRINK_DEMO_DATA:-embedded}" --epochs 3 --schedule cosine --out "$out/lenet5-trained.onnx"
shrink eval "$out/lenet5-trained.onnx" --data "${SHRINK_DEMO_DATA:-embedded}"
shrink bench "$out/lenet5.onnx" --vs "$out/lenet5-ext.onnx" --batch 1,256 --runs 30 --threads 2
shrink prune "$out/lenet5-trained.onnx" --method l1-filter --sparsity 0.5 --finetune-epochs 1 --data "${SHRINK_DEMO_DATA:-embedded}" \
  --bench-batch 1,256 --out "$out/lenet5-pruned.onnx"
shrink quantize "$out/lenet5-pruned.onnx" --per-channel --calib-samples 256 --data "${SHRINK_DEMO_DATA:-embedded}" --bench-batch 1,256 \
  --out "$out/lenet5-pruned-int8.onnx"
# Exit code 3 means no trial met the budget: the closest attempt is kept and the miss stated, which a demo shows as well.
for goal in size latency; do
  rm -rf "$out/optimize-$goal"
  shrink optimize "$out/lenet5-trained.onnx" --data "${SHRINK_DEMO_DATA:-embedded}" --max-accuracy-drop 0.5 --goal "$goal" \
    --trials 6 --max-epochs 1 --limit 2000 --latency-batch 1,256 --out "$out/optimize-$goal" || [ $? -eq 3 ]
  for report in report.html result.json; do
    if [ -f "$out/optimize-$goal/$report" ]; then echo "report: $out/optimize-$goal/$report"; break; fi
  done
done
