#!/usr/bin/env bash
# Structured pruning of a transformer encoder (issue 16, items 2 and 8): generates a BERT-style encoder with
# tests/data/torch/make_encoder.py (Hugging Face's layout; not checked in), prunes it through the CLI
# (shrink prune --method l1-filter --sparsity 0.5: half the heads of every attention block and half the feed-forward
# neurons, the residual stream left alone) and prints, from bench/prune_transformer.cs, one markdown table: heads,
# attention + FFN MACs per sample before/after and removed, parameters, ONNX Runtime latency at batch BATCH × seq SEQ
# (median of RUNS interleaved runs, THREADS intra-op threads), and the pruned model against the masked model.
# Targets: >= 40 % of the attention + FFN MACs removed, >= 1.5x faster at batch 32.
# Usage: [LAYERS=4 HIDDEN=256 HEADS=4 FFN=1024 SEQ=128 BATCH=32 RUNS=7 THREADS=2] bench/prune_transformer.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/prune-transformer}
layers=${LAYERS:-4} hidden=${HIDDEN:-256} heads=${HEADS:-4} ffn=${FFN:-1024} seq=${SEQ:-128} batch=${BATCH:-32} runs=${RUNS:-7} threads=${THREADS:-2}
mkdir -p "$out"
source bench/common.sh
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
/usr/bin/python3 tests/data/torch/make_encoder.py --layers "$layers" --hidden "$hidden" --heads "$heads" --ffn "$ffn" --vocab 1000 \
  --max-positions "$seq" --no-reference --out "$out/encoder.onnx" 2>/dev/null
shrink prune "$out/encoder.onnx" --method l1-filter --sparsity 0.5 --dim sequence="$seq" --bench-batch none --threads "$threads" \
  --out "$out/encoder.pruned.onnx" | grep -E '^(note|wrote|warning)' || true
dotnet build bench/prune_transformer.cs -c Release -o "$out/bin" -v quiet -nologo >/dev/null
echo
dotnet "$out/bin/prune_transformer.dll" "$out/encoder.onnx" "$out/encoder.pruned.onnx" "$seq" "$batch" "$runs" "$threads"
