#!/usr/bin/env bash
# Large models (issue 21, item 5): wall time and peak resident memory of shrink's commands on models that grow to
# gigabytes. bench/large_models.py makes each model: N × (MatMul 1024×1024 + Relu), float32 weights in external data,
# N chosen for SIZE gigabytes (0.3 GB: 72 layers, 1.2 GB: 286, 3 GB: 715). Each command runs once in a process of its own
# under /usr/bin/time -v (peak RSS is its "Maximum resident set size": the .NET runtime and ONNX Runtime included), its
# output removed after it. Targets: peak RSS ≤ 1.5 × the model's size on disk + 300 MB for every command; inspect under
# 1 s and 300 MB whatever the size. The table gives the ratio peak / model size and whether the target is met.
# Usage: [SIZES="0.3 1.2"] [LARGE=1 (adds 3)] [COMMANDS="inspect convert quantize-dynamic quantize-int4 prune split"]
#        bench/large_models.sh [OUT_DIR]
# COMMANDS may also name the other passes that change weights (not in the default set): cluster (5-bit weight sharing),
# factorize (low rank, half the parameters), fp16 (convert --precision fp16), prune-structured (l1-filter at 0.5) and merge
# (every kind; the bench's chains have a Relu after every MatMul, so it finds nothing to merge but reads and compares every weight).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/large_models}
sizes=${SIZES:-0.3 1.2}
[ "${LARGE:-0}" = 1 ] && sizes="$sizes 3"
commands=${COMMANDS:-inspect convert quantize-dynamic quantize-int4 prune split}
mkdir -p "$out"
source bench/common.sh
cli=src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB;" \
  "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"

args() { # COMMAND MODEL WORK_DIR: the command line of one row
  case $1 in
    inspect) echo "inspect $2" ;;
    convert) echo "convert $2 --out $3/out.onnx --external-data" ;;
    quantize-dynamic) echo "quantize $2 --mode dynamic --out $3/out.onnx --bench-batch none" ;;
    quantize-int4) echo "quantize $2 --weights int4 --activations float --out $3/out.onnx --bench-batch none" ;;
    prune) echo "prune $2 --sparsity 0.5 --out $3/out.onnx --bench-batch none" ;;
    split) echo "split $2 --parts 4 --out $3/split" ;;
    cluster) echo "cluster $2 --out $3/out.onnx" ;;
    factorize) echo "factorize $2 --ratio 0.5 --out $3/out.onnx --bench-batch none" ;;
    fp16) echo "convert $2 --precision fp16 --out $3/out.onnx --bench-batch none" ;;
    prune-structured) echo "prune $2 --method l1-filter --sparsity 0.5 --out $3/out.onnx --bench-batch none" ;;
    merge) echo "merge $2 --out $3/out.onnx --bench-batch none" ;;
    *) echo "unknown command '$1' in COMMANDS" >&2; exit 2 ;;
  esac
}

echo
echo "| model | command | wall s | peak RSS MiB | peak / model | target MiB | met |"
echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
for size in $sizes; do
  model=$out/m$size.onnx
  [ -f "$model" ] || nice -n 10 /usr/bin/python3 bench/large_models.py "$model" "$size" >/dev/null
  bytes=$(( $(stat -c %s "$model") + $(stat -c %s "$model.data") ))
  for c in $commands; do
    work=$out/work; rm -rf "$work"; mkdir -p "$work"
    line=$(args "$c" "$model" "$work")
    # shellcheck disable=SC2086  # the arguments are split on purpose
    if ! nice -n 10 /usr/bin/time -v -o "$work/time.txt" dotnet "$cli" $line >"$work/stdout.txt" 2>"$work/stderr.txt"; then
      echo "| $size GB | $c | failed: $(tail -1 "$work/stderr.txt") | | | | |"
      continue
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/time.txt")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    awk -v size="$size" -v c="$c" -v wall="$wall" -v kb="$rss_kb" -v bytes="$bytes" 'BEGIN {
      mib = kb / 1024; model = bytes / 1048576
      target = (c == "inspect") ? 300 : 1.5 * model + 300
      met = (mib <= target && (c != "inspect" || wall < 1)) ? "yes" : "no"
      if (c == "inspect") { tshow = "300, < 1 s" } else { tshow = sprintf("%.0f", target) }
      printf "| %s GB (%.0f MiB) | %s | %.2f | %.0f | %.2f× | %s | %s |\n", size, model, c, wall, mib, mib / model, tshow, met }'
  done
  rm -rf "$out/work"
done
