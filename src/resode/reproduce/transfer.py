"""Paper A's transfer attacks, a second wave of grid tasks after the (model, seed) cells.

Each run of paper A (model m, seed s) is attacked by transfer from every *other* model trained
with the same seed: a damped model from its λ = 0 twin (the ResNet of seed s) and from the other
damped architecture, the ResNet from the damped ones. The adversarial examples are crafted by the
white-box attack of the evaluation (PGD, same steps and step rule) on the surrogate and tested on
the target, on the same attacked images (``attack_subset``) as the target's white-box attacks:

    acc_transfer(ε) = mean_i [ f_m(A_{sur}(x_i; ε)) = y_i ]

AutoAttack's and RobustBench's rule: a white-box evaluation must be at least as strong as any
transfer attack. A transfer accuracy *below* the white-box worst case at some ε,
``acc_transfer(ε) < acc_white-box(ε)``, means the white-box attacks failed on points another
model's gradients break (gradient masking): a red flag that turns the model's robustness verdict
inconclusive (:func:`resode.reproduce.claims.apply_checks`).

The tasks are ``paper_a/transfer/<model>-seed<s>``. Their parameters hold the digests of the
cells whose checkpoints they read, so a cell that is recomputed (another config) recomputes its
transfer tasks; a transfer task refuses to run on a cell folder whose ``result.json`` is not the
one of that digest. Like every task they are resumable and reused when finished. The comparison
with the white-box numbers happens in :func:`attach` from the stored results, so it is redone
every time the job collects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resode.errors import ResodeError
from resode.grid import Task, TaskOutcome
from resode.grid.task import fn_ref
from resode.registry import display_name
from resode.reproduce.config import ReproduceConfig
from resode.reproduce.runs import TransferResult

TRANSFER_PREFIX = "paper_a/transfer/"


def transfer_key(model: str, seed: int) -> str:
    return f"{TRANSFER_PREFIX}{model}-seed{seed}"


def enabled(cfg: ReproduceConfig) -> bool:
    """Transfer tasks run with the masking checks, with attacks, and with ≥ 2 models."""
    pa = cfg.paper_a
    return bool(
        pa.enabled and pa.robustness.checks and pa.robustness.attacks and len(pa.models) >= 2
    )


def _cells(tasks: list[Task]) -> dict[tuple[str, int], Task]:
    """(model, seed) → the paper-A task that trains it: a one-seed cell, or the seed-stacked
    group task holding that seed (``paper_a.seed_batch > 1``); the fixed-λ sweep's runs (with
    ``lam``) are no model of the comparison."""
    from resode.reproduce.paper_a import CELL_FN, GROUP_FN

    out: dict[tuple[str, int], Task] = {}
    for t in tasks:
        if "lam" in t.params:
            continue
        if t.fn == CELL_FN:
            out[(t.params["model"], int(t.params["seed"]))] = t
        elif t.fn == GROUP_FN:
            for s in t.params["seeds"]:
                out[(t.params["model"], int(s))] = t
    return out


def transfer_tasks(
    cfg: ReproduceConfig, tasks: list[Task], outcomes: dict[str, TaskOutcome] | None = None
) -> list[Task]:
    """One task per paper-A cell whose run finished (all cells when ``outcomes`` is None), with
    every other model of the same seed whose run finished as a surrogate."""
    if not enabled(cfg):
        return []
    cells = _cells(tasks)

    def ok(t: Task) -> bool:
        return outcomes is None or (t.key in outcomes and outcomes[t.key].ok)

    out = []
    for (model, seed), cell in cells.items():
        if not ok(cell):
            continue
        surs = [
            cells[(m, seed)]
            for m in cfg.paper_a.models
            if m != model and (m, seed) in cells and ok(cells[(m, seed)])
        ]
        if not surs:
            continue

        def ref(t: Task, seed: int = seed) -> dict[str, Any]:
            return {"key": t.key, "model": t.params["model"], "seed": seed, "digest": t.digest()}

        params = {
            "target": ref(cell),
            "seed": seed,
            "surrogates": [ref(t) for t in surs],
            "evalset": cell.params["evalset"],
            "robustness": cell.params["robustness"],
            "attack_subset": cell.params["attack_subset"],
        }
        out.append(
            Task(
                key=transfer_key(model, seed),
                fn=TRANSFER_FN,
                params=params,
                threads=cell.threads,
                label=f"transfer → {display_name(model)} seed {seed}",
                cost=5.0 * len(surs),
            )
        )
    return out


def _cell_model(root: Path, ref: dict[str, Any], device: Any) -> Any:
    """The trained model of the cell ``ref``, after checking that its folder holds the result of
    the expected digest (the cell finished with these settings)."""
    from resode.checkpoint import load_checkpoint
    from resode.grid.task import RESULT_FILE

    folder = root / ref["key"]
    try:
        stored = json.loads((folder / RESULT_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ResodeError(
            f"the transfer attack needs the finished run {ref['key']!r}, but {folder} holds no "
            "result; run resode reproduce --resume to finish it"
        ) from exc
    if stored.get("digest") != ref["digest"]:
        raise ResodeError(
            f"{ref['key']!r} holds a run of other settings (digest {stored.get('digest')}, "
            f"expected {ref['digest']}); run resode reproduce --resume to recompute it"
        )
    from resode.reproduce.paper_a import GROUP_FN
    from resode.reproduce.runs import parse_cell

    # the stored task's function says how to read its result: a group holds one run per seed,
    # each in folder/seed<s>
    group = stored.get("task", {}).get("fn") == GROUP_FN
    (run,) = [r for r in parse_cell(stored["result"], group=group) if r.seed == int(ref["seed"])]
    if group:
        folder = folder / f"seed{ref['seed']}"
    return load_checkpoint(folder / run.train.checkpoint).model.to(device).eval()


def run_transfer(params: dict[str, Any], folder: Path) -> TransferResult:
    """Transfer accuracies of the target under PGD crafted on each surrogate, at every ε, on the
    attacked subset of the shared evaluation set (in a worker process)."""
    import torch

    from resode.attacks import make_attack
    from resode.evalset import derive_seed, load_evalset
    from resode.robustness import RobustnessConfig, eps_label, evaluation_device, predict_correct

    root = folder.parents[len(Path(TRANSFER_PREFIX).parts)]  # folder = root/paper_a/transfer/x
    rcfg = RobustnessConfig.from_dict(params["robustness"])
    dev = evaluation_device(rcfg)
    ev = load_evalset(**params["evalset"])
    head = ev.head(params.get("attack_subset"))
    target = _cell_model(root, params["target"], dev)
    eps = rcfg.resolved_eps(ev.dataset)
    out: dict[str, dict[str, float]] = {}
    for ref in params["surrogates"]:
        sur = _cell_model(root, ref, dev)
        accs: dict[str, float] = {}
        for ei, e in enumerate(eps):
            kw: dict[str, Any] = {"steps": rcfg.steps}
            if rcfg.step_size(e) is not None:
                kw["alpha"] = rcfg.step_size(e)
            attack = make_attack(
                "transfer",
                target,
                surrogate=sur,
                attack=rcfg.transfer_attack,
                eps=e,
                norm=rcfg.norm,
                early_stop=rcfg.early_stop,
                device=dev,
                **kw,
            )
            g = torch.Generator().manual_seed(derive_seed(rcfg.seed, "transfer", ref["model"], ei))
            ok = []
            for i in range(0, len(head), rcfg.batch_size):
                xb = head.images[i : i + rcfg.batch_size].to(dev)
                yb = head.labels[i : i + rcfg.batch_size].to(dev)
                adv = attack(xb, yb, generator=g)
                ok.append(predict_correct(target, adv, yb, rcfg.batch_size, dev))
            correct = torch.cat(ok) if ok else torch.zeros(0, dtype=torch.bool)
            accs[eps_label(e, rcfg.norm)] = int(correct.sum()) / max(correct.numel(), 1)
        out[ref["model"]] = accs
    return TransferResult(
        target=params["target"]["model"],
        seed=params["seed"],
        n_attack=len(head),
        attack=rcfg.transfer_attack,
        transfer=out,
    )


#: the transfer task's entry point (``grid.task.resolve`` imports it in the worker)
TRANSFER_FN = fn_ref(run_transfer)


def transfer_checks(transfer: dict[str, dict[str, float]], white_box: dict[str, float]) -> list:
    """One :class:`~resode.robustness.checks.CheckResult` per surrogate: passed when at no ε the
    transfer accuracy is below the white-box worst case (both on the same images)."""
    from resode.robustness.checks import CheckResult

    out = []
    for sur, accs in transfer.items():
        numbers: dict[str, float] = {}
        beaten = []
        for lev, t in accs.items():
            w = white_box.get(lev)
            numbers[f"transfer@{lev}"] = t
            if w is None:
                continue
            numbers[f"white_box@{lev}"] = w
            if t < w:
                beaten.append(f"ε = {lev}: {100 * t:.1f} % < {100 * w:.1f} %")
        name = display_name(sur)
        if beaten:
            reason = (
                f"transfer from {name} beats the white-box worst case ({'; '.join(beaten)}): "
                "the white-box attacks miss points another model's gradients break"
            )
        else:
            reason = f"transfer from {name} never beats the white-box worst case"
        out.append(CheckResult(f"transfer-{sur}", not beaten, reason, numbers))
    return out


def attach(cfg: ReproduceConfig, runs: list[Any], outcomes: dict[str, TaskOutcome]) -> None:
    """Add each run's transfer numbers (``RunResult.transfer``) and checks (appended to
    ``RunResult.checks``) from its transfer task; a transfer that did not run although the
    phase is on (the task failed, or a surrogate's run failed) is a failed check."""
    if not enabled(cfg):
        return
    for r in runs:
        oc = outcomes.get(transfer_key(r.model, r.seed))
        expected = [m for m in cfg.paper_a.models if m != r.model]
        if oc is not None and oc.ok and oc.result is not None:
            tr = TransferResult.from_dict(oc.result).transfer
            checks = transfer_checks(tr, r.result.robustness.robust)
        else:
            tr = {}
            why = oc.error if oc is not None and oc.error else "no surrogate run finished"
            from resode.robustness.checks import CheckResult

            checks = [CheckResult("transfer", False, f"transfer not measured ({why})")]
        for m in expected:
            if tr and m not in tr:
                from resode.robustness.checks import CheckResult

                checks.append(
                    CheckResult(
                        f"transfer-{m}",
                        False,
                        f"transfer from {display_name(m)} not measured (its run failed)",
                    )
                )
        r.result.transfer = tr
        r.result.checks = [*(r.result.checks or []), *checks]


__all__ = [
    "TRANSFER_PREFIX",
    "attach",
    "enabled",
    "run_transfer",
    "transfer_checks",
    "transfer_key",
    "transfer_tasks",
]
