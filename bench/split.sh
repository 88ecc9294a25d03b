#!/usr/bin/env bash
# Model splitting (issue 19, item 3): peak resident memory of running a split model part by part against the whole model,
# and the time it costs. A generated MLP of LAYERS × (MatMul WIDTH×WIDTH + Relu) (default 12 × 2560²: 315 MB of float
# weights) is split by `shrink split --parts K` for K in PARTS; each configuration then runs in a process of its own
# (ROUNDS runs at batch BATCH, 2 intra-op threads): the whole model loaded once, the split model with 1 part loaded at a
# time (each part loaded, run and freed in turn, every run) and with all K resident. Peak RSS is the process's VmHWM
# (.NET runtime included: the "baseline" row is the same process loading nothing); load is the session load time
# (the split rows: all parts' loads in one run), first the first run (for split-resident1 every run loads its parts),
# median the median of the later runs. The checksum of the output must be the same in every row. The split runner has
# glibc map blocks of 1 MiB or more on their own (SequentialRunnerOptions.ReleaseMemory); the row "whole, 1 MiB mmap
# threshold" runs the whole model with the same allocator setting (MALLOC_MMAP_THRESHOLD_), for a like-for-like comparison.
# Usage: [LAYERS=12] [WIDTH=2560] [PARTS="2 4 8"] [BATCH=1] [ROUNDS=5] bench/split.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/split}
layers=${LAYERS:-12}; width=${WIDTH:-2560}; batch=${BATCH:-1}; rounds=${ROUNDS:-5}
mkdir -p "$out"
source bench/common.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
dotnet build bench/split.cs -c Release -o "$out/bin" -v quiet -nologo >/dev/null
bench() { nice dotnet "$out/bin/split.dll" "$@"; }
[ -f "$out/mlp.onnx" ] || bench make "$out" "$layers" "$width"
echo "model: $out/mlp.onnx, $(stat -c %s "$out/mlp.onnx") bytes ($layers × MatMul ${width}×${width})"
echo
echo "| run | parts | largest part file | load s | first run s | median run s | peak RSS MiB | checksum |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
row() { # NAME PARTS LARGEST LINE
  local line=$4
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" \
    "$(grep -o 'load_s=[^ ]*' <<<"$line" | cut -d= -f2)" "$(grep -o 'first_s=[^ ]*' <<<"$line" | cut -d= -f2)" \
    "$(grep -o 'median_s=[^ ]*' <<<"$line" | cut -d= -f2)" "$(grep -o 'peak_rss_mib=[^ ]*' <<<"$line" | cut -d= -f2)" \
    "$(grep -o 'checksum=[^ ]*' <<<"$line" | cut -d= -f2)"
}
row baseline 0 - "$(bench baseline)"
row whole 1 "$(stat -c %s "$out/mlp.onnx")" "$(bench whole "$out/mlp.onnx" "$batch" "$rounds")"
row "whole, 1 MiB mmap threshold" 1 "$(stat -c %s "$out/mlp.onnx")" "$(MALLOC_MMAP_THRESHOLD_=1048576 bench whole "$out/mlp.onnx" "$batch" "$rounds")"
for k in ${PARTS:-2 4 8}; do
  [ -f "$out/split$k/manifest.json" ] || shrink split "$out/mlp.onnx" --parts "$k" --out "$out/split$k" --no-check >/dev/null
  largest=$(stat -c %s "$out"/split$k/part-*.onnx | sort -n | tail -1)
  row "split, 1 resident" "$k" "$largest" "$(bench split "$out/split$k/manifest.json" "$batch" "$rounds" 1)"
  row "split, all resident" "$k" "$largest" "$(bench split "$out/split$k/manifest.json" "$batch" "$rounds" "$k")"
done
