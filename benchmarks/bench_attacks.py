"""Robust-accuracy evaluation with PGD-20: resode.attacks.PGD vs torchattacks' PGD.

Trains a ResNet-20 on digits for a few epochs (resode.training, preset ``digits``) unless
``--checkpoint`` is given, and reloads it with ``resode.load_checkpoint`` so the model has the
layout a user gets from a checkpoint (standard NCHW parameters). Then evaluates L∞ PGD-20
(α = 1/255, uniform random start) on the same model and the same test images, in the same process
and thread count, with the methods of ``--methods``:

* ``torchattacks``: ``torchattacks.PGD`` (benchmark-only dependency, ``pip install torchattacks
  --no-deps``; it declares torchvision but does not import it); if it is missing, a
  straightforward reference PGD loop written here (same algorithm) is timed instead;
* ``torchattacks-cl``: the same on a channels-last copy of the model (what a torchattacks user
  gets by converting the model by hand; shows how much of resode's gain is the memory layout);
* ``resode``: resode PGD as the robustness engine runs it (early stopping, automatic
  channels-last on the CPU);
* ``resode-nchw``: resode PGD with ``channels_last=False`` (early stopping only);
* ``resode-full``: resode PGD with ``early_stop=False`` (the implementation alone).

Timing: CPU time of this process (``time.process_time``; robust to other processes on a shared
machine when ``--threads 1``) and wall time, ``--repeats`` rounds, every round runs every
(ε, method) pair with the method order rotated from round to round; the table shows the median
over rounds and the speed-up over the first method; the total row sums the per-ε medians. The
robust accuracy of every method is printed with its sampling standard error and the number of
samples on which it disagrees with the baseline.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_attacks.py --threads 1 --repeats 3 \\
        --eps 2/255 4/255 8/255 16/255 32/255

The worst-case table (``--table``, on by default; ``--no-pgd`` skips the PGD comparison above):
the per-point worst case over FGSM, IFGSM-20 and PGD-20 at ``--table-eps`` (default 8, 16,
24/255 with the default preset's ``reach`` step rule) on every digits test image (359), for the
default paper-A model (ResNet-20 trained as ``resode reproduce`` trains it: digits 8×8, 20 epochs,
batch 128, seed 0; ``--table-checkpoint`` reuses one), computed

* by ``resode.robustness.evaluate_models`` with the cascade (``resode-cascade``: each attack only
  on the points still robust, a larger ε only on the points robust at the smaller) and without
  (``resode-full``: every attack on every clean-correct point), and
* by a loop over torchattacks' FGSM, BIM and PGD on every image at every ε (the baseline), the
  worst case and-ed over attacks and over the ε ≤ each ε (the nested-ball rule of resode's table).

The same random starts: resode draws PGD's start from a generator seeded with
``derive_seed(seed, "pgd", ε index)``, batch after batch; torchattacks draws it from the global
generator, which is seeded with the same number before the first batch of each ε (the same
Mersenne stream, and ``uniform_(−ε, ε)`` gives bit for bit resode's ``(2u − 1)·ε``). The
per-point worst cases are compared (the count of points that differ is printed; ``--strict``
exits 1 on any) and the CPU-time ratio is measured in the same process, methods interleaved.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import resode  # isort: skip  (first: it pins the CPU kernels before torch starts)
import torch
import torch.nn.functional as F

METHODS = ("torchattacks", "torchattacks-cl", "resode", "resode-nchw", "resode-full")


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


def correct(model, x, y, batch):
    with torch.inference_mode():
        return torch.cat(
            [model(x[i : i + batch]).argmax(1) == y[i : i + batch] for i in range(0, len(x), batch)]
        )


def run_batches(fn, x, y, batch):
    return torch.cat([fn(x[i : i + batch], y[i : i + batch]) for i in range(0, len(x), batch)])


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def train_default_model(device: torch.device) -> str:
    """A ResNet-20 trained as the default ``resode reproduce`` preset trains its first cell."""
    from resode.presets import get_preset
    from resode.reproduce import paper_a
    from resode.training import TrainConfig, train

    cfg = get_preset("default", kind="reproduce", device=str(device))
    task = paper_a.tasks(cfg)[0]
    tcfg = TrainConfig.from_dict(task.params["train"])
    out = Path(tempfile.mkdtemp(prefix="bench-table-"))
    t0 = time.perf_counter()
    res = train(tcfg, out, progress=False)
    print(
        f"trained the default model ({tcfg.model}, {tcfg.dataset} {tcfg.image_size} px, "
        f"{tcfg.epochs} epochs) in {time.perf_counter() - t0:.0f} s"
    )
    return str(res.checkpoint_path)


def table_torchattacks(model, x, y, clean, eps_values, cfg, torchattacks):
    """Per ε: the per-point worst case over FGSM, BIM and PGD (torchattacks), every image, and-ed
    over the ε ≤ that ε (resode's nested-ball rule); the same PGD starts as resode."""
    from resode.evalset import derive_seed

    b = cfg.batch_size
    worst, alive = [], clean.clone()
    for ei, eps in enumerate(eps_values):
        alpha = cfg.step_size(eps) or 1 / 255
        attacks = {
            "fgsm": torchattacks.FGSM(model, eps=eps),
            "ifgsm": torchattacks.BIM(model, eps=eps, alpha=alpha, steps=cfg.steps),
            "pgd": torchattacks.PGD(
                model, eps=eps, alpha=alpha, steps=cfg.steps, random_start=True
            ),
        }
        for name, atk in attacks.items():
            torch.manual_seed(derive_seed(cfg.seed, name, ei))  # resode's PGD generator seed
            ok = torch.cat(
                [
                    correct(model, atk(x[i : i + b], y[i : i + b]), y[i : i + b], b)
                    for i in range(0, len(x), b)
                ]
            )
            alive &= ok
        worst.append(alive.clone())
    return worst


def table_resode(model, x, y, eps_values, cfg, cascade):
    from resode.robustness import evaluate_models

    (res,) = evaluate_models(
        [("m", model)], x, y, cfg.replace(cascade=cascade), progress=False, device=x.device
    )
    return [res.robust_points[k].to(x.device) for k in res.robust], res


def run_table(args, device, torchattacks, ta_name) -> dict:
    """The worst-case table by resode (cascade, full) and by torchattacks; equality and time."""
    from resode import data
    from resode.robustness import RobustnessConfig

    ckpt = args.table_checkpoint or train_default_model(device)
    ck = resode.load_checkpoint(ckpt)
    model, tcfg = ck.model.to(device).eval(), ck.config or {}
    ds = data.load(tcfg.get("dataset", "digits"), split="test", image_size=tcfg.get("image_size"))
    x, y = ds.images.to(device), ds.labels.to(device)
    eps_values = [float(Fraction(e)) for e in args.table_eps]
    cfg = RobustnessConfig(
        attacks=["fgsm", "ifgsm", "pgd"],
        per_attack=["none"],
        eps=eps_values,
        steps=args.steps,
        step_rule=args.step_rule,
        corruptions=["none"],
        batch_size=args.table_batch_size,
        n_samples=None,
        seed=0,
        device=str(device),
    )
    eps_values = cfg.resolved_eps("digits")  # sorted
    clean = correct(model, x, y, cfg.batch_size)
    methods = ["torchattacks", "resode-cascade", "resode-full"]
    cpu = {m: [] for m in methods}
    wall = {m: [] for m in methods}
    worst: dict[str, list[torch.Tensor]] = {}
    grads: dict[str, int] = {}
    from resode.attacks.base import Attack

    real = Attack.loss_and_grad

    def counting(self, xx, yy, tt):
        grads["n"] = grads.get("n", 0) + int(xx.shape[0])
        return real(self, xx, yy, tt)

    for r in range(args.repeats):
        order = methods[r % len(methods) :] + methods[: r % len(methods)]
        for m in order:
            grads["n"] = 0
            Attack.loss_and_grad = counting
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            if m == "torchattacks":
                worst[m] = table_torchattacks(model, x, y, clean, eps_values, cfg, torchattacks)
            else:
                worst[m], _ = table_resode(model, x, y, eps_values, cfg, m == "resode-cascade")
            _sync(device)
            wall[m].append(time.perf_counter() - t0)
            cpu[m].append(time.process_time() - c0)
            Attack.loss_and_grad = real
            grads[m] = grads["n"]
    n = len(y)
    from resode.robustness import eps_label

    print(
        f"\nworst-case table: FGSM, IFGSM-{cfg.steps}, PGD-{cfg.steps} (step rule "
        f"{cfg.step_rule}), {n} {ds.name} test images {tuple(x.shape[1:])}, model "
        f"{Path(ckpt).name} (clean {100 * clean.float().mean().item():.2f} %), batch "
        f"{cfg.batch_size}, median of {args.repeats} rounds; baseline {ta_name}"
    )
    print(f"{'eps':>7} " + " ".join(f"{m:>16}" for m in methods) + f" {'points ≠':>9}")
    differ = {}
    for j, e in enumerate(eps_values):
        lev = eps_label(e)
        d = max(int((worst[m][j] != worst["torchattacks"][j]).sum()) for m in methods[1:])
        differ[lev] = d
        print(
            f"{lev:>7} "
            + " ".join(f"{100 * worst[m][j].float().mean().item():15.2f}%" for m in methods)
            + f" {d:9d}"
        )
    med = {m: statistics.median(cpu[m]) for m in methods}
    medw = {m: statistics.median(wall[m]) for m in methods}
    print(f"{'CPU s':>7} " + " ".join(f"{med[m]:16.2f}" for m in methods))
    print(f"{'wall s':>7} " + " ".join(f"{medw[m]:16.2f}" for m in methods))
    print(
        f"{'speedup':>7} "
        + " ".join(f"{med['torchattacks'] / med[m]:15.2f}x" for m in methods)
        + " (CPU time, over torchattacks)"
    )
    per_round = [cpu["torchattacks"][r] / cpu["resode-cascade"][r] for r in range(args.repeats)]
    print(
        "CPU-time ratio torchattacks / resode-cascade per round: "
        + ", ".join(f"{v:.2f}" for v in per_round)
    )
    print(
        "samples × forward+backward passes of resode's attacks: "
        + ", ".join(f"{m} {grads[m]}" for m in methods[1:])
        + f"; torchattacks (no early stopping) {n * len(eps_values) * (1 + 2 * cfg.steps)}"
    )
    equal = all(v == 0 for v in differ.values())
    print(
        "per-point worst cases "
        + ("EQUAL at every ε" if equal else f"DIFFER at {sum(differ.values())} (point, ε) pairs")
    )
    return {
        "attacks": ["fgsm", "ifgsm", "pgd"],
        "steps": cfg.steps,
        "step_rule": cfg.step_rule,
        "eps": [eps_label(e) for e in eps_values],
        "n": n,
        "clean_accuracy": clean.float().mean().item(),
        "baseline_name": ta_name,
        "worst_case": {
            m: {eps_label(e): worst[m][j].float().mean().item() for j, e in enumerate(eps_values)}
            for m in methods
        },
        "points_differing": differ,
        "equal": equal,
        "cpu_s": med,
        "wall_s": medw,
        "speedup_cpu": {m: med["torchattacks"] / med[m] for m in methods},
        "speedup_cpu_per_round": per_round,
        "gradient_samples": {m: grads[m] for m in methods[1:]},
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_pgd(args, device) -> dict:
    """The PGD-20 comparison (resode vs torchattacks, one attack at several ε)."""
    from resode import data
    from resode.attacks import PGD
    from resode.training import get_preset, train

    alpha = 1 / 255
    ckpt = args.checkpoint
    if not ckpt:
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
        print(
            f"trained {args.model} on digits for {args.epochs} epochs in "
            f"{time.perf_counter() - t0:.0f} s"
        )
        ckpt = args.save or str(out / "last.pt")
        if args.save:
            resode.save_checkpoint(args.save, res.model, config=cfg.to_dict())
    ck = resode.load_checkpoint(ckpt)
    model, cfg = ck.model.to(device).eval(), ck.config or {}
    ds = data.load(cfg.get("dataset", "digits"), split="test", image_size=cfg.get("image_size"))
    ds = ds.subset(min(args.n, len(ds)))
    x, y = ds.images.to(device), ds.labels.to(device)
    n = len(y)
    clean = correct(model, x, y, args.batch_size)
    layout = (
        "channels-last"
        if all(
            q.is_contiguous(memory_format=torch.channels_last)
            for q in model.parameters()
            if q.dim() == 4
        )
        else "NCHW"
    )

    try:
        import torchattacks

        ta_name = f"torchattacks {torchattacks.__version__}"
    except ImportError:
        torchattacks = None
        ta_name = "reference PGD loop (torchattacks missing)"
    model_cl = None
    if "torchattacks-cl" in args.methods:
        model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last).eval()

    def make(method: str, eps: float):
        if method.startswith("torchattacks"):
            m = model_cl if method == "torchattacks-cl" else model
            if torchattacks is None:
                return lambda xb, yb: reference_pgd(m, xb, yb, eps, alpha, args.steps)
            ta = torchattacks.PGD(m, eps=eps, alpha=alpha, steps=args.steps, random_start=True)
            return lambda xb, yb: ta(xb, yb)
        kw = {"early_stop": method != "resode-full"}
        if method == "resode-nchw":
            kw["channels_last"] = False
        return PGD(model, eps=eps, alpha=alpha, steps=args.steps, seed=0, **kw)

    print(
        f"environment: Python {platform.python_version()}, torch {torch.__version__}, {ta_name}, "
        f"{cpu_name()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}, {torch.get_num_threads()} torch "
        f"threads, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, mkldnn "
        f"{torch.backends.mkldnn.is_available()}, device {device}"
    )
    print(
        f"model {args.model} ({layout} parameters, from {Path(ckpt).name}), {n} {ds.name} test "
        f"images {tuple(x.shape[1:])}, L∞ PGD-{args.steps}, α = 1/255, random start, batch "
        f"{args.batch_size}; clean accuracy {100 * clean.float().mean().item():.2f} %; "
        f"median of {args.repeats} rounds, methods interleaved (order rotated each round)"
    )

    eps_values = [float(Fraction(e)) for e in args.eps]
    methods = list(args.methods)
    attacks = {(e, m): make(m, e) for e in eps_values for m in methods}
    cpu: dict[tuple[float, str], list[float]] = {k: [] for k in attacks}
    wall: dict[tuple[float, str], list[float]] = {k: [] for k in attacks}
    ok: dict[tuple[float, str], torch.Tensor] = {}
    for r in range(args.repeats):
        order = methods[r % len(methods) :] + methods[: r % len(methods)]
        for e in eps_values:
            for m in order:
                torch.manual_seed(0)  # torchattacks draws its random start from the global RNG
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
                adv = run_batches(attacks[e, m], x, y, args.batch_size)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                wall[e, m].append(time.perf_counter() - t0)
                cpu[e, m].append(time.process_time() - c0)
                assert (adv - x).abs().max() <= e + 1e-6 and adv.min() >= 0 and adv.max() <= 1
                ok[e, m] = correct(model, adv, y, args.batch_size) & clean

    base = methods[0]
    print(
        f"\n{'eps':>6} {'method':<16} {'robust acc %':>12} {'± s.e.':>7} {'≠ base':>6} "
        f"{'CPU s':>7} {'speed-up':>8} {'wall s':>7} {'speed-up':>8}"
    )
    tot_cpu = dict.fromkeys(methods, 0.0)
    tot_wall = dict.fromkeys(methods, 0.0)
    for e, text in zip(eps_values, args.eps):
        bc, bw = statistics.median(cpu[e, base]), statistics.median(wall[e, base])
        for m in methods:
            a = ok[e, m].float().mean().item()
            se = math.sqrt(a * (1 - a) / n)
            differ = int((ok[e, m] != ok[e, base]).sum())
            c, w = statistics.median(cpu[e, m]), statistics.median(wall[e, m])
            tot_cpu[m] += c
            tot_wall[m] += w
            print(
                f"{text:>6} {m:<16} {100 * a:12.2f} {100 * se:7.2f} {differ:6d} "
                f"{c:7.2f} {bc / c:7.2f}x {w:7.2f} {bw / w:7.2f}x"
            )
    print(f"{'total':>6}")
    for m in methods:
        print(
            f"{'':>6} {m:<16} {'':>12} {'':>7} {'':>6} {tot_cpu[m]:7.2f} "
            f"{tot_cpu[base] / tot_cpu[m]:7.2f}x {tot_wall[m]:7.2f} "
            f"{tot_wall[base] / tot_wall[m]:7.2f}x"
        )
    for m in methods[1:]:
        per_round = [
            sum(cpu[e, base][r] for e in eps_values) / sum(cpu[e, m][r] for e in eps_values)
            for r in range(args.repeats)
        ]
        print(
            f"CPU-time ratio {base} / {m} per round (paired): "
            + ", ".join(f"{v:.2f}" for v in per_round)
            + f"; median {statistics.median(per_round):.2f}x"
        )
    for m in methods:
        if m.startswith("resode"):
            done = sum(attacks[e, m].gradient_evaluations for e in eps_values)
            full = args.repeats * len(eps_values) * n * args.steps
            print(
                f"{m}: {100 * done / full:.1f} % of the forward+backward passes of a full run "
                "(early stopping skips misclassified samples)"
            )
    robust = {f"{e:.6f}/{m}": ok[e, m].float().mean().item() for e in eps_values for m in methods}
    result = {
        "baseline": base,
        "baseline_name": ta_name,
        "methods": methods,
        "n": n,
        "steps": args.steps,
        "eps": args.eps,
        "threads": torch.get_num_threads(),
        "clean_accuracy": clean.float().mean().item(),
        "total_cpu_s": tot_cpu,
        "total_wall_s": tot_wall,
        "speedup_cpu": {m: tot_cpu[base] / tot_cpu[m] for m in methods},
        "robust_accuracy": robust,
    }
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="evaluate this checkpoint instead of training one")
    p.add_argument("--save", help="save the trained model to this checkpoint path")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument(
        "--image-size", type=int, default=16, help="digits resolution (8 native, 16 default)"
    )
    p.add_argument("--n", type=int, default=500, help="test images (digits has 359)")
    p.add_argument(
        "--eps", nargs="+", default=["2/255", "4/255", "8/255", "16/255"], help="L∞ radii"
    )
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--repeats", type=int, default=3, help="rounds (median over them)")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["torchattacks", "resode", "resode-nchw"],
        choices=METHODS,
        help="methods to time; the first is the baseline of the speed-ups",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--no-table", dest="table", action="store_false", help="skip the table")
    p.add_argument("--no-pgd", dest="pgd", action="store_false", help="skip the PGD comparison")
    p.add_argument("--table-checkpoint", help="model of the table (default: train the default)")
    p.add_argument("--table-eps", nargs="+", default=["8/255", "16/255", "24/255"])
    p.add_argument("--table-batch-size", type=int, default=500)
    p.add_argument("--step-rule", default="reach", choices=["paper", "reach"])
    p.add_argument("--strict", action="store_true", help="exit 1 if the worst cases differ")
    args = p.parse_args()
    if args.repeats < 1:
        p.error("--repeats must be ≥ 1")

    from resode.training import select_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    result: dict = {}
    if args.pgd:
        result = run_pgd(args, device)
    if args.table:
        try:
            import torchattacks

            ta_name = f"torchattacks {torchattacks.__version__}"
        except ImportError:
            print("the table needs torchattacks (pip install 'resode[bench]')")
            return 2
        result["table"] = run_table(args, device, torchattacks, ta_name)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    if args.strict and args.table and not result["table"]["equal"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
