#!/usr/bin/env bash
# Issue 15's end-to-end target through the shrink CLI: torchvision's resnet18 on full Fashion-MNIST written as a
# 3×32×32 image folder, trained in PyTorch and exported to ONNX, then structured-pruned to half its channels
# (shrink prune), fine-tuned on the folder, and quantized to static int8 calibrated from the folder (shrink quantize).
# At each stage: accuracy with labels on the folder's val split (the commands' before/after, on DATASET.yaml's val) and, without labels,
# fidelity to the float model (shrink eval --data val-x.npy --reference float.onnx: top-1 agreement, cosine, SQNR),
# the file size and an ONNX Runtime p50 at batch 64. Beside it PyTorch does the same job on the same trained weights
# (bench/pytorch_e2e_resnet18.py peer: L1-norm structured pruning with the channels removed, the same fine-tuning,
# FX static int8). The table goes to stdout and OUT/table.md; every command's JSON stays in OUT.
#
# Usage: [TRAIN_EPOCHS=1] [FT_EPOCHS=2] [FT_LIMIT=12000] [CALIB=512] [RETRAIN=0] nice bench/e2e_resnet18.sh [OUT_DIR]
#   TRAIN_EPOCHS  PyTorch training epochs (fractions allowed); the trained OUT/float.pt is reused unless RETRAIN=1
#   FT_EPOCHS     fine-tuning epochs of both sides, on the first FT_LIMIT training images (a folder of their own)
#   CALIB         calibration images: the first CALIB of the training split, in folder order, on both sides
# Needs Debian's python3-torch 1.13, python3-torchvision 0.14 and python3-onnx; Fashion-MNIST from
# /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist), else the embedded subset (said so).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/e2e-resnet18}
train_epochs=${TRAIN_EPOCHS:-1}
ft_epochs=${FT_EPOCHS:-2}
ft_limit=${FT_LIMIT:-12000}
calib=${CALIB:-512}
py=/usr/bin/python3
mkdir -p "$out"
/usr/bin/python3 -c "import torch, torchvision, onnx" 2>/dev/null ||
  { echo "needs python3-torch, python3-torchvision and python3-onnx: apt-get install python3-torchvision python3-onnx" >&2; exit 2; }

source=${SHRINK_DATA:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$source/train-images-idx3-ubyte.gz" ]; then
  echo "note: no Fashion-MNIST in $source: using the embedded subset (6,000 training and 1,000 test images); figures are not comparable" >&2
  source=embedded
fi
folder=out/fmnist32-$(basename "$source")
ft_folder=$folder-first$ft_limit
[ -d "$folder/val" ] || dotnet run tools/fmnist-to-folder.cs -- --out "$folder" --size 32 --channels 3 --data "$source"
[ -d "$ft_folder/train" ] || dotnet run tools/fmnist-to-folder.cs -- --out "$ft_folder" --size 32 --channels 3 --data "$source" --limit "$ft_limit"

# Dataset files with datasets/fmnist32.yaml's preprocessing, for these folders: eval/fine-tuning (augmented training
# split, val as the test split) and calibration (the training split without augmentation).
dataset() { # NAME TRAIN_DIR AUGMENT
  cat > "$out/$1.yaml" <<EOF
version: 1
train: $(realpath "$2")
test: $(realpath "$folder/val")
seed: 0
image: { size: [32, 32], channels: 3, mean: [0.286], std: [0.353], layout: nchw, crop: center }
EOF
  [ "$3" = yes ] && echo "augment: { padding: 4, flip: true }" >> "$out/$1.yaml"
  return 0
}
dataset data "$folder/train" yes
dataset finetune "$ft_folder/train" yes
dataset calib "$folder/train" no

start=$(date +%s)
if [ "${RETRAIN:-0}" = 1 ] || [ ! -f "$out/float.pt" ]; then
  echo "== PyTorch: training resnet18 for $train_epochs epochs on $folder/train"
  $py bench/pytorch_e2e_resnet18.py train --folder "$folder" --out "$out" --epochs "$train_epochs" > "$out/train.json"
else
  echo "== PyTorch: reusing $out/float.pt ($(cat "$out/train.json" 2>/dev/null)); RETRAIN=1 trains again"
fi

source bench/common.sh
run() { # NAME COMMAND...: the command's --json output into OUT/NAME.json, timed
  local name=$1 t0
  shift
  t0=$(date +%s)
  "$@" --json > "$out/$name.json"
  echo "   $name: $(( $(date +%s) - t0 )) s"
}
echo "== Shrink: prune (no fine-tuning, and $ft_epochs epochs on the first $ft_limit images), quantize"
run prune-cut shrink prune "$out/float.onnx" --method l1-filter --sparsity 0.5 --data "$out/data.yaml" --bench-batch none --threads 2 --out "$out/pruned-cut.onnx"
run prune shrink prune "$out/float.onnx" --method l1-filter --sparsity 0.5 --finetune-epochs "$ft_epochs" --lr 0.01 \
  --data "$out/finetune.yaml" --bench-batch none --threads 2 --out "$out/pruned.onnx"
run quantize shrink quantize "$out/pruned.onnx" --mode static --per-channel --calibration minmax --calib-samples "$calib" \
  --calib-data "$out/calib.yaml" --data "$out/data.yaml" --bench-batch none --threads 2 --out "$out/int8.onnx"
# Accuracy with labels comes from the commands' own before/after measurement on the val split (shrink eval --data
# "$out/data.yaml" gives the same figure); here the label-free fidelity and the latency.
echo "== Shrink: fidelity to float (no labels), latency"
for m in float pruned-cut pruned int8; do
  [ $m = float ] || run "fidelity-$m" shrink eval "$out/$m.onnx" --data "$out/val-x.npy" --reference "$out/float.onnx" --threads 2
  run "bench-$m" shrink bench "$out/$m.onnx" --batch 64 --runs 20 --warmup 5 --threads 2
done

echo "== PyTorch: the same job on the same weights"
$py bench/pytorch_e2e_resnet18.py peer --folder "$folder" --train-folder "$ft_folder" --out "$out" --epochs "$ft_epochs" \
  --calib-samples "$calib" > /dev/null
$py bench/e2e_table.py "$out" --source "$source" --minutes $(( ($(date +%s) - start) / 60 )) | tee "$out/table.md"
