#!/usr/bin/env bash
# A BERT-base-sized encoder as users bring it (issue 21, item 6): tests/data/torch/make_encoder.py exports one with PyTorch
# (12 layers, hidden 768, 12 heads, feed-forward 3072, vocabulary 30522, 512 positions, random weights, inputs
# `input_ids` and `attention_mask`; about 110 M parameters, 420 MiB), then the CLI makes
#   int8      shrink quantize --mode dynamic                        (int8 weights, activations quantized per batch)
#   int4      shrink quantize --weights int4 --activations float     (MatMulNBits, block 32, weight-only, float compute)
#   int4-acc4 the same with --accuracy-level 4                       (MatMulNBits multiplying int8 activations in integers)
#   pruned    shrink prune --method l1-filter --sparsity 0.5         (half the heads and feed-forward neurons of every layer)
# each printing its own fidelity line, and bench/transformer_base.cs prints one table: size, parameters, fidelity
# against the float model on 4 random samples of 128 tokens, ONNX Runtime latency at batch 1 × seq 128 and × seq 512
# (median of RUNS interleaved rounds, THREADS intra-op threads).
# Usage: [LAYERS=12 HIDDEN=768 HEADS=12 FFN=3072 VOCAB=30522 RUNS=7 THREADS=2] bench/transformer_base.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/transformer-base}
layers=${LAYERS:-12} hidden=${HIDDEN:-768} heads=${HEADS:-12} ffn=${FFN:-3072} vocab=${VOCAB:-30522} runs=${RUNS:-7} threads=${THREADS:-2}
mkdir -p "$out"
source bench/common.sh
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
m=$out/bert.onnx
[ -f "$m" ] || /usr/bin/python3 tests/data/torch/make_encoder.py --layers "$layers" --hidden "$hidden" --heads "$heads" --ffn "$ffn" \
  --vocab "$vocab" --max-positions 512 --no-reference --out "$m" 2>/dev/null
common=(--dim sequence=128 --bench-batch none --threads "$threads")
# step ARGS: runs shrink ARGS and prints its note/wrote lines, each joined back into one line (the CLI wraps at 120 columns).
step() {
  echo "\$ shrink $*" | sed "s#$out/##g"
  shrink "$@" | awk '/^(note|wrote|warning)/ { if (l) print l; l = $0; next } /^[│┌├└]/ || /^(latency|fidelity) / { if (l) print l; l = ""; next } { if (l) l = l $0 } END { if (l) print l }' | sed "s#$out/##g"
}
step quantize "$m" --mode dynamic "${common[@]}" --out "$out/bert.int8.onnx"
step quantize "$m" --weights int4 --activations float "${common[@]}" --out "$out/bert.int4.onnx"
step quantize "$m" --weights int4 --activations float --accuracy-level 4 "${common[@]}" --out "$out/bert.int4-acc4.onnx"
step prune "$m" --method l1-filter --sparsity 0.5 "${common[@]}" --out "$out/bert.pruned.onnx"
dotnet build bench/transformer_base.cs -c Release -o "$out/bin" -v quiet -nologo >/dev/null
echo
dotnet "$out/bin/transformer_base.dll" "$runs" "$threads" "$m" int8="$out/bert.int8.onnx" int4="$out/bert.int4.onnx" int4-acc4="$out/bert.int4-acc4.onnx" pruned="$out/bert.pruned.onnx"
