"""Cost model (measured CPU seconds, 1 thread) and MDE at a fixed budget for candidate designs."""

import json

import numpy as np

S = json.load(open("summary.json"))
AC = json.load(open("analysis_cost.json"))
r = AC["resnet20"]
att = r["attack_cpu_s"]
per_eps = {
    a: float(np.mean([v[0] for k, v in att.items() if k.startswith(a + "|")]))
    for a in ("fgsm", "ifgsm", "pgd")
}
COST = {
    "startup": float(np.mean([S[c]["cost"]["cpu_startup"] for c in S])),
    "clean": 0.1,
    "noise_set": float(np.mean([S[c]["cost"]["cpu_noise_per_set"] for c in S if c != "D"])),
    "fgsm_eps": per_eps["fgsm"],
    "ifgsm_eps": per_eps["ifgsm"],
    "pgd_eps": per_eps["pgd"],
    "stability": float(
        np.mean([AC[m]["stability_cpu_s"] for m in ("resnet20", "inresnet20") if m in AC])
    ),
    "landscape": float(
        np.mean([AC[m]["landscape_cpu_s"] for m in ("resnet20", "inresnet20") if m in AC])
    ),
}
TRAIN = {S[c]["spec_epochs"] if "spec_epochs" in S[c] else c: S[c]["cost"]["cpu_train"] for c in S}
EPOCHS = {"A": 10, "F": 15, "B": 20}


def train_cost(epochs):
    """Linear fit of measured training CPU s (size 8, batch 128) against epochs."""
    xs = [EPOCHS[c] for c in EPOCHS if c in S]
    ys = [S[c]["cost"]["cpu_train"] for c in EPOCHS if c in S]
    b, a = np.polyfit(xs, ys, 1)
    return a + b * epochs


def run_cost(epochs, k_eps, ifgsm_eps=None, analyses=True):
    ifgsm_eps = k_eps if ifgsm_eps is None else ifgsm_eps
    c = COST["startup"] + train_cost(epochs) + COST["clean"] + 2 * COST["noise_set"]
    c += k_eps * (COST["fgsm_eps"] + COST["pgd_eps"]) + ifgsm_eps * COST["ifgsm_eps"]
    if analyses:
        c += COST["stability"] + COST["landscape"]
    return c


def sweep_cost(epochs, n_lambda=5):
    """Fixed-λ sweep: n_λ runs, clean + 4 noises × 3 severities × 2 sets, FGSM + PGD at 1 ε."""
    per = COST["startup"] + train_cost(epochs) + COST["clean"] + 2 * COST["noise_set"] * 3 / 5
    per += COST["fgsm_eps"] + COST["pgd_eps"]
    return n_lambda * per


if __name__ == "__main__":
    print(json.dumps(COST, indent=1))
    for e in (10, 15, 20):
        print(
            e,
            "train",
            round(train_cost(e), 1),
            "run k=4",
            round(run_cost(e, 4), 1),
            "sweep",
            round(sweep_cost(e), 1),
        )
