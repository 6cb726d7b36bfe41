"""Robust-accuracy evaluation with PGD-20: resode.attacks.PGD vs torchattacks' PGD.

Trains a ResNet-20 on digits for a few epochs (resode.training, preset ``digits``) unless
``--checkpoint`` is given, then evaluates L∞ PGD-20 (α = 1/255, uniform random start) on the same
model and the same test images with

* ``torchattacks.PGD`` (benchmark-only dependency, ``pip install torchattacks --no-deps``: it
  declares torchvision but does not import it); if it is missing, a straightforward reference
  PGD loop written here (same algorithm as torchattacks) is timed instead;
* ``resode`` PGD without early stopping (isolates the cost of the implementation itself);
* ``resode`` PGD with early stopping (the default: no steps spent on misclassified inputs).

Prints the robust accuracy of each (with the sampling standard error), the wall time (best of
``--repeats`` runs, methods interleaved) and the speed ratio. Both implementations compute no
parameter gradients in the backward pass (torchattacks asks autograd for ∂L/∂x only; resode sets
``requires_grad=False`` on the parameters), so the gain comes from early stopping.

    .venv/bin/python benchmarks/bench_attacks.py --epochs 4 --n 500 --eps 8/255
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F


def reference_pgd(model, images, labels, eps, alpha, steps, generator=None):
    """Textbook PGD (torchattacks' algorithm): random start, sign steps, clip around clean x."""
    x0 = images.clone().detach()
    u = torch.rand(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    adv = (x0 + (2 * u - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), labels)
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + alpha * grad.sign()
        adv = (x0 + (adv - x0).clamp(-eps, eps)).clamp(0, 1).detach()
    return adv


def accuracy(model, x, y, batch):
    with torch.inference_mode():
        ok = torch.cat(
            [model(x[i : i + batch]).argmax(1) == y[i : i + batch] for i in range(0, len(x), batch)]
        )
    return ok


def run_batches(fn, x, y, batch):
    return torch.cat([fn(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="evaluate this checkpoint instead of training one")
    p.add_argument("--save", help="save the trained model to this checkpoint path")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument(
        "--image-size", type=int, default=16, help="digits resolution (8 native, 16 default)"
    )
    p.add_argument("--n", type=int, default=500, help="test images")
    p.add_argument(
        "--eps", nargs="+", default=["2/255", "4/255", "8/255", "16/255"], help="L∞ radii"
    )
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()

    import resode
    from resode import data
    from resode.attacks import PGD
    from resode.training import get_preset, select_device, train

    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    alpha = 1 / 255
    if args.checkpoint:
        ck = resode.load_checkpoint(args.checkpoint)
        model, cfg = ck.model, ck.config or {}
    else:
        cfg = get_preset(
            "digits",
            model=args.model,
            epochs=args.epochs,
            image_size=args.image_size,
            device=str(device),
        )
        t0 = time.perf_counter()
        out = Path(tempfile.mkdtemp(prefix="bench-attacks-"))
        res = train(cfg, out, progress=False)
        took = time.perf_counter() - t0
        print(f"trained {args.model} on digits for {args.epochs} epochs in {took:.0f} s")
        model, cfg = res.model, cfg.to_dict()
        if args.save:
            resode.save_checkpoint(args.save, model, config=cfg)
    model = model.to(device).eval()
    ds = data.load(cfg.get("dataset", "digits"), split="test", image_size=cfg.get("image_size"))
    ds = ds.subset(min(args.n, len(ds)))
    x, y = ds.images.to(device), ds.labels.to(device)
    n = len(y)
    clean = accuracy(model, x, y, args.batch_size)

    try:
        import torchattacks

        baseline_name = f"torchattacks {torchattacks.__version__} PGD"

        def make_baseline(eps):
            ta = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=args.steps, random_start=True)
            return lambda xb, yb: ta(xb, yb)

    except ImportError:
        baseline_name = "reference PGD loop"  # torchattacks not installed

        def make_baseline(eps):
            return lambda xb, yb: reference_pgd(model, xb, yb, eps, alpha, args.steps)

    names = [baseline_name, "resode PGD early_stop=False", "resode PGD (early stop)"]
    print(
        f"\nmodel {args.model}, {n} {ds.name} test images {tuple(x.shape[1:])}, device {device}, "
        f"{torch.get_num_threads()} threads, L∞ PGD-{args.steps}, α = 1/255, random start, "
        f"batch {args.batch_size}, best of {args.repeats} (methods interleaved); "
        f"clean accuracy {100 * clean.float().mean().item():.2f} %"
    )
    print(
        f"{'eps':>6} {'method':<30} {'robust acc %':>12} {'± s.e.':>7} {'wall s':>7} "
        f"{'speed-up':>8} {'CPU s':>7} {'speed-up':>8}"
    )
    totals = {k: [0.0, 0.0] for k in names}
    work = [0.0, 0.0]
    for eps_text in args.eps:
        eps = float(Fraction(eps_text))
        ours_full = PGD(model, eps=eps, alpha=alpha, steps=args.steps, early_stop=False, seed=0)
        ours = PGD(model, eps=eps, alpha=alpha, steps=args.steps, early_stop=True, seed=0)
        methods = dict(zip(names, [make_baseline(eps), ours_full, ours]))
        times: dict[str, list[float]] = {k: [] for k in methods}
        cpu_times: dict[str, list[float]] = {k: [] for k in methods}
        accs: dict[str, float] = {}
        for _ in range(args.repeats):
            for name, fn in methods.items():
                torch.manual_seed(0)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
                adv = run_batches(fn, x, y, args.batch_size)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
                cpu_times[name].append(time.process_time() - c0)
                assert (adv - x).abs().max() <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
                ok = accuracy(model, adv, y, args.batch_size) & clean
                accs[name] = ok.float().mean().item()
        full_work = ours_full.gradient_evaluations + ours_full.forward_evaluations / 3
        es_work = ours.gradient_evaluations + ours.forward_evaluations / 3
        work[0] += full_work
        work[1] += es_work
        base_t, base_c = min(times[baseline_name]), min(cpu_times[baseline_name])
        for name in names:
            a = accs[name]
            se = math.sqrt(a * (1 - a) / n)
            t, ct = min(times[name]), min(cpu_times[name])
            totals[name][0] += t
            totals[name][1] += ct
            print(
                f"{eps_text:>6} {name:<30} {100 * a:12.2f} {100 * se:7.2f} {t:7.2f} "
                f"{base_t / t:7.2f}x {ct:7.2f} {base_c / ct:7.2f}x"
            )
        diff = abs(accs[names[2]] - accs[baseline_name])
        p_ = accs[baseline_name]
        se_diff = math.sqrt(2 * max(p_ * (1 - p_), 1 / n) / n)
        print(
            f"{'':>6} |Δ robust acc| resode vs baseline {100 * diff:.2f} points "
            f"(2 s.e. of a difference {200 * se_diff:.2f}); early stopping does "
            f"{100 * es_work / full_work:.0f} % of the full run's work (1 forward = 1/3 of a "
            "forward+backward); median wall "
            + ", ".join(f"{statistics.median(times[k]):.2f}" for k in names)
        )
    print(f"early stopping, whole eps list: {100 * work[1] / work[0]:.0f} % of the full work")
    bt, bc = totals[baseline_name]
    print(
        "total over the eps list: "
        + "; ".join(
            f"{k} {t:.1f} s wall ({bt / t:.2f}x), {c:.1f} s CPU ({bc / c:.2f}x)"
            for k, (t, c) in totals.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
