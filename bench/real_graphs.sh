#!/usr/bin/env bash
# Real graphs (issue 16, item 7): every model of the corpus (tests/data/torch/corpus, make_corpus.py) in both forms
# — "random" (torchvision's initialisation, as exported: deduplicated initializers, Identity nodes) and "realbn"
# (BatchNorm statistics from Fashion-MNIST) — through what a user would run, in ONE markdown table:
#   import, round trip, ONNX Runtime against PyTorch's output and the executor against ONNX Runtime (largest difference
#   of the output's scale; or the executor's refusal), from bench/real_graphs.cs;
#   shrink prune --method l1-filter --sparsity 0.5 --channel-multiple CHANNEL_MULTIPLE: the exit code (and the first
#   line of a refusal), the MACs removed, and the cut model against the masked model (largest difference of the scale);
#   shrink quantize --mode static --per-channel --calib-samples 128 (calibrated on 128 Fashion-MNIST images for the
#   realbn form, 128 N(0,1) inputs for the random form): output cosine against the float model on 128 other such
#   inputs, and the compute layers (Conv, Gemm, MatMul) quantized of all;
#   the same with --min-fidelity 0.99 (the automatic fallback, per tensor by default, keeps in float the fewest activation
#   tensors and layers' weights that bring the output cosine on the calibration inputs to 0.99): the cosine on the other
#   128 inputs, the layers whose weights it kept in float of the quantized layers and the activation tensors left float
#   of those quantized (or the first line of the refusal when nothing reaches it);
#   shrink quantize --mode dynamic on the transformer: the same cosine.
# CHANNEL_MULTIPLE defaults to 1, not the CLI's 8: the corpus's widths are reduced 4-8x, so rounding kept channels up
# to 8 would measure the rounding, not the graph analysis. The int8 cosine is measured by Evaluation.Fidelity.
# The calibration and evaluation inputs are written by make_corpus.py --calib (Debian's python3-torch).
# Usage: [CHANNEL_MULTIPLE=1] [FORMS="random realbn"] bench/real_graphs.sh [OUT_DIR] [MODEL...]   (writes OUT_DIR/results.jsonl and table.md;
#        TABLE_ONLY=1 prints the table of OUT_DIR/results.jsonl again without running anything)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/real-graphs}
shift || true
corpus=tests/data/torch/corpus
models=("$@")
[ ${#models[@]} -gt 0 ] || mapfile -t models < <(/usr/bin/python3 -c 'import json,sys; [print(m["model"]) for m in json.load(open(sys.argv[1]))["models"]]' "$corpus/manifest.json")
multiple=${CHANNEL_MULTIPLE:-1}
mkdir -p "$out/models"
source bench/common.sh
[ -n "${TABLE_ONLY:-}" ] || dotnet build bench/real_graphs.cs -c Release -o "$out/bin" -v quiet -nologo >/dev/null
driver() { dotnet "$out/bin/real_graphs.dll" "$@" || true; }  # a failure is a JSON line {"error": …}, shown in the table
[ -n "${TABLE_ONLY:-}" ] || [ -f "$out/data/fmnist64.eval.npy" ] || /usr/bin/python3 tests/data/torch/make_corpus.py --calib "$out/data" >/dev/null
[ -n "${TABLE_ONLY:-}" ] && started=$(cat "$out/started") || started="$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$started" >"$out/started"

# first_line FILE: the first line of an error output, for the table
first_line() { grep -v '^\s*$' "$1" | head -n 1 | cut -c1-400 || true; }

# cli NAME ARGS...: runs shrink ARGS with --json into OUT/models/NAME.json (stderr NAME.err); prints the exit code
cli() {
  local name=$1
  shift
  local rc=0
  shrink "$@" --json >"$out/models/$name.json" 2>"$out/models/$name.err" || rc=$?
  echo "$rc"
}

[ -z "${TABLE_ONLY:-}" ] && : >"$out/results.jsonl" || models=()
for m in "${models[@]}"; do
  size=$(/usr/bin/python3 -c 'import json,sys; print(next(x["input"][3] for x in json.load(open(sys.argv[1]))["models"] if x["model"] == sys.argv[2]))' "$corpus/manifest.json" "$m")
  for form in ${FORMS:-random realbn}; do
    f=$corpus/$m.$form.onnx
    stem=$m.$form
    data=$([ "$form" = realbn ] && echo fmnist || echo random)
    echo "== $stem" >&2
    check=$(driver check "$f" "$corpus/$stem.input.npy" "$corpus/$stem.output.npy")
    prune_rc=$(cli "$stem.prune" prune "$f" --method l1-filter --sparsity 0.5 --channel-multiple "$multiple" --bench-batch none --threads 2 --out "$out/models/$stem.pruned.onnx")
    masked=$(driver masked "$f" "$corpus/$stem.input.npy" "$multiple")
    quant_rc=$(cli "$stem.int8" quantize "$f" --mode static --per-channel --calib-data "$out/data/$data$size.calib.npy" --calib-samples 128 \
      --bench-batch none --threads 2 --out "$out/models/$stem.int8.onnx")
    fb_rc=$(cli "$stem.int8fb" quantize "$f" --mode static --per-channel --calib-data "$out/data/$data$size.calib.npy" --calib-samples 128 \
      --min-fidelity 0.99 --bench-batch none --threads 2 --out "$out/models/$stem.int8fb.onnx")
    static_fid='null'; layers='null'; dyn_rc='null'; dyn_fid='null'; fb_fid='null'
    [ "$fb_rc" = 0 ] && fb_fid=$(driver fidelity "$f" "$out/models/$stem.int8fb.onnx" "$out/data/$data$size.eval.npy")
    if [ "$quant_rc" = 0 ]; then
      static_fid=$(driver fidelity "$f" "$out/models/$stem.int8.onnx" "$out/data/$data$size.eval.npy")
      layers=$(driver layers "$f" "$out/models/$stem.int8.onnx")
    fi
    if [ "$m" = vit ]; then
      dyn_rc=$(cli "$stem.dynamic" quantize "$f" --mode dynamic --bench-batch none --threads 2 --out "$out/models/$stem.dynamic.onnx")
      [ "$dyn_rc" = 0 ] && dyn_fid=$(driver fidelity "$f" "$out/models/$stem.dynamic.onnx" "$out/data/$data$size.eval.npy")
    fi
    /usr/bin/python3 - "$out/models" "$stem" "$check" "$prune_rc" "$masked" "$quant_rc" "$static_fid" "$layers" "$dyn_rc" "$dyn_fid" \
      "$(first_line "$out/models/$stem.prune.err")" "$(first_line "$out/models/$stem.int8.err")" \
      "$([ "$dyn_rc" = null ] || first_line "$out/models/$stem.dynamic.err")" "$fb_rc" "$fb_fid" "$(first_line "$out/models/$stem.int8fb.err")" \
      >>"$out/results.jsonl" <<'PY'
import json, sys
d, stem, check, prune_rc, masked, quant_rc, static_fid, layers, dyn_rc, dyn_fid, prune_err, quant_err, dyn_err, fb_rc, fb_fid, fb_err = sys.argv[1:]
def fallback(path):  # layers whose weights the fallback kept in float, of the quantized layers; activation tensors float, of those quantized
    try:
        r = {k.lower(): v for k, v in json.load(open(path)).items()}
        f = {k.lower(): v for k, v in (r.get("fallback") or {}).items()}
        return {"kept": len(f.get("keptinfloat", [])), "layers": f.get("layers", 0), "activations": len(f.get("floatactivations", [])),
                "tensors": f.get("tensors", 0)}
    except Exception:
        return None
def macs(path):  # before and after MACs of a prune report (keys in any case)
    try:
        r = json.load(open(path))
    except Exception:
        return None
    low = lambda o: {k.lower(): v for k, v in o.items()}
    r = low(r)
    b, a = low(r.get("before", {})), low(r.get("after", {}))
    return [b.get("macs"), a.get("macs")] if "macs" in b and "macs" in a else None
print(json.dumps({"model": stem, "check": json.loads(check), "prune_rc": int(prune_rc), "prune_err": prune_err,
                  "macs": macs(f"{d}/{stem}.prune.json") if prune_rc == "0" else None, "masked": json.loads(masked),
                  "quant_rc": int(quant_rc), "quant_err": quant_err, "static": json.loads(static_fid),
                  "layers": json.loads(layers), "dyn_rc": json.loads(dyn_rc), "dyn": json.loads(dyn_fid), "dyn_err": dyn_err,
                  "fb_rc": int(fb_rc), "fb": json.loads(fb_fid), "fb_err": fb_err,
                  "fb_layers": fallback(f"{d}/{stem}.int8fb.json") if fb_rc == "0" else None}))
PY
  done
done

/usr/bin/python3 - "$out/results.jsonl" "$started" "$multiple" <<'PY' | tee "$out/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
manifest = {m["model"]: m for m in json.load(open("tests/data/torch/corpus/manifest.json"))["models"]}
cut = lambda s, n=110: (s[:n] + "…" if len(s) > n else s).replace("|", "\\|")
def num(v):
    return "—" if v is None else (f"{v:.0e}" if isinstance(v, float) else cut(str(v), 60))
print(f"bench/real_graphs.sh, {sys.argv[2]}; pruning l1-filter 0.5, channel multiple {sys.argv[3]}; static int8 per channel, 128 calibration inputs")
print()
print("| model | form | import | round trip | ORT vs PyTorch | executor vs ORT | prune 0.5 | MACs removed | cut vs masked | static int8 cosine | int8 layers | int8 cosine with --min-fidelity 0.99 | kept in float: layers' weights, activations | dynamic int8 cosine |")
print("| --- | --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    name, form = r["model"].rsplit(".", 1)
    c = r["check"]
    prune = "ok" if r["prune_rc"] == 0 else f"exit {r['prune_rc']}: {cut(r['prune_err'])}"
    macs = f"{1 - r['macs'][1] / r['macs'][0]:.1%}" if r["macs"] else "—"
    m = r["masked"]
    masked = f"{m['relative']:.0e}" if isinstance(m.get("relative"), (int, float)) else cut(m.get("refused", m.get("error", "?")), 40)
    if not manifest[name][form].get("output_depends_on_input", True):
        form += "†"
    cosine = lambda f: f"{f['cosine']:.4f}" if "cosine" in f else cut(f.get("error", "?"))
    static = cosine(r["static"]) if r["static"] else f"exit {r['quant_rc']}: {cut(r['quant_err'])}"
    layers = (f"{r['layers']['quantized']}/{r['layers']['total']}" if "total" in r["layers"] else cut(r["layers"].get("error", "?"))) if r["layers"] else "—"
    fb = (cosine(r["fb"]) if r.get("fb") else f"exit {r['fb_rc']}: {cut(r['fb_err'])}") if "fb_rc" in r else "—"
    fl = r.get("fb_layers")
    kept = "—" if not fl else (f"{fl['kept']}/{fl['layers']}, {fl['activations']}/{fl['tensors']}" if fl["kept"] or fl["activations"] else "0")
    dyn = "n/a" if r["dyn_rc"] is None else (cosine(r["dyn"]) if r["dyn"] else f"exit {r['dyn_rc']}: {cut(r['dyn_err'])}")
    if "error" in c:
        print(f"| {name} | {form} | {cut(c['error'])} | | | | {prune} | {macs} | {masked} | {static} | {layers} | {fb} | {kept} | {dyn} |")
        continue
    ex = c["executor"]
    ex = f"{ex:.0e}" if isinstance(ex, (int, float)) else cut(ex)
    print(f"| {name} | {form} | {cut(c['import'])} | {cut(c['round_trip'])} | {c['ort_vs_torch']:.0e} | {ex} | {prune} | {macs} | {masked} | {static} | {layers} | {fb} | {kept} | {dyn} |")
print()
print("Differences are the largest |difference| of the output's largest |value|. † the output does not depend on the input "
      "(torchvision's initialisation with BatchNorm statistics 0 and 1 shrinks the signal to nothing): every sample gets the same output. "
      "Kept in float: the layers the --min-fidelity 0.99 fallback kept in float, of the layers it measured (0: the target was met with every layer quantized).")
PY
