#!/usr/bin/env python3
"""The tables of bench/search.sh from its run directories' JSON results (shrink search --json)."""
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def cmd(run):
    with open(run + ".cmd") as f:
        return f.read().strip()


def started(out):
    with open(os.path.join(out, "started")) as f:
        return f.read().strip()


def minutes(run):
    with open(run + ".seconds") as f:
        return int(f.read()) / 60


def completed(r):
    return [t for t in r["trials"] if t["status"] == "completed"]


def vs_zoo(out):
    run = os.path.join(out, "evolution-0")
    r = load(run + ".json")
    refs = {p["name"]: p for p in r["references"]}
    roles = {}
    for m in r["frontModels"] + r["final"]:
        roles.setdefault(m["trial"], []).append("front" if m["goal"] == "front" else "best " + m["goal"])
    models = list({m["trial"]: m for m in r["frontModels"] + r["final"]}.values())
    print(f"#### Evolution against the zoo ({started(out)})\n")
    print(f"{len(r['trials'])} trials ({len(completed(r))} completed) in {minutes(run):.0f} min; the front and the best of each goal trained "
          f"afresh for {r['finalEpochs']} epochs. Training: {r.get('training', 'adam lr 0.001')}. Latency: ONNX Runtime p50, {r['machine']['threads']} thread(s) on {r['machine']['cpu']}.\n")
    print("| model | accuracy | p50 batch 1 | p50 batch 256 | params | how it was trained |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for m in sorted(models, key=lambda m: -m["metrics"]["accuracy"]):
        x = m["metrics"]
        print(f"| trial {m['trial'] + 1} ({', '.join(roles[m['trial']])}) | {x['accuracy']:.2f} % | {x['latency_b1_ms']:.3f} ms | {x['latency_b256_ms']:.2f} ms | {x['params']:,.0f} | {m['epochs']} epochs |")
    for name, p in refs.items():
        x = p["metrics"]
        print(f"| {name} | {x['accuracy']:.2f} % | {x['latency_b1_ms']:.3f} ms | {x['latency_b256_ms']:.2f} ms | {x['params']:,.0f} | {p['source'].replace(os.getcwd() + '/', '')} |")
    for ref, test, words in (
            ("lenet5", lambda x, y: x["accuracy"] > y["accuracy"] and x["latency_b1_ms"] < y["latency_b1_ms"], "more accurate and faster at batch 1 than lenet5"),
            ("vgg-small", lambda x, y: x["accuracy"] > y["accuracy"] and x["latency_b256_ms"] < 0.5 * y["latency_b256_ms"],
             "more accurate than vgg-small at under half its batch-256 latency")):
        if ref not in refs:
            continue
        wins = [m for m in models if test(m["metrics"], refs[ref]["metrics"])]
        best = max(wins, key=lambda m: m["metrics"]["accuracy"]) if wins else None
        print(f"\nTarget, a model trained afresh {words} ({refs[ref]['source'].replace(os.getcwd() + '/', '')}): **{'met' if best else 'not met'}**"
              + (f" (trial {best['trial'] + 1}: {best['metrics']['accuracy']:.2f} % against {refs[ref]['metrics']['accuracy']:.2f} %)" if best else "") + ".")
        same = [t for t in completed(r) if test(t["metrics"], refs[ref]["metrics"])]
        if refs[ref].get("epochs"):
            print(f"Trials (as trained in the search, {refs[ref]['epochs']} epochs, as {ref} was) {words}: {len(same)} of {len(completed(r))}.")
    print(f"\n    {cmd(run)}\n")


def hypervolume(points, ref):
    """2-D hypervolume (minimize both) of the points dominating ref."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def front(points):
    return [p for p in points if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)]


def dominates(a, b):
    """Every point of front b is weakly dominated by a point of front a."""
    return all(any(q[0] <= p[0] and q[1] <= p[1] for q in a) for p in b)


def strategies(out, seeds):
    print(f"#### Evolution against random search ({started(out)})\n")
    print("Hypervolume of the (batch-1 latency, test error) front of the completed trials, both minimized, latency as a fraction of the "
          "slowest trial of the seed's two runs, error in points, reference point (1.1, 90 = chance); larger is better.\n")
    print("| seed | trials | evolution: hypervolume | random: hypervolume | evolution's front dominates random's |")
    print("| ---: | ---: | ---: | ---: | --- |")
    wins, dom, commands = 0, 0, []
    for seed in seeds.split(","):
        runs = {s: load(os.path.join(out, f"{s}-{seed}.json")) for s in ("evolution", "random")}
        slowest = max(t["metrics"]["latency_b1_ms"] for r in runs.values() for t in completed(r))
        pts = {s: [(t["metrics"]["latency_b1_ms"] / slowest, 100 - t["metrics"]["accuracy"]) for t in completed(r)] for s, r in runs.items()}
        hv = {s: hypervolume(p, (1.1, 90.0)) for s, p in pts.items()}
        d = dominates(front(pts["evolution"]), front(pts["random"]))
        wins += hv["evolution"] >= hv["random"]
        dom += d
        print(f"| {seed} | {len(runs['evolution']['trials'])} | {hv['evolution']:.2f} | {hv['random']:.2f} | {'yes' if d else 'no'} |")
        commands += [cmd(os.path.join(out, f"{s}-{seed}")) for s in ("evolution", "random")]
    n = len(seeds.split(","))
    print(f"\nEvolution's hypervolume is the larger in {wins} of {n} seeds; its front dominates random's in {dom} of {n}.\n")
    for c in commands:
        print(f"    {c}")
    print()


def within(pairs):
    return sum(1 for p, m in pairs if abs(p - m) <= 0.10 * abs(m) + 1e-12)


def tau(pairs):
    c = d = ta = tb = n = 0
    for i in range(len(pairs)):
        for j in range(i + 1, len(pairs)):
            n += 1
            da = (pairs[i][0] > pairs[j][0]) - (pairs[i][0] < pairs[j][0])
            db = (pairs[i][1] > pairs[j][1]) - (pairs[i][1] < pairs[j][1])
            ta += da == 0
            tb += db == 0
            c += da * db > 0
            d += da * db < 0
    den = ((n - ta) * (n - tb)) ** 0.5
    return f"{(c - d) / den:.2f}" if den else "–"


def table(out, seeds):
    # From the trials themselves: the sum of the pieces timed alone (table_alone_latency_bN_ms; in a run from before the
    # in-context table, table_latency_bN_ms, or its prediction where it has neither) and the table's sum of the pieces timed in
    # context (table_latency_bN_ms) on every measured trial, the table's sum (whichever the run used) on the held-out ones, and the calibrated prediction on the held-out ones (calibration_trials > 0:
    # predicted through a fit on earlier trials only).
    print("#### Latency table against measurement\n")
    print("Within ±10 % of the measured latency: the sum of the pieces timed alone, and the table's sum of the pieces timed in context, on "
          "every measured trial (a run from before the in-context table has only the first), then on the trials predicted after the calibration "
          "existed (held out: each from a fit on earlier trials only) the table's sum the run used against the calibrated prediction on those same trials.\n")
    print("| run | trials measured | held out | blocks | b1: alone, all | b1: sum, all | b1: sum, held out | b1: calibrated, held out | τ b1 (sum / calibrated) "
          "| b256: alone, all | b256: sum, all | b256: sum, held out | b256: calibrated, held out | τ b256 (sum / calibrated) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total = {b: {"alone": [0, 0], "all": [0, 0], "sum": [0, 0], "cal": [0, 0]} for b in (1, 256)}
    pct = lambda h, n: f"{100 * h / n:.0f} %" if n else "–"
    for seed in seeds.split(","):
        for s in ("evolution", "random"):
            path = os.path.join(out, f"{s}-{seed}.json")
            if not os.path.exists(path):
                continue
            r = load(path)
            cells = []
            held_n = 0
            for b in (1, 256):
                m, p, t, a = f"latency_b{b}_ms", f"predicted_latency_b{b}_ms", f"table_latency_b{b}_ms", f"table_alone_latency_b{b}_ms"
                trials = [x["metrics"] for x in completed(r) if m in x["metrics"] and p in x["metrics"]]
                alone_pairs = [(x[a], x[m]) for x in trials if a in x]
                all_pairs = [(x.get(t, x[p]), x[m]) for x in trials]
                if not alone_pairs:   # a run from before the in-context table: its sum was the pieces alone
                    alone_pairs, all_pairs = all_pairs, []
                held = [x for x in trials if x.get("calibration_trials", 0) > 0]
                sum_pairs = [(x[t], x[m]) for x in held]
                cal_pairs = [(x[p], x[m]) for x in held]
                held_n = len(held)
                for k, pairs in (("alone", alone_pairs), ("all", all_pairs), ("sum", sum_pairs), ("cal", cal_pairs)):
                    total[b][k][0] += within(pairs)
                    total[b][k][1] += len(pairs)
                cells += [pct(within(alone_pairs), len(alone_pairs)), pct(within(all_pairs), len(all_pairs)), pct(within(sum_pairs), len(sum_pairs)), pct(within(cal_pairs), len(cal_pairs)),
                          f"{tau(sum_pairs)} / {tau(cal_pairs)}"]
                n_all = len(trials)
            print(f"| {s}, seed {seed} | {n_all} | {held_n} | {r['latencyTable']['blocks']} | " + " | ".join(cells) + " |")
    print()
    for b, t in total.items():
        if t["all"][1]:
            print(f"Batch {b}: the pieces alone {t['alone'][0]} of {t['alone'][1]} within ±10 % ({pct(*t['alone'])}), the table's sum in context "
                  f"{t['all'][0]} of {t['all'][1]} ({pct(*t['all'])}); on the held-out trials the sum "
                  f"{t['sum'][0]} of {t['sum'][1]} ({pct(*t['sum'])}), calibrated {t['cal'][0]} of {t['cal'][1]} ({pct(*t['cal'])}; target 90 %).\n")


def documents(path):
    """The JSON documents one after another in the file at path (shrink bench --json, once per model)."""
    with open(path) as f:
        text, docs, i = f.read(), [], 0
    decoder = json.JSONDecoder()
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
    return docs


def repeat(out, seeds):
    # The noise floor: each trial's model timed in two later passes (shrink bench), the two against each other and the first
    # against the search's own measurement of the trial.
    print("#### The measurement's own repeatability\n")
    print("Each completed trial's model timed again in two passes over the run's models (`shrink bench --threads 1 --runs 24 --warmup 3`, "
          "p50): the share of models whose two timings are within ±10 % of each other, and whose first is within ±10 % of the search's "
          "own measurement of the trial; no predictor can be shown to do better than this.\n")
    print("| run | models | b1: pass 1 vs pass 2 | b1: pass 1 vs the search | b256: pass 1 vs pass 2 | b256: pass 1 vs the search |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    total = {b: {"again": [0, 0], "search": [0, 0]} for b in (1, 256)}
    pct = lambda h, n: f"{100 * h / n:.0f} %" if n else "–"
    for seed in seeds.split(","):
        for s in ("evolution", "random"):
            run = os.path.join(out, f"{s}-{seed}")
            if not os.path.exists(run + ".repeat2.json"):
                continue
            passes = [{(os.path.normpath(row["model"]), row["batch"]): row["p50Ms"] for d in documents(f"{run}.repeat{k}.json") for row in d["rows"]} for k in (1, 2)]
            searched = {(os.path.normpath(os.path.join(run, t["model"])), b): t["metrics"][f"latency_b{b}_ms"] for t in completed(load(run + ".json"))
                        for b in (1, 256) if t.get("model") and f"latency_b{b}_ms" in t["metrics"]}
            cells, models = [], len({m for m, _ in passes[0]})
            for b in (1, 256):
                keys = [k for k in passes[0] if k[1] == b and k in passes[1]]
                again = [(passes[0][k], passes[1][k]) for k in keys]
                vs = [(passes[0][k], searched[k]) for k in keys if k in searched]
                for name, pairs in (("again", again), ("search", vs)):
                    total[b][name][0] += within(pairs)
                    total[b][name][1] += len(pairs)
                cells += [pct(within(again), len(again)), pct(within(vs), len(vs))]
            print(f"| {s}, seed {seed} | {models} | " + " | ".join(cells) + " |")
    print()
    for b, t in total.items():
        if t["again"][1]:
            print(f"Batch {b}: a model timed twice agrees with itself within ±10 % for {t['again'][0]} of {t['again'][1]} ({pct(*t['again'])}), "
                  f"with the search's measurement for {t['search'][0]} of {t['search'][1]} ({pct(*t['search'])}).\n")


def crash(out):
    run = os.path.join(out, "crash")
    before = load(run + ".before.json")
    after = load(run + ".json")
    finished = {t["number"]: t for t in before["trials"] if t["status"] in ("completed", "pruned", "failed")}
    kept = {t["number"]: t for t in after["trials"]}
    lost = [n for n, t in finished.items() if n not in kept or kept[n]["metrics"] != t["metrics"]]
    print("#### kill -9 and resume\n")
    print(f"Killed with kill -9 during trial {len(finished) + 1}, after {len(finished)} finished trials; resumed to {len(after['trials'])} trials "
          f"({len(completed(after))} completed). Finished trials lost or changed: **{len(lost)}**.\n\n    {cmd(run)}\n")


if __name__ == "__main__":
    out, seeds, parts = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    if "vs-zoo" in parts:
        vs_zoo(out)
    if "strategies" in parts:
        strategies(out, seeds)
    if "strategies" in parts or "vs-zoo" in parts:
        table(out, seeds)
    if "repeat" in parts:
        repeat(out, seeds)
    if "crash" in parts:
        crash(out)
