# Run: /usr/bin/python3 bench/e2e_table.py OUT_DIR   (after bench/e2e_resnet18.sh has filled OUT_DIR)
"""The markdown table of bench/e2e_resnet18.sh: one row per stage, Shrink's accuracy with labels, its fidelity to the
float model without labels, PyTorch's accuracy (and top-1 agreement) on the same weights, and the sizes."""
import argparse
import json
import os

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("out")
parser.add_argument("--source", default="")
parser.add_argument("--minutes", default="")
args = parser.parse_args()


def load(name):
    path = os.path.join(args.out, f"{name}.json")
    return json.load(open(path)) if os.path.isfile(path) else None


def parameters(path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
    return sum(a.size for a in arrays if a.dtype.kind == "f" or a.dtype.itemsize == 1)


def pct(x):
    return f"{100 * x:.2f} %" if x is not None else "—"


def mib(n):
    return f"{n / 2**20:.1f} MiB"


def fidelity(name):
    f = load(f"fidelity-{name}")
    if f is None:
        return "— (the float model itself)" if name == "float" else "—"
    o = f["fidelity"][0]
    sqnr = "∞" if o["sqnrDb"] is None or o["sqnrDb"] == float("inf") else f"{o['sqnrDb']:.1f} dB"
    return f"{pct(o['top1Agreement'])} top-1 agreement, cosine {o['cosine']:.4f}, SQNR {sqnr}"


stages = [("float", "float (PyTorch-trained, exported)", "float"), ("pruned-cut", "pruned to half the channels", "pruned"),
          ("pruned", "pruned + fine-tuned", "fine-tuned"), ("int8", "pruned + fine-tuned + static int8", "int8")]
# Each stage's accuracy on the val split, as the command that made it measured it (before and after).
measured = {"float": ("prune-cut", "before"), "pruned-cut": ("prune-cut", "after"), "pruned": ("prune", "after"), "int8": ("quantize", "after")}


def accuracy(name):
    e = load(f"eval-{name}")
    if e is not None:
        return e["accuracy"]
    command, side = measured[name]
    c = load(command)
    return c[side]["accuracy"] if c is not None else None
torch = {r["stage"]: r for r in (load("pytorch") or {"stages": []})["stages"]}
train = load("train") or {}
rows = ["| stage | Shrink accuracy | Shrink fidelity to float (no labels) | Shrink file | parameters | ORT p50, batch 64 "
        "| PyTorch accuracy | PyTorch agreement with float | PyTorch state_dict |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for name, label, peer in stages:
    path = os.path.join(args.out, f"{name}.onnx")
    a, b, p = accuracy(name), load(f"bench-{name}"), torch.get(peer)
    rows.append("| " + " | ".join([
        label, pct(a), fidelity(name), mib(os.path.getsize(path)) if os.path.isfile(path) else "—",
        f"{parameters(path):,}" if os.path.isfile(path) else "—",
        f"{b['rows'][0]['p50Ms']:.1f} ms" if b else "—",
        pct(p["accuracy"]) if p else "—", pct(p["agreement"]) if p else "—",
        mib(p["state_dict_bytes"]) if p else "—"]) + " |")
engine = torch.get("int8", {}).get("engine", "?")
print("\n".join(rows))
print()
print(f"Data: {args.source} as a 3×32×32 image folder; accuracy on its 10,000 val images. Training: PyTorch, "
      f"{train.get('epochs', '?')} epoch(s), lr {train.get('lr', '?')}, {train.get('epoch_s', '?')} s per epoch. "
      f"PyTorch int8: FX graph mode, engine {engine}. Whole run: {args.minutes} min.")
