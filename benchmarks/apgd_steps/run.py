"""How many APGD iterations the default preset needs: the worst case over the declared set at
APGD-CE/DLR 0 (off), 25, 50 and 100 iterations on seed 0 of ResNet-20 and In-ResNet-20 (default
preset, every test image), with its CPU time. Output: benchmarks/apgd_steps/result.txt."""

# isort: off
import resode  # noqa: F401  (first: pins the CPU kernels before torch starts)

# isort: on
import json
import time
from pathlib import Path

import torch

from resode.checkpoint import load_checkpoint
from resode.evalset import load_evalset
from resode.reproduce import get_preset, paper_a
from resode.robustness import RobustnessConfig, evaluate_models
from resode.training import TrainConfig, train

torch.set_num_threads(1)
cfg = get_preset("default")
out = {}
for model in ["resnet20", "inresnet20"]:
    tc = TrainConfig.from_dict(paper_a._train_config(cfg, model, 0))
    folder = Path(f"/tmp/apgd_steps/{model}")
    tr = train(tc, folder, resume=True, progress=False)
    m = load_checkpoint(tr.checkpoint_path).model
    ev = load_evalset(**paper_a._evalset_params(cfg))
    base = paper_a.task_robustness(cfg).to_dict()
    for steps in [0, 25, 50, 100]:
        d = dict(base)
        d["corruptions"] = []
        if steps == 0:
            d["attacks"] = ["fgsm", "ifgsm", "pgd"]
            d["per_attack"] = ["fgsm", "ifgsm", "pgd"]
        else:
            d["apgd_steps"] = steps
        rc = RobustnessConfig.from_dict(d)
        t0 = time.process_time()
        r = evaluate_models(
            [("m", m)], ev.images, ev.labels, rc, dataset=ev.dataset, progress=False
        )[0]
        cpu = time.process_time() - t0
        out[f"{model}/{steps}"] = {"cpu": cpu, "robust": r.robust}
        print(model, steps, round(cpu, 1), r.robust, flush=True)
Path("/tmp/apgd_steps/out.json").write_text(json.dumps(out, indent=1))
