#!/usr/bin/env bash
# Weight-only int4 of MatMul/Gemm in ONNX Runtime (issue 16, item 6): float, int4 behind DequantizeLinear (the ONNX form,
# opset 21), com.microsoft.MatMulNBits (what `shrink quantize --weights int4 --activations float` writes; accuracy level 0,
# and 4, which lets ONNX Runtime quantize the activations to int8 per block; symmetric and asymmetric) and dynamic int8
# (per channel), all at 32 weights per scale, at batch 1 and batch 32, on generated models — mlp8 (8 × MatMul 1024×1024 +
# Add) and ffn4096 (1024→4096→1024 over TOKENS tokens) — and the corpus's small vision transformer. Per row: p50 latency
# (median of interleaved rounds, the order rotated each round, THREADS intra-op threads), speed-up over float, file
# size, output cosine to the float model on 64 seeded random inputs. Then what ONNX Runtime's optimizer makes of the
# DequantizeLinear form (whether it fuses it into MatMulNBits).
# Usage: [THREADS=2] [TOKENS=128] [ROUNDS=5] bench/quantize_int4.sh [OUT_DIR]   (prints a markdown table; models in OUT_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/quantize-int4}
mkdir -p "$out"
source bench/common.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), flags: $(grep -m1 -o -w -E 'avx512_vnni|avx_vnni|avx512f|avx2' /proc/cpuinfo | sort -u | xargs)"
dotnet build bench/quantize_int4.cs -c Release -o "$out/bin" -v quiet -nologo >/dev/null
dotnet "$out/bin/quantize_int4.dll" run "$out" "${THREADS:-2}" "${TOKENS:-128}" "${ROUNDS:-5}" tests/data/torch/corpus/vit.realbn.onnx
