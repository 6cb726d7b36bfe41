"""Aggregate cells/*.json → per-cell CSV, per-candidate stats, MDEs, effects (Markdown to stdout)."""

import csv
import glob
import json
import math
from collections import defaultdict

import numpy as np
import torch
from scipy import optimize, stats

torch.set_num_threads(1)
N_TEST = 359
GRID = [4, 8, 12, 16, 24, 32]
GRIDS = {
    "auc0-32": [0, 4, 8, 12, 16, 24, 32],
    "auc0-24": [0, 4, 8, 12, 16, 24],
    "auc8-32": [8, 12, 16, 24, 32],
    "auc_g4": [0, 8, 16, 24, 32],
    "auc_g3": [0, 8, 16, 24],
    "auc_g3b": [0, 16, 24, 32],
}
MODELS = ["resnet20", "inresnet20", "lambda_inresnet20"]
SHORT = {"resnet20": "ResNet", "inresnet20": "In", "lambda_inresnet20": "λ-In"}


def frac(b):
    return 100.0 * b.count("1") / len(b)


def band(*bs):
    return "".join("1" if all(x[i] == "1" for x in bs) else "0" for i in range(len(bs[0])))


def auc(vals, grid):
    """Normalised trapezoid area (mean accuracy over [grid0, gridmax]) in %."""
    x = np.array(grid, float)
    return float(np.trapezoid(vals, x) / (x[-1] - x[0]))


_DS = {}


def init_lambdas(spec):
    from resode import data
    from resode.training import get_preset
    from resode.training.engine import build_model

    cfg = get_preset(
        "digits", model=spec["model"], seed=spec["seed"], image_size=spec["image_size"]
    )
    if spec["image_size"] not in _DS:
        _DS[spec["image_size"]] = data.load("digits", split="train", image_size=spec["image_size"])
    ds = _DS[spec["image_size"]]
    torch.manual_seed(spec["seed"])
    m = build_model(cfg, ds)
    return {
        k: [float(v) for v in t.detach().reshape(-1)]
        for k, t in m.interpolation_coefficients().items()
    }


def cell_metrics(d):
    spec, ev, tr = d["spec"], d["eval"], d["train"]
    out = {
        "cand": spec["cand"],
        "model": spec["model"],
        "seed": spec["seed"],
        "size": spec["image_size"],
        "batch": spec["batch"],
        "epochs": spec["epochs"],
    }
    clean = ev["clean"]
    out["clean"] = frac(clean)
    pgd, fg = ev["attacks"]["pgd|scaled|es"], ev["attacks"]["fgsm|scaled|es"]
    ifg = ev["attacks"].get("ifgsm|scaled|es")
    full = ev["attacks"].get("pgd|scaled|full")
    for e in GRID:
        k = f"{e}"
        out[f"pgd{e}"] = frac(pgd[k])
        out[f"fgsm{e}"] = frac(fg[k])
        out[f"rob{e}"] = frac(band(clean, fg[k], pgd[k]))
        if ifg:
            out[f"rob3_{e}"] = frac(band(clean, fg[k], pgd[k], ifg[k]))
            out[f"ifgsm{e}"] = frac(ifg[k])
        if full:
            out[f"pgdfull{e}"] = frac(full[k])
    for name, g in GRIDS.items():
        out[name] = auc([out["clean"] if e == 0 else out[f"rob{e}"] for e in g], g)
    for m in (1, 2, 3):
        accs = [frac(b) for kk, b in ev["noise"].items() if kk.startswith(f"{m}|")]
        out[f"noise_m{m}"] = float(np.mean(accs))
        out[f"drop_m{m}"] = out["clean"] - out[f"noise_m{m}"]
        for c in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"):
            a = [frac(b) for kk, b in ev["noise"].items() if kk.startswith(f"{m}|{c}|")]
            out[f"drop_m{m}_{c}"] = out["clean"] - float(np.mean(a))
    cpu = ev["cpu_s"]
    nm = len(spec["mults"])
    out["cpu_startup"] = d.get("startup_cpu_s", float("nan"))
    out["cpu_train"] = tr["train_cpu_s"]
    out["cpu_noise_per_set"] = cpu["noise"] / nm
    out["cpu_fgsm"] = cpu["fgsm|scaled|es"]
    out["cpu_pgd"] = (
        cpu["pgd|scaled|es"] * len(GRID) / len(spec["eps255"])
        if len(spec["eps255"]) != len(GRID)
        else cpu["pgd|scaled|es"]
    )
    out["cpu_ifgsm"] = cpu.get("ifgsm|scaled|es", float("nan"))
    out["cpu_pgdfull"] = cpu.get("pgd|scaled|full", float("nan"))
    out["n_eps_measured"] = len(spec["eps255"])
    out["hist"] = [h["test_acc"] * 100 for h in tr["history"]]
    if d["final_lambdas"]:
        lam0 = init_lambdas(spec)
        lam1 = d["final_lambdas"]
        deltas = [lam1[k][0] - lam0[k][0] for k in lam1]
        out["lam_init_mean"] = float(np.mean([lam0[k][0] for k in lam1]))
        out["lam_final_mean"] = float(np.mean([lam1[k][0] for k in lam1]))
        out["lam_mean_abs_change"] = float(np.mean(np.abs(deltas)))
        out["lam_max_abs_change"] = float(np.max(np.abs(deltas)))
        out["lam_final"] = [round(lam1[k][0], 3) for k in lam1]
        out["lam_init"] = [round(lam0[k][0], 3) for k in lam1]
    return out


def mde(sd, n, alpha=0.05, power=0.8):
    """Smallest δ with power ≥ 0.8 for a two-sided Welch/Student t test, n per group, common sd."""
    if n < 2 or not sd > 0:
        return float("nan")
    df = 2 * n - 2
    se = sd * math.sqrt(2 / n)
    tc = stats.t.ppf(1 - alpha / 2, df)
    f = lambda d: (
        float(
            np.nan_to_num(stats.nct.sf(tc, df, d / se))
            + np.nan_to_num(stats.nct.cdf(-tc, df, d / se))
        )
        - power
    )
    return float(optimize.brentq(f, 1e-9, 15 * se))


def seeds_for(delta, sd, nmax=400):
    for n in range(2, nmax):
        if mde(sd, n) <= delta:
            return n
    return f">{nmax}"


def welch(a, b):
    a, b = np.asarray(a), np.asarray(b)
    d = b.mean() - a.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else 1
    t = stats.t.ppf(0.975, df)
    return d, d - t * se, d + t * se, df


def main():
    cells = [cell_metrics(json.load(open(f))) for f in sorted(glob.glob("cells/*.json"))]
    keys = [k for k in cells[0] if k not in ("hist", "lam_final", "lam_init")]
    allkeys = sorted(
        {k for c in cells for k in c if k not in ("hist",)}, key=lambda k: (k not in keys, k)
    )
    with open("cells.csv", "w") as f:
        w = csv.DictWriter(f, fieldnames=allkeys, extrasaction="ignore")
        w.writeheader()
        for c in cells:
            w.writerow(
                {
                    k: (";".join(map(str, c[k])) if isinstance(c.get(k), list) else c.get(k, ""))
                    for k in allkeys
                }
            )
    json.dump(cells, open("cells_metrics.json", "w"), indent=0)
    by = defaultdict(list)
    for c in cells:
        by[(c["cand"], c["model"])].append(c)
    cands = sorted({c["cand"] for c in cells})
    metrics = (
        ["clean"] + [f"rob{e}" for e in GRID] + list(GRIDS) + ["drop_m1", "drop_m2", "drop_m3"]
    )
    summary = {}
    for cand in cands:
        s = {}
        for met in metrics:
            groups = [[c[met] for c in by[(cand, m)]] for m in MODELS if by[(cand, m)]]
            ns = [len(g) for g in groups]
            ss = sum((len(g) - 1) * np.var(g, ddof=1) for g in groups if len(g) > 1)
            dfp = sum(n - 1 for n in ns)
            sd = math.sqrt(ss / dfp) if dfp > 0 else float("nan")
            s[met] = {
                "means": {
                    m: float(np.mean([c[met] for c in by[(cand, m)]]))
                    for m in MODELS
                    if by[(cand, m)]
                },
                "sds": {
                    m: float(np.std([c[met] for c in by[(cand, m)]], ddof=1))
                    if len(by[(cand, m)]) > 1
                    else float("nan")
                    for m in MODELS
                    if by[(cand, m)]
                },
                "pooled_sd": sd,
                "pooled_df": dfp,
                "n_per_model": ns,
            }
        runs = [c for m in MODELS for c in by[(cand, m)]]
        s["cost"] = {
            k: float(np.mean([c[k] for c in runs if not math.isnan(c[k])] or [float("nan")]))
            for k in (
                "cpu_startup",
                "cpu_train",
                "cpu_noise_per_set",
                "cpu_fgsm",
                "cpu_pgd",
                "cpu_ifgsm",
                "cpu_pgdfull",
            )
        }
        s["cost"]["per_model_train"] = {
            m: float(np.mean([c["cpu_train"] for c in by[(cand, m)]]))
            for m in MODELS
            if by[(cand, m)]
        }
        s["hist"] = {
            m: np.mean([c["hist"] for c in by[(cand, m)]], axis=0).round(2).tolist()
            for m in MODELS
            if by[(cand, m)]
        }
        s["lambda"] = {
            m: {
                "init_mean": float(np.mean([c["lam_init_mean"] for c in by[(cand, m)]])),
                "final_mean": float(np.mean([c["lam_final_mean"] for c in by[(cand, m)]])),
                "mean_abs_change": float(
                    np.mean([c["lam_mean_abs_change"] for c in by[(cand, m)]])
                ),
                "max_abs_change": float(np.max([c["lam_max_abs_change"] for c in by[(cand, m)]])),
            }
            for m in MODELS[1:]
            if by[(cand, m)]
        }
        eff = {}
        for met in metrics:
            a = [c[met] for c in sorted(by[(cand, "resnet20")], key=lambda c: c["seed"])]
            for m in MODELS[1:]:
                b = [c[met] for c in sorted(by[(cand, m)], key=lambda c: c["seed"])]
                if len(a) > 1 and len(b) > 1:
                    d, lo, hi, df = welch(a, b)
                    r = (
                        float(np.corrcoef(a, b)[0, 1])
                        if len(a) == len(b) and np.std(a) > 0 and np.std(b) > 0
                        else float("nan")
                    )
                    eff[f"{met}|{m}"] = {"diff": d, "lo": lo, "hi": hi, "df": df, "paired_r": r}
        s["effects"] = eff
        summary[cand] = s
    json.dump(summary, open("summary.json", "w"), indent=1)
    return cells, summary


if __name__ == "__main__":
    main()
