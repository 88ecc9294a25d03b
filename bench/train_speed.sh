#!/usr/bin/env bash
# Training speed, seconds per epoch on full Fashion-MNIST (60,000 images), batch 128, SGD lr 0.01
# momentum 0.9, 2 intra-op threads, for lenet300 and lenet5. Three engines in the same run, one after
# another on a quiet machine:
#   executor    shrink train (Shrink's graph executor interpreting the ONNX zoo model)
#   torchsharp  the same networks written by hand with TorchSharp nn modules (bench/TorchSharpBaseline)
#   pytorch     PyTorch doing the same job (bench/pytorch_train.py; Debian's python3-torch + libopenblas0-pthread)
# Each engine trains EPOCHS epochs (default 3); the table shows the median epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${EPOCHS:-3}
out=${1:-out/train-speed}
mkdir -p "$out"
rm -f "$out"/*.jsonl
dotnet build src/Shrink.Cli -c Release -v quiet -nologo >/dev/null
dotnet build bench/TorchSharpBaseline -c Release -v quiet -nologo >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for m in lenet300 lenet5; do
  rm -rf "$out/$m.run"
  dotnet src/Shrink.Cli/bin/Release/net10.0/Shrink.Cli.dll train --model "$m" --epochs "$epochs" --batch 128 \
    --optimizer sgd --lr 0.01 --momentum 0.9 --threads 2 --out "$out/$m.onnx" --run-dir "$out/$m.run" --json \
    | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({"engine":"executor","model":sys.argv[1],"epochs":r["epochSeconds"],"test_accuracy":r["onnxRuntimeAccuracy"]}))' "$m" \
    >> "$out/executor.jsonl"
done
dotnet bench/TorchSharpBaseline/bin/Release/net10.0/TorchSharpBaseline.dll --model all --epochs "$epochs" --threads 2 2>/dev/null > "$out/torchsharp.jsonl"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  /usr/bin/python3 bench/pytorch_train.py --model all --epochs "$epochs" --threads 2 2>/dev/null > "$out/pytorch.jsonl"
else
  echo "PyTorch not found: apt-get install python3-torch libopenblas0-pthread for the pytorch column" >&2
  : > "$out/pytorch.jsonl"
fi
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
rows = {}
for engine in ("executor", "torchsharp", "pytorch"):
    for line in (out / f"{engine}.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.setdefault(r["model"], {})[engine] = (statistics.median(r["epochs"]), r.get("test_accuracy"))
print("| model | Shrink executor | hand-written TorchSharp | PyTorch 1.13 | executor / TorchSharp | executor / PyTorch |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for model in ("lenet300", "lenet5"):
    r = rows.get(model, {})
    cell = lambda e: f"{r[e][0]:.2f} s" if e in r else "-"
    ratio = lambda a, b: f"{r[a][0] / r[b][0]:.2f}x" if a in r and b in r else "-"
    print(f"| {model} | {cell('executor')} | {cell('torchsharp')} | {cell('pytorch')} | {ratio('executor', 'torchsharp')} | {ratio('executor', 'pytorch')} |")
PY
