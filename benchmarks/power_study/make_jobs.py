import json

EPS = [4, 8, 12, 16, 24, 32]
MODELS = ["resnet20", "inresnet20", "lambda_inresnet20"]
CAND = {  # name: (size, batch, epochs, seeds)
    "A": (8, 128, 10, 5),
    "B": (8, 128, 20, 5),
    "D": (16, 128, 10, 3),
}
jobs = []
for seed in range(5):
    for cname, (size, batch, ep, ns) in CAND.items():
        if seed >= ns or (cname == "D" and seed < 2 and False):
            continue
        for m in MODELS:
            extra = [("ifgsm", "scaled", True), ("pgd", "scaled", False)] if seed == 0 else []
            jobs.append(
                {
                    "out": f"cells/{cname}_{m}_s{seed}.json",
                    "cand": cname,
                    "model": m,
                    "seed": seed,
                    "image_size": size,
                    "batch": batch,
                    "epochs": ep,
                    "eps255": EPS,
                    "mults": [1, 2, 3],
                    "attacks": ["fgsm", "pgd"],
                    "extra": extra,
                }
            )
# D last
jobs.sort(key=lambda j: (j["cand"] == "D", j["seed"]))
with open("jobs2.txt", "w") as f:
    for j in jobs:
        f.write(json.dumps(j) + "\n")
print(len(jobs))
