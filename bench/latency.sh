#!/usr/bin/env bash
# ONNX Runtime latency of every zoo model at batch 1 and 256 with 2 intra-op threads, and accuracy of
# the (untrained) models on the full Fashion-MNIST test set when Debian's dataset-fashion-mnist is
# installed. Prints the tables that the README quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/bench}
mkdir -p "$out"
source bench/common.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for m in lenet300 lenet5 vgg-small resnet-small; do
  shrink zoo "$m" --out "$out/$m.onnx"
done
for m in lenet300 lenet5 vgg-small resnet-small; do
  shrink bench "$out/$m.onnx" --batch 1,256 --runs 100 --warmup 20 --threads 2
done
for f in tests/data/torch/{resnet,mobilenet,squeezenet,shufflenet}_tiny.onnx; do
  shrink bench "$f" --batch 1,256 --runs 100 --warmup 20 --threads 2
done
shrink bench tests/data/torch/transformer_tiny.onnx --dim seq=8 --batch 1,256 --runs 100 --warmup 20 --threads 2
shrink eval "$out/lenet5.onnx" --threads 2
