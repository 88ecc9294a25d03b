#!/usr/bin/env bash
# Streaming an image folder (issue 15, item 8), two parts:
#  1. decode + preprocessing: COUNT (default 20,000) synthetic 3×256×256 JPEGs, written on the fly into a temporary
#     folder, read once through ImageFolderSource (SkiaSharp decode, bilinear resize of the shorter side to 224, centre
#     crop 3×224×224, batches of 64, WORKERS (default 2) decoding at once): images per second, and the peak RSS of the
#     reading process from /usr/bin/time -v (target: under 1.5 GB, whatever the folder size — only a batch is held).
#  2. one epoch of fine-tuning a 3×32×32 CNN from an image folder (Fashion-MNIST written at 3×32×32 by
#     tools/fmnist-to-folder.cs) against the same tensors from memory (an .npz read whole): `shrink train --data FOLDER`
#     vs `--data x.npz` (target: at most 1.2×).
#     The two epochs are run REPEATS times (default 3), alternating, and the medians compared.
# Usage: bench/data_stream.sh [OUT_DIR]   (COUNT, WORKERS, BATCH, REPEATS, EPOCH_DATA=embedded|DIR override the defaults;
#        PARTS=stream or PARTS=epoch runs one part only)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-20000}
parts=${PARTS:-stream,epoch}
repeats=${REPEATS:-3}
workers=${WORKERS:-2}
batch=${BATCH:-64}
out=${1:-out/data-stream}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
dotnet build bench/data_stream.cs -c Release -o "$tmp/bin" -v quiet -nologo >/dev/null
run() { dotnet "$tmp/bin/data_stream.dll" "$@"; }

# Part 1: streaming decode + preprocessing
if [[ $parts == *stream* ]]; then
run jpegs "$tmp/jpegs" "$count" 256
/usr/bin/time -v -o "$tmp/time.txt" dotnet "$tmp/bin/data_stream.dll" stream "$tmp/jpegs" 224 "$batch" "$workers" > "$out/stream.json"
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time.txt")
rm -rf "$tmp/jpegs"
/usr/bin/python3 - "$out/stream.json" "$rss_kb" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); rss = int(sys.argv[2]) / 1024
r["peak_rss_mb"] = round(rss)
json.dump(r, open(sys.argv[1], "w"))
print(f"| images | shape | workers | images/s | peak RSS |")
print(f"| ---: | --- | ---: | ---: | ---: |")
print(f"| {r['images']:,} JPEG 3×256×256 | {r['shape']} | {r['workers']} | {r['images_per_second']:.0f} | {rss:.0f} MB ({'under' if rss < 1536 else 'OVER'} the 1.5 GB target) |")
PY
fi

# Part 2: one epoch from the folder vs from memory
[[ $parts == *epoch* ]] || exit 0
dotnet build src/Shrink.Cli -c Release -v quiet -nologo >/dev/null
shrink() { dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll "$@"; }
dotnet run tools/fmnist-to-folder.cs -- --out "$tmp/fm32" --size 32 --channels 3 --data "${EPOCH_DATA:-embedded}" >/dev/null
run memory "$tmp/fm32/train" "$tmp/fm32.npz"
run model "$tmp/cnn32.onnx"
epoch() { # epoch DATA NAME: seconds of one epoch of shrink train, or nothing when it cannot train on DATA
  shrink train --model "$tmp/cnn32.onnx" --data "$1" --epochs 1 --batch 128 --threads 2 --out "$tmp/$2.onnx" --run-dir "$tmp/$2.run" --json 2>"$tmp/$2.err" \
    | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["epochSeconds"][0])' 2>/dev/null || true
}
folder_runs=(); memory_runs=()
for r in $(seq "$repeats"); do
  folder_runs+=("$(epoch "$tmp/fm32" folder)")
  memory_runs+=("$(epoch "$tmp/fm32.npz" memory)")
done
if [[ -n ${folder_runs[0]} && -n ${memory_runs[0]} ]]; then
  /usr/bin/python3 - "${#folder_runs[@]}" "${folder_runs[@]}" "${memory_runs[@]}" <<'PY' | tee "$out/epoch.md"
import statistics, sys
n = int(sys.argv[1]); f = list(map(float, sys.argv[2:2 + n])); m = list(map(float, sys.argv[2 + n:]))
fm, mm = statistics.median(f), statistics.median(m)
print("| epoch from the folder (median) | from memory (median) | ratio | runs (folder / memory, s) |")
print("| ---: | ---: | ---: | --- |")
print(f"| {fm:.1f} s | {mm:.1f} s | {fm / mm:.2f}x ({'within' if fm / mm <= 1.2 else 'OVER'} the 1.2x target) | {' '.join(f'{v:.1f}' for v in f)} / {' '.join(f'{v:.1f}' for v in m)} |")
PY
else
  echo "epoch comparison failed: $(head -c 300 "$tmp/folder.err" | tr '\n' ' ') $(head -c 300 "$tmp/memory.err" | tr '\n' ' ')" | tee "$out/epoch.md"
  exit 1
fi
