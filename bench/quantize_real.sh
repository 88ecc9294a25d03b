#!/usr/bin/env bash
# Static int8 of trained real architectures (issue 16, item 8): torchvision's resnet18, mobilenet_v2 and efficientnet_b0
# (num_classes=10, full width) trained on Fashion-MNIST at 3x32x32 by bench/pytorch_quantize_real.py (cached in OUT_DIR:
# delete OUT_DIR/MODEL.pt to train again), exported to ONNX (opset 13, dynamic batch). For each model, on the 10,000
# test images: the float accuracy (shrink eval); Shrink's static int8 (shrink quantize --per-channel --calib-samples 128
# on the first 128 training images) with --calibration minmax, percentile and entropy: accuracy, and output cosine
# against the float model (shrink eval --reference); PyTorch's own FX graph mode int8 (onednn) on the same weights and
# the same 128 images, with its default HistogramObserver and with MinMaxObserver. One markdown table (OUT_DIR/table.md).
# Targets: every calibration loses at most 1 point against float, and stays within 0.3 points of PyTorch's int8.
# Training budget (2 shared cores: a full epoch takes 12-50 minutes): EPOCHS_resnet18=0.2, EPOCHS_mobilenet_v2=0.1,
# EPOCHS_efficientnet_b0=0.4 by default (a seeded random part of one epoch; set them to train longer).
# MIN_FIDELITY=C adds `--min-fidelity C` to Shrink's three (the fallback keeps the fewest activation tensors in float that
# bring the output cosine on the calibration images to C; the table counts them); its files are OUT_DIR/MODEL.METHOD.fC.*,
# its rows OUT_DIR/MODEL.fC.row.json, beside the plain ones (PyTorch's int8 is the same in both).
# Usage: [MIN_FIDELITY=C] bench/quantize_real.sh [OUT_DIR] [MODEL...]   (each model's row in OUT_DIR/MODEL[.fC].row.json; the table of the models named)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/quantize-real}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(resnet18 mobilenet_v2 efficientnet_b0)
fidelity=${MIN_FIDELITY:-}
tag=${fidelity:+.f$fidelity}
declare -A epochs=([resnet18]=${EPOCHS_resnet18:-0.2} [mobilenet_v2]=${EPOCHS_mobilenet_v2:-0.1} [efficientnet_b0]=${EPOCHS_efficientnet_b0:-0.4})
mkdir -p "$out"
source bench/common.sh
py() { /usr/bin/python3 bench/pytorch_quantize_real.py "$@"; }
[ -f "$out/test.npz" ] && [ -f "$out/calib.npy" ] || py data --out "$out"
started="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for m in "${models[@]}"; do
  py train --model "$m" --out "$out" --epochs "${epochs[$m]}"
  echo "== $m: float" >&2
  shrink eval "$out/$m.onnx" --data "$out/test.npz" --threads 2 --json >"$out/$m.float.json"
  for c in minmax percentile entropy; do
    echo "== $m: shrink quantize --per-channel --calibration $c --calib-samples 128${fidelity:+ --min-fidelity $fidelity}" >&2
    shrink quantize "$out/$m.onnx" --per-channel --calibration "$c" --calib-data "$out/calib.npy" --calib-samples 128 \
      ${fidelity:+--min-fidelity "$fidelity"} --bench-batch none --threads 2 --out "$out/$m.$c$tag.onnx" --json >"$out/$m.$c$tag.quantize.json"
    shrink eval "$out/$m.$c$tag.onnx" --reference "$out/$m.onnx" --data "$out/test.npz" --threads 2 --json >"$out/$m.$c$tag.json"
  done
  echo "== $m: PyTorch FX int8" >&2
  [ -s "$out/$m.fx.json" ] && [ -n "$fidelity" ] || py fx --model "$m" --out "$out" >"$out/$m.fx.json"
  /usr/bin/python3 - "$out" "$m" "${epochs[$m]}" "$tag" >"$out/$m$tag.row.json" <<'PY'
import json, sys
out, m, epochs, tag = sys.argv[1:]
load = lambda name: json.load(open(f"{out}/{m}.{name}.json"))
row = {"model": m, "epochs": float(epochs), "float": round(load("float")["accuracy"] * 100, 2), "fx": load("fx")}
for c in ("minmax", "percentile", "entropy"):
    r, q = load(c + tag), load(c + tag + ".quantize")
    fallback = q.get("fallback") or {}
    row[c] = {"accuracy": round(r["accuracy"] * 100, 2), "cosine": round(r["fidelity"][0]["cosine"], 4),
              "float_tensors": len(fallback.get("keptTensors") or []), "float_layers": len(fallback.get("keptInFloat") or [])}
print(json.dumps(row))
PY
done

/usr/bin/python3 - "$out" "$started" "$fidelity" "${models[@]}" <<'PY' | tee "$out/table$tag.md"
import json, sys
fidelity = sys.argv[3]
tag = f".f{fidelity}" if fidelity else ""
rows = [json.load(open(f"{sys.argv[1]}/{m}{tag}.row.json")) for m in sys.argv[4:]]
print(f"bench/quantize_real.sh, {sys.argv[2]}; Fashion-MNIST 3x32x32, 10,000 test images; int8 per channel, 128 calibration images"
      + (f"; Shrink with --min-fidelity {fidelity} (activation tensors kept in float by the fallback: +N)" if fidelity else ""))
print()
print("| model | trained (epochs) | float | Shrink minmax | Shrink percentile | Shrink entropy | PyTorch FX histogram | PyTorch FX minmax | worst loss | worst gap to PyTorch |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    cell = lambda d: f"{d['accuracy']:.2f} % (cos {d['cosine']:.4f}" + (f", +{d['float_tensors']} float" if "float_tensors" in d and fidelity else "") + ")"
    shrink = [r[c]["accuracy"] for c in ("minmax", "percentile", "entropy")]
    best_torch = max(r["fx"]["histogram"]["accuracy"], r["fx"]["minmax"]["accuracy"])
    print(f"| {r['model']} | {r['epochs']:g} | {r['float']:.2f} % | {cell(r['minmax'])} | {cell(r['percentile'])} | {cell(r['entropy'])} | "
          f"{cell(r['fx']['histogram'])} | {cell(r['fx']['minmax'])} | {r['float'] - min(shrink):.2f} | {best_torch - min(shrink):+.2f} |")
print()
print("Accuracy is top-1 on the test images; cos is the output cosine to the float model (each image's logits, averaged). "
      "Worst loss: float minus the lowest of Shrink's three; worst gap: PyTorch's better int8 minus Shrink's lowest.")
PY
