"""Tables bench/merge.sh's JSON reports: one row per model and transformation (merge, fp16, fp16 compute, bf16)."""
import glob
import json
import os
import sys

out = sys.argv[1]
kinds = [("merge", "merge"), ("fp16", "fp16 weights"), ("fp16c", "fp16 compute"), ("bf16", "bf16 weights")]
print("| model | transformation | merges (consec./parallel/share) | parameters | file | cosine | max abs error | p50 b1 ms (before → after) | b1 verdict | p50 b32 ms | b32 verdict |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for merge in sorted(glob.glob(os.path.join(out, "*.merge.json"))):
    model = os.path.basename(merge)[: -len(".merge.json")]
    for suffix, label in kinds:
        path = os.path.join(out, f"{model}.{suffix}.json")
        if not os.path.exists(path):
            continue
        d = json.load(open(path))
        b, a = d["before"], d["after"]
        merges = "–"
        if suffix == "merge":
            ms = d["merges"]
            merges = "/".join(str(sum(1 for m in ms if str(m["kind"]).lower() == k)) for k in ("consecutive", "parallel", "share"))
        f = a.get("fidelity") or [{}]
        rows = {r["batch"]: r for r in a.get("comparison") or []}
        def lat(batch):
            r = rows.get(batch)
            return ("–", "–") if r is None else (f"{r['baseline']['p50Ms']:.3f} → {r['candidate']['p50Ms']:.3f}", r["words"])
        (l1, v1), (l32, v32) = lat(1), lat(32)
        print(f"| {model} | {label} | {merges} | {b['parameters']:,} → {a['parameters']:,} | {b['bytes']/1024:.1f} → {a['bytes']/1024:.1f} KiB "
              f"| {min(x.get('cosine', 1) for x in f):.6f} | {max(x.get('maxAbsError', 0) for x in f):.2e} | {l1} | {v1} | {l32} | {v32} |")
