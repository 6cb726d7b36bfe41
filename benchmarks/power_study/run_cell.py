"""One job: train one model/seed with a design, evaluate, write JSON. Args: JSON spec."""

import json
import sys
import time
from pathlib import Path

from common import evaluate, save, train_run

from resode import data

STARTUP_CPU = time.process_time()
spec = json.loads(sys.argv[1])
out = Path(spec["out"])
if out.exists():
    sys.exit(0)
model, tr = train_run(
    spec["model"],
    spec["seed"],
    spec["image_size"],
    spec["epochs"],
    spec["batch"],
    spec.get("train_subset"),
    **spec.get("train_extra", {}),
)
test = data.load("digits", split="test", image_size=spec["image_size"])
ev = evaluate(
    model,
    test.images,
    test.labels,
    eps_grid=[e / 255 for e in spec["eps255"]],
    mults=spec["mults"],
    steps=spec.get("steps", 20),
    attacks=spec.get("attacks", ("fgsm", "ifgsm", "pgd")),
    extra_pgd=[tuple(t) for t in spec.get("extra", [])],
)
lam = {
    k: [float(v) for v in t.detach().reshape(-1)]
    for k, t in getattr(model, "interpolation_coefficients", lambda: {})().items()
}
save(
    out, {"spec": spec, "startup_cpu_s": STARTUP_CPU, "train": tr, "eval": ev, "final_lambdas": lam}
)
print(
    out.name,
    f"train {tr['train_cpu_s']:.1f}s",
    {k: round(v, 1) for k, v in ev["cpu_s"].items()},
    "clean",
    ev["clean"].count("1"),
    flush=True,
)
