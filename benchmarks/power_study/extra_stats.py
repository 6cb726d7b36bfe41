"""Secondary analyses from cells/*.json: image-subset variance, ES vs full, α rule, IFGSM, pairing."""

import glob
import json
import math
from collections import defaultdict

import numpy as np
from analyze import GRID, auc, band, frac

cells = [json.load(open(f)) for f in sorted(glob.glob("cells/*.json"))]
out = {}
# 1. attack on a subset of images: pooled across-seed sd of rob24 / AUC with N images
rng = np.random.default_rng(0)
subsets = {
    n: [np.sort(rng.choice(359, n, replace=False)) for _ in range(20)] for n in (100, 200, 359)
}
res = {}
for cand in ("A", "B", "F"):
    for n, subs in subsets.items():
        sds24, sdsauc = [], []
        for idx in subs:
            groups24, groupsauc = defaultdict(list), defaultdict(list)
            for c in cells:
                sp, ev = c["spec"], c["eval"]
                if sp["cand"] != cand:
                    continue
                cl = "".join(ev["clean"][i] for i in idx)
                rob = {}
                for e in GRID:
                    k = str(e)
                    b = band(
                        ev["clean"],
                        ev["attacks"]["fgsm|scaled|es"][k],
                        ev["attacks"]["pgd|scaled|es"][k],
                    )
                    rob[e] = frac("".join(b[i] for i in idx))
                groups24[sp["model"]].append(rob[24])
                g = [0] + GRID
                groupsauc[sp["model"]].append(auc([frac(cl) if e == 0 else rob[e] for e in g], g))

            def pooled(gr):
                ss = sum((len(v) - 1) * np.var(v, ddof=1) for v in gr.values() if len(v) > 1)
                df = sum(len(v) - 1 for v in gr.values())
                return math.sqrt(ss / df) if df else float("nan")

            if groups24:
                sds24.append(pooled(groups24))
                sdsauc.append(pooled(groupsauc))
            if n == 359:
                break
        if sds24:
            res[f"{cand}|{n}"] = {
                "rob24_pooled_sd": float(np.sqrt(np.mean(np.square(sds24)))),
                "auc_pooled_sd": float(np.sqrt(np.mean(np.square(sdsauc)))),
            }
out["image_subset"] = res
# 2-4. ES vs full, α rule, IFGSM added to the worst case (cells that ran them)
es = []
for c in cells:
    a, sp = c["eval"]["attacks"], c["spec"]
    row = {"cell": f"{sp['cand']}_{sp['model']}_s{sp['seed']}"}
    for e in GRID:
        k = str(e)
        if "pgd|scaled|full" in a:
            row[f"pgd_full-es_{e}"] = frac(a["pgd|scaled|full"][k]) - frac(a["pgd|scaled|es"][k])
        if "pgd|fixed|es" in a:
            row[f"pgd_fixedalpha-scaled_{e}"] = frac(a["pgd|fixed|es"][k]) - frac(
                a["pgd|scaled|es"][k]
            )
        if "ifgsm|scaled|es" in a:
            r2 = frac(band(c["eval"]["clean"], a["fgsm|scaled|es"][k], a["pgd|scaled|es"][k]))
            r3 = frac(
                band(
                    c["eval"]["clean"],
                    a["fgsm|scaled|es"][k],
                    a["pgd|scaled|es"][k],
                    a["ifgsm|scaled|es"][k],
                )
            )
            row[f"ifgsm_lowers_robust_by_{e}"] = r2 - r3
            row[f"fgsm_pgd_only_vs_pgd_{e}"] = frac(a["pgd|scaled|es"][k]) - r2
    if len(row) > 1:
        es.append(row)
out["attack_checks"] = es
json.dump(out, open("extra_stats.json", "w"), indent=1)
for k, v in res.items():
    print(k, {a: round(b, 2) for a, b in v.items()})
for r in es:
    print(r["cell"], {k: round(v, 2) for k, v in r.items() if k != "cell" and v != 0})
