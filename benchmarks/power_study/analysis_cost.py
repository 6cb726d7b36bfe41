"""CPU cost (1 thread) of: process start (import), per-eps FGSM/IFGSM/PGD-20 (scaled α, early stop),
noise sets, and the per-run stability + landscape analyses at the default preset's settings.
Models: ResNet-20 and In-ResNet-20 trained 10 epochs (size 8, batch 128, eval only at the end)."""

import json
import time

T0 = time.process_time()
import torch
from common import NOISE_FN, alpha_rule, correct, scaled_param, train_run  # imports torch+resode

from resode import data
from resode.analysis import LandscapeConfig, StabilityConfig, analyze_landscape, analyze_stability
from resode.attacks import FGSM, IFGSM, PGD

startup = time.process_time() - T0
test = data.load("digits", split="test", image_size=8)
X, Y = test.images, test.labels
out = {"startup_import_cpu_s": startup}
for name in ("resnet20", "inresnet20"):
    m, tr = train_run(name, 0, 8, 10, 128, eval_every=100)
    m.eval()
    r = {"train_cpu_s_eval_last_only": tr["train_cpu_s"], "attack_cpu_s": {}}
    for e255 in (4, 8, 12, 16, 24, 32):
        e = e255 / 255
        for a, cls in (("fgsm", FGSM), ("ifgsm", IFGSM), ("pgd", PGD)):
            kw = {} if a == "fgsm" else {"steps": 20, "alpha": alpha_rule(e, 20, "scaled")}
            atk = cls(m, eps=e, **kw)
            t = time.process_time()
            adv = atk(X, Y, generator=torch.Generator().manual_seed(1))
            acc = correct(m, adv, Y).float().mean().item()
            r["attack_cpu_s"][f"{a}|{e255}"] = [time.process_time() - t, acc]
    t = time.process_time()
    for name_c, fn in NOISE_FN.items():
        for s in range(1, 6):
            correct(m, fn(X, scaled_param(name_c, s, 3.0), torch.Generator().manual_seed(s)), Y)
    r["noise_set_cpu_s"] = time.process_time() - t
    x, y = X[:64], Y[:64]
    t = time.process_time()
    scfg = StabilityConfig(
        n_samples=64,
        batch_size=64,
        power_iters=10,
        eps=32 / 255,
        seed=0,
        attack="fgsm",
        float64=False,
    )
    analyze_stability(m, x, y, scfg, name="m")
    r["stability_cpu_s"] = time.process_time() - t
    t = time.process_time()
    lcfg = LandscapeConfig(n_samples=64, batch_size=64, grid=9, input_radius=32 / 255, seed=0)
    analyze_landscape(m, x, y, lcfg, space="input", name="m")
    r["landscape_cpu_s"] = time.process_time() - t
    out[name] = r
    print(name, r, flush=True)
json.dump(out, open("analysis_cost.json", "w"), indent=1)
