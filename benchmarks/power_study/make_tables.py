"""Markdown tables for REPORT.md from summary.json, cells_metrics.json, extra_stats.json, budget."""

import json
import math

import budget
import numpy as np
from analyze import MODELS, SHORT, mde

S = json.load(open("summary.json"))
C = json.load(open("cells_metrics.json"))
CANDS = [c for c in ("A", "F", "B", "D") if c in S]
DESC = {
    "A": "8×8, batch 128, 10 ep",
    "F": "8×8, batch 128, 15 ep",
    "B": "8×8, batch 128, 20 ep",
    "D": "16×16, batch 128, 10 ep (ResNet only)",
}
P = print


def f(x, d=1):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


P("### T1. Candidates: CPU cost per run (s, 1 thread, mean over runs)\n")
P(
    "| cand | design | runs | startup | train | noise set (20 fwd) | FGSM/ε | PGD-20/ε | IFGSM-20/ε |"
)
P("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for c in CANDS:
    k = S[c]["cost"]
    n = sum(S[c]["clean"]["n_per_model"])
    neps = 6
    P(
        f"| {c} | {DESC[c]} | {n} | {f(k['cpu_startup'])} | {f(k['cpu_train'])} | {f(k['cpu_noise_per_set'])} | "
        f"{f(k['cpu_fgsm'] / neps, 2)} | {f(k['cpu_pgd'] / neps, 2)} | {f(budget.COST['ifgsm_eps'], 2)}† |"
    )
P()
P(
    "### T2. Clean accuracy by epoch (test %, mean over seeds; cosine schedule over the run's own length)\n"
)
for c in CANDS:
    for m, h in S[c]["hist"].items():
        P(f"- {c} {SHORT[m]}: " + " ".join(f"{v:.1f}" for v in h))
P()
METS = [
    "clean",
    "rob8",
    "rob12",
    "rob16",
    "rob24",
    "rob32",
    "auc0-32",
    "auc_g4",
    "auc_g3",
    "drop_m1",
    "drop_m2",
    "drop_m3",
]
LBL = {
    "clean": "clean",
    "rob8": "robust ε=8",
    "rob12": "robust ε=12",
    "rob16": "robust ε=16",
    "rob24": "robust ε=24",
    "rob32": "robust ε=32",
    "auc0-32": "AUC 0–32 (6 ε)",
    "auc_g4": "AUC {8,16,24,32}",
    "auc_g3": "AUC {8,16,24}",
    "drop_m1": "noise drop ×1 (CIFAR-C)",
    "drop_m2": "noise drop ×2",
    "drop_m3": "noise drop ×3",
}
P("### T3. Means per model and pooled seed-to-seed SD (points; ε in /255)\n")
P("| metric | " + " | ".join(f"{c}: R / In / λIn (SD)" for c in CANDS) + " |")
P("|---|" + "---|" * len(CANDS))
for met in METS:
    row = []
    for c in CANDS:
        x = S[c][met]
        means = " / ".join(f(x["means"].get(m)) for m in MODELS if m in x["means"])
        row.append(f"{means} ({f(x['pooled_sd'], 2)})")
    P(f"| {LBL[met]} | " + " | ".join(row) + " |")
P()
P("pooled df: " + ", ".join(f"{c}: {S[c]['clean']['pooled_df']}" for c in CANDS) + "\n")
# efficiency
P("### T4. Power per CPU: MDE (power 0.8, two-sided 95 %, Welch ≈ Student, equal n) \n")
P(
    "run cost = startup + train + clean + 2 noise sets + FGSM/IFGSM/PGD on the ε grid + stability + landscape;"
    " n at budget = seeds per model affordable with 400 core-s for the 3 × n main runs.\n"
)
P(
    "| cand | metric | pooled SD | MDE n=5 | cost/run (4-ε grid) | SD²·cost | n in 400 s | MDE at 400 s |"
)
P("|---|---|---:|---:|---:|---:|---:|---:|")
EP = {"A": 10, "F": 15, "B": 20}
for met in ["auc_g4", "auc0-32", "rob24", "rob16", "drop_m3", "clean"]:
    for c in [c for c in CANDS if c in EP]:
        sd = S[c][met]["pooled_sd"]
        cost = budget.run_cost(EP[c], 4)
        n = int(400 // (3 * cost))
        P(
            f"| {c} | {LBL[met]} | {f(sd, 2)} | {f(mde(sd, 5), 2)} | {f(cost)} | {f(sd * sd * cost, 0)} | {n} | {f(mde(sd, n), 2)} |"
        )
P()
P(
    "### T5. Observed effects (In − ResNet, λ-In − ResNet), Welch 95 % CI, and same-seed correlation r\n"
)
P("| cand | metric | In − R [95 % CI] | r | λIn − R [95 % CI] | r |")
P("|---|---|---|---:|---|---:|")
for c in [c for c in CANDS if c != "D"]:
    for met in ["clean", "rob16", "rob24", "auc0-32", "auc_g4", "drop_m3"]:
        cells = []
        for m in MODELS[1:]:
            e = S[c]["effects"].get(f"{met}|{m}")
            cells.append(
                f"{e['diff']:+.2f} [{e['lo']:+.2f}, {e['hi']:+.2f}] | {f(e['paired_r'], 2)}"
                if e
                else "– | –"
            )
        P(f"| {c} | {LBL[met]} | " + " | ".join(cells) + " |")
P()
P("### T6. λ movement (mean over damped blocks and seeds)\n")
P("| cand | model | λ init (mean) | λ final (mean) | mean |Δλ| per block | max |Δλ| |")
P("|---|---|---:|---:|---:|---:|")
for c in CANDS:
    for m, l in S[c]["lambda"].items():
        P(
            f"| {c} | {SHORT[m]} | {l['init_mean']:.3f} | {l['final_mean']:.3f} | {l['mean_abs_change']:.3f} | {l['max_abs_change']:.3f} |"
        )
P()
P("### T7. Noise drop by corruption at ×3 (ResNet, points, mean over seeds)\n")
for c in CANDS:
    rows = [r for r in C if r["cand"] == c and r["model"] == "resnet20"]
    P(
        f"- {c}: "
        + ", ".join(
            f"{k}: {np.mean([r[f'drop_m3_{k}'] for r in rows]):.1f}"
            for k in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")
        )
        + "; ×1: "
        + ", ".join(
            f"{k}: {np.mean([r[f'drop_m1_{k}'] for r in rows]):.1f}"
            for k in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")
        )
    )
P()
