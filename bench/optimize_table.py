"""Tables of bench/optimize.sh, read from the run directories it wrote (result.json of each run, the .cmd files, the
bench and pack JSON, trials.db); nothing is hard-coded. Usage: optimize_table.py size|latency|crash|strategies|snapshot ARGS."""
import hashlib
import json
import os
import sqlite3
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def get(d, *keys):
    """d[k1][k2]…, matching keys without regard to case (the CLI's JSON is camelCase)."""
    for k in keys:
        if d is None:
            return None
        if isinstance(d, list):
            d = d[k]
            continue
        d = next((v for kk, v in d.items() if kk.lower() == k.lower()), None)
    return d


def cmd(run):
    with open(run + ".cmd") as f:
        return f.read().strip()


def seconds(run):
    with open(run + ".seconds") as f:
        return int(f.read().split()[0])


def started(out):
    with open(os.path.join(out, "started")) as f:
        return f.read().strip()


def drop_text(best):
    m = best["metrics"]
    return f"{m['drop']:.2f} [{m['drop_low']:.2f}, {m['drop_high']:.2f}]"


def size_row(run, label):
    r = load(run + ".json")
    best = r["best"]
    ratio = r["baseline"]["fileBytes"] / best["metrics"]["bytes"]
    packed = "–"
    if os.path.exists(run + ".pack.json"):
        p = load(run + ".pack.json")
        acc = get(p, "accuracy")
        packed = f"{get(p, 'containerBytes'):,} B" + (f", {100 * acc:.2f} %" if acc is not None else "")
    met = "yes" if r["met"] else "no (" + "; ".join(r.get("missReasons", [])) + ")"
    print(f"| {label} | {best['summary']} | {drop_text(best)} | {int(best['metrics']['bytes']):,} B | **{ratio:.1f}×** | {packed} | {met} | "
          f"{len(r['trials'])} | {seconds(run) / 60:.0f} min |")
    return ratio if r["met"] else None


def size(out, trained, models, singles):
    print(f"\n### shrink optimize --goal size ({started(out)})\n")
    for m in models.split(","):
        base = load(os.path.join(out, f"size-{m}-all.json"))["baseline"]
        print(f"\n{m}: float ONNX file {base['fileBytes']:,} B, accuracy {base['accuracy']:.2f} %\n")
        print("| search | best trial | drop, points [95 % CI] | size figure | ratio vs float file | best.shrink (packed), accuracy unpacked | met | trials | time |")
        print("| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: |")
        every = size_row(os.path.join(out, f"size-{m}-all"), "every technique")
        single = {}
        for t in singles.split(","):
            single[t] = size_row(os.path.join(out, f"size-{m}-{t}"), f"`--techniques {t}`")
        print("\nCommands:\n")
        for run in [f"size-{m}-all"] + [f"size-{m}-{t}" for t in singles.split(",")]:
            print(f"    {cmd(os.path.join(out, run))}")
        met = {t: r for t, r in single.items() if r is not None}
        if every is None:
            print("\nEvery technique: no trial met the budget.")
        elif met:
            t, r = max(met.items(), key=lambda kv: kv[1])
            print(f"\nEvery technique against the best single technique within the budget ({t}, {r:.1f}×): "
                  f"**{every / r:.2f}×** smaller (target ≥ 1.3×: {'met' if every / r >= 1.3 else 'not met'}).")
        else:
            print("\nNo single technique met the budget.")
        hand = os.path.join("out/deep-compression", f"{m}.shrink")
        if every is not None and os.path.exists(hand):
            h = base["fileBytes"] / os.path.getsize(hand)
            print(f"Hand-made pipeline ({hand}, bench/deep_compression.sh): {h:.1f}×; every technique {'≥' if every >= h else '<'} it ({every:.1f}×).")
        else:
            print("Hand-made pipeline: not measured in this run (bench/deep_compression.sh writes out/deep-compression/MODEL.shrink).")


def bench_rows(path):
    b = load(path)
    return {get(r, "batch"): r for r in get(b, "comparison")}


def latency(out, trained, models, singles):
    print(f"\n### shrink optimize --goal latency ({started(out)})\n")
    print("Speed-ups from one interleaved `shrink bench A --vs B --batch 1,256 --threads 2 --runs 50` per pair (p50; verdict by the interquartile ranges).\n")
    print("| model | search | best trial | drop, points [95 % CI] | met | p50 at 256 vs original | against the single technique's best at 1 / 256 | trials | time |")
    print("| --- | --- | --- | ---: | --- | ---: | --- | ---: | ---: |")
    commands = []
    for m in models.split(",") + ["lenet5"]:
        run = os.path.join(out, f"latency-{m}-all")
        r = load(run + ".json")
        vs = bench_rows(os.path.join(out, f"latency-{m}-all-vs-original.json"))
        b256 = vs[256]
        speed = get(b256, "baseline", "p50Ms") / get(b256, "candidate", "p50Ms")
        against = []
        for t in (singles.split(",") if m != "lenet5" else []):
            rows = bench_rows(os.path.join(out, f"latency-{m}-all-vs-{t}.json"))
            s = load(os.path.join(out, f"latency-{m}-{t}.json"))
            ratio = [get(rows[b], "baseline", "p50Ms") / get(rows[b], "candidate", "p50Ms") for b in (1, 256)]
            against.append(f"{t} ({s['best']['summary']}, {'met' if s['met'] else 'missed'}): {ratio[0]:.2f}× / **{ratio[1]:.2f}×** ({get(rows[256], 'verdict')})")
            commands.append(cmd(os.path.join(out, f"latency-{m}-{t}")))
        best = r["best"]
        print(f"| {m} | every technique | {best['summary']} | {drop_text(best)} | {'yes' if r['met'] else 'no'} | "
              f"{get(b256, 'baseline', 'p50Ms'):.2f} → {get(b256, 'candidate', 'p50Ms'):.2f} ms ({speed:.2f}×) | {'; '.join(against) or '–'} | "
              f"{len(r['trials'])} | {seconds(run) / 60:.0f} min |")
        commands.insert(0, cmd(run))
    print("\nTarget: ≥ 1.2× faster at batch 256 than the best single technique.\n\nCommands:\n")
    for c in commands:
        print(f"    {c}")
    pt = [json.loads(line) for line in open(os.path.join(out, "latency-lenet5-pytorch.json")) if line.strip()][0]
    vs = bench_rows(os.path.join(out, "latency-lenet5-all-vs-original.json"))
    r = load(os.path.join(out, "latency-lenet5-all.json"))
    print("\nlenet5, `--goal latency --max-accuracy-drop 0.5`, against PyTorch's eager int8 of the same weights (bench/pytorch_quantize.py, "
          f"{pt['engine']}, {pt['threads']} threads), in the same run:\n")
    print("| batch | original (ONNX Runtime) | optimize's best (ONNX Runtime) | PyTorch float (eager) | PyTorch int8 (eager) | best vs PyTorch int8 |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for b in (1, 256):
        ours, theirs = get(vs[b], "candidate", "p50Ms"), pt["latency_ms"]["int8"][str(b)]
        print(f"| {b} | {get(vs[b], 'baseline', 'p50Ms'):.3f} ms | {ours:.3f} ms | {pt['latency_ms']['float'][str(b)]:.3f} ms | {theirs:.3f} ms | "
              f"**{theirs / ours:.2f}×** {'faster' if ours < theirs else 'NOT faster'} |")
    print(f"\nAccuracy: optimize's best {r['best']['metrics']['accuracy']:.2f} % ({r['best']['summary']}, drop {drop_text(r['best'])}); "
          f"PyTorch int8 {100 * pt['int8_accuracy']:.2f} % (float {100 * pt['float_accuracy']:.2f} %).")


def finished(directory):
    """Finished trials in DIR/trials.db: number → (hash, status, metrics, finished)."""
    db = sqlite3.connect(f"file:{os.path.join(directory, 'trials.db')}?mode=ro", uri=True)
    try:
        rows = db.execute("select number, hash, status, metrics, finished from trials where status in ('completed', 'failed', 'pruned')").fetchall()
        running = db.execute("select count(*) from trials where status = 'running'").fetchone()[0]
    finally:
        db.close()
    return {str(n): [h, s, m, f] for n, h, s, m, f in rows}, running


def snapshot(directory, path, kill, delay):
    done, running = ({}, 0) if not os.path.exists(os.path.join(directory, "trials.db")) else finished(directory)
    with open(path, "a") as f:
        f.write(json.dumps({"kill": int(kill), "delay": int(delay), "finished": done, "running": running}) + "\n")


def best_identity(run):
    r = load(run + ".json")
    db = sqlite3.connect(f"file:{os.path.join(run, 'trials.db')}?mode=ro", uri=True)
    h = db.execute("select hash from trials where number = ?", (r["best"]["number"],)).fetchone()[0]
    db.close()
    with open(os.path.join(run, "best.onnx"), "rb") as f:
        return h, hashlib.sha256(f.read()).hexdigest(), r


def crash(out, killed):
    snaps = [json.loads(line) for line in open(killed + ".kills")] if os.path.exists(killed + ".kills") else []
    final, _ = finished(killed)
    lost, rerun = [], []
    for i, s in enumerate(snaps):
        later = snaps[i + 1:]
        for n, row in s["finished"].items():
            for other in [x["finished"] for x in later] + [final]:
                if n not in other:
                    lost.append(n)
                elif other[n] != row:
                    rerun.append(n)
    ref_hash, ref_sha, ref = best_identity(os.path.join(out, "crash-reference"))
    hash_, sha, res = best_identity(killed)
    total, starts, kills = open(killed + ".seconds").read().split()
    print(f"\n### Crash safety: kill -9 during a run ({started(out)})\n")
    print("| run | kills | starts | finished trials | lost | run again | best trial | configuration hash | best.onnx SHA-256 | time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |")
    print(f"| uninterrupted | 0 | 1 | {len(ref['trials'])} | – | – | {ref['best']['number'] + 1}: {ref['best']['summary']} | {ref_hash[:12]} | {ref_sha[:12]} | {seconds(os.path.join(out, 'crash-reference')) / 60:.0f} min |")
    print(f"| killed and resumed | {kills} | {starts} | {len(final)} | {len(set(lost))} | {len(set(rerun))} | {res['best']['number'] + 1}: {res['best']['summary']} | {hash_[:12]} | {sha[:12]} | {int(total) / 60:.0f} min |")
    same = hash_ == ref_hash and sha == ref_sha
    print(f"\nKill moments (seconds after each start): {', '.join(str(s['delay']) for s in snaps)}; finished trials at each kill: "
          f"{', '.join(str(len(s['finished'])) for s in snaps)}.")
    print(f"Same best model as the uninterrupted run: **{'yes' if same else 'no'}** (configuration hash and best.onnx bytes).")
    print(f"\n    {cmd(os.path.join(out, 'crash-reference'))}\n    {cmd(killed)}")


def hypervolume(points, ref):
    """2-D hypervolume (minimize both) of the points dominating ref."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def strategies(out, model, seeds):
    print(f"\n### Evolution against random search ({started(out)})\n")
    print("Hypervolume of the (size, accuracy drop) front of the completed trials, both minimized, size as a fraction of the float "
          "ONNX file, reference point (1, 2 × the budget = 1 point); larger is better.\n")
    print("| seed | trials | evolution: hypervolume | best met | random: hypervolume | best met | evolution ≥ random |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    wins, commands = 0, []
    for seed in seeds.split(","):
        row = {}
        for s in ("evolution", "random"):
            run = os.path.join(out, f"strategy-{model}-{s}-{seed}")
            r = load(run + ".json")
            fb = r["baseline"]["fileBytes"]
            pts = [(t["metrics"]["bytes"] / fb, t["metrics"]["drop"]) for t in r["trials"] if t["status"] == "completed"]
            ratio = fb / r["best"]["metrics"]["bytes"] if r["met"] else None
            row[s] = (hypervolume(pts, (1.0, 2 * r["maxAccuracyDrop"])), ratio, len(r["trials"]))
            commands.append(cmd(run))
        e, rnd = row["evolution"], row["random"]
        wins += e[0] >= rnd[0]
        fmt = lambda x: f"{x:.1f}×" if x else "none"
        print(f"| {seed} | {e[2]} | {e[0]:.4f} | {fmt(e[1])} | {rnd[0]:.4f} | {fmt(rnd[1])} | {'yes' if e[0] >= rnd[0] else 'no'} |")
    print(f"\nEvolution's front has the larger hypervolume in {wins} of {len(seeds.split(','))} seeds.\n\nCommands:\n")
    for c in commands:
        print(f"    {c}")


if __name__ == "__main__":
    part, args = sys.argv[1], sys.argv[2:]
    {"size": size, "latency": latency, "crash": crash, "strategies": strategies, "snapshot": snapshot}[part](*args)
