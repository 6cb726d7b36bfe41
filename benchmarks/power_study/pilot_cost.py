"""CPU seconds per training epoch vs image size, batch and model (1 thread): slope of 1 vs 3 epochs."""

import json
import sys

from common import train_run

rows = []
for size, batch, model in [tuple(a.split(":")) for a in sys.argv[2:]]:
    c = {}
    for ep in (1, 3):
        _, tr = train_run(model, 0, int(size), ep, int(batch), eval_every=100)
        c[ep] = tr["train_cpu_s"]
    rows.append(
        {
            "size": int(size),
            "batch": int(batch),
            "model": model,
            "cpu_1ep": c[1],
            "cpu_3ep": c[3],
            "per_epoch": (c[3] - c[1]) / 2,
            "setup": c[1] - (c[3] - c[1]) / 2,
        }
    )
    print(rows[-1], flush=True)
json.dump(rows, open(sys.argv[1], "w"), indent=1)
