"""Budget table of lean designs and MDE per claim; seeds needed for 1- and 3-point effects."""

import json

import budget
from analyze import mde, seeds_for

S = json.load(open("summary.json"))
C = json.load(open("cells_metrics.json"))
EP = {"A": 10, "F": 15, "B": 20}
out = {"cost_components": budget.COST, "designs": []}
print(
    "### T8. Lean designs: grid {8,16,24}/255 (FGSM+PGD), IFGSM at 24/255 only, noise ×1 and ×3, analyses every run\n"
)
print(
    "| design | n/model | cost per run | main 3×n | sweep 5 λ @10 ep | total core-s | core-min | wall on 2 cores* | MDE AUC{0,8,16,24} | MDE rob ε=16 | MDE rob ε=24 | MDE noise drop ×3 | MDE clean |"
)
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for c, ns in (("A", (5, 6)), ("F", (4, 5)), ("B", (3, 4, 5))):
    run = budget.run_cost(EP[c], 3, ifgsm_eps=1)
    for n in ns:
        main = 3 * n * run
        sw = budget.sweep_cost(10)
        tot = main + sw
        m = {
            k: mde(S[c][k]["pooled_sd"], n)
            for k in ("auc_g3", "rob16", "rob24", "drop_m3", "clean")
        }
        out["designs"].append(
            {
                "cand": c,
                "epochs": EP[c],
                "n": n,
                "run": run,
                "main": main,
                "sweep": sw,
                "total": tot,
                "mde": m,
            }
        )
        print(
            f"| {c} ({EP[c]} ep) | {n} | {run:.1f} | {main:.0f} | {sw:.0f} | {tot:.0f} | {tot / 60:.1f} | {tot / 120:.1f} min | "
            + " | ".join(f"{m[k]:.2f}" for k in ("auc_g3", "rob16", "rob24", "drop_m3", "clean"))
            + " |"
        )
print(
    "\n*ideal: total/2; a persistent 2-worker pool would also save the ~2.2 s start-up per task.\n"
)
print(
    "### T9. Seeds per model for power 0.8 at a 1-point and a 3-point effect (SD of the design)\n"
)
print("| metric | A (10 ep) SD | n(1 pt) | n(3 pt) | B (20 ep) SD | n(1 pt) | n(3 pt) |")
print("|---|---:|---:|---:|---:|---:|---:|")
t9 = {}
for k, lbl in (
    ("auc_g3", "robust AUC {0,8,16,24}"),
    ("auc0-32", "robust AUC 0–32 (6 ε)"),
    ("rob8", "robust ε=8"),
    ("rob16", "robust ε=16"),
    ("rob24", "robust ε=24"),
    ("drop_m3", "noise drop ×3"),
    ("drop_m1", "noise drop ×1"),
    ("clean", "clean"),
):
    row = []
    for c in ("A", "B"):
        sd = S[c][k]["pooled_sd"]
        row += [f"{sd:.2f}", str(seeds_for(1, sd)), str(seeds_for(3, sd))]
        t9[f"{c}|{k}"] = {"sd": sd, "n1": seeds_for(1, sd), "n3": seeds_for(3, sd)}
    print(f"| {lbl} | " + " | ".join(row) + " |")
out["seeds_needed"] = t9
# λ at zero
print()
for c in ("A", "F", "B"):
    for m in ("inresnet20", "lambda_inresnet20"):
        fin = [v for r in C if r["cand"] == c and r["model"] == m for v in r["lam_final"]]
        ini = [v for r in C if r["cand"] == c and r["model"] == m for v in r["lam_init"]]
        print(
            f"λ {c} {m}: blocks {len(fin)}, final λ = 0: {sum(v == 0 for v in fin)}, final range [{min(fin):.2f}, {max(fin):.2f}], init range [{min(ini):.2f}, {max(ini):.2f}]"
        )
json.dump(out, open("recommend.json", "w"), indent=1)
