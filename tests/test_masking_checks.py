"""Gradient-masking checks (resode.robustness.checks), the claims hook, and the device road."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from resode.reproduce.claims import ADVERSARIAL, NOISE, apply_checks
from resode.robustness import RobustnessConfig
from resode.robustness.checks import (
    CheckResult,
    flag_checks,
    monotonicity_check,
    red_flags,
    run_checks,
)
from resode.verdicts import INCONCLUSIVE, judge


def convnet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)
    ).eval()


class Quantised(nn.Module):
    """Rounds its input: the gradient is zero almost everywhere (a masking model)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.round(x * 4) / 4)


class Noisy(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x + 0.01 * torch.randn_like(x))


def data(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_flags_pass_on_a_plain_logit_model_and_fail_on_each_masking_kind():
    x, y = data()
    assert flag_checks(convnet(), x, y).passed
    q = flag_checks(Quantised(convnet()), x, y)
    assert not q.passed and q.numbers["zero_grad_fraction"] == 1.0
    r = flag_checks(Noisy(convnet()), x, y)
    assert not r.passed and r.numbers["max_output_change"] > 0
    s = flag_checks(nn.Sequential(convnet(), nn.Softmax(dim=1)), x, y)
    assert not s.passed and s.numbers["softmax"] == 1.0


class Confident(nn.Module):
    """Scales the logits by 10⁴: softmax rounds to one-hot, so the float32 CE gradient is 0."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1e4 * self.inner(x)


def test_a_fully_confident_model_is_not_flagged_for_its_saturated_cross_entropy_gradient():
    x, _ = data()
    model = Confident(convnet())
    with torch.no_grad():
        y = model(x).argmax(1)  # every image classified correctly, with certainty
    check = flag_checks(model, x, y)
    assert check.numbers["ce_zero_grad_fraction"] == 1.0  # AutoAttack's reading would flag it
    assert check.numbers["zero_grad_fraction"] == 0.0 and check.passed
    q = flag_checks(Quantised(model), x, y)  # a rounding step still is masking
    assert not q.passed and q.numbers["zero_grad_fraction"] == 1.0


def test_monotonicity_flags_a_rise_in_eps_and_an_iterative_attack_weaker_than_fgsm():
    eps = ["1/255", "2/255"]
    ok = monotonicity_check(
        {"fgsm": {"1/255": 0.5, "2/255": 0.4}, "pgd": {"1/255": 0.3, "2/255": 0.2}}, eps
    )
    assert ok.passed
    rise = monotonicity_check({"fgsm": {"1/255": 0.4, "2/255": 0.5}}, eps)
    assert not rise.passed and "rises" in rise.reason
    weak = monotonicity_check(
        {"fgsm": {"1/255": 0.3, "2/255": 0.2}, "pgd": {"1/255": 0.4, "2/255": 0.2}}, eps
    )
    assert not weak.passed and weak.numbers["pgd-fgsm@1/255"] > 0


def test_run_checks_on_an_honest_model_reach_zero_and_square_never_beats_white_box():
    x, y = data()
    model = convnet()
    cfg = RobustnessConfig(eps=[0.05], steps=5, attacks=["pgd"], corruptions=[])
    # the white-box worst case measured by PGD, as evaluate_models would store it
    from resode.attacks import make_attack

    adv = make_attack("pgd", model, eps=0.05, steps=5, alpha=0.025)(x, y)
    with torch.no_grad():
        wb = float((model(adv).argmax(1) == y).float().mean())
    from resode.robustness import eps_label

    label = eps_label(0.05, "Linf")
    checks = run_checks(
        model,
        x,
        y,
        cfg,
        dataset="digits",
        attacks={"pgd": {label: wb}},
        robust={label: wb},
        surrogates=[("twin", convnet(seed=1))],
        square_queries=20,
    )
    by = {c.name: c for c in checks}
    assert set(by) == {"flags", "monotonicity", "eps_sweep", "square", "transfer-twin"}
    assert by["eps_sweep"].passed and list(by["eps_sweep"].numbers.values())[-1] == 0
    assert all(isinstance(c, CheckResult) for c in checks)
    for name in ("square", "transfer-twin"):  # the reported numbers decide pass/fail
        n = by[name].numbers
        assert by[name].passed == (
            min(v for k, v in n.items() if k != "white_box") >= n["white_box"]
        )
    assert CheckResult.from_dict(by["square"].to_dict()) == by["square"]


def test_a_red_flag_turns_the_robustness_verdict_inconclusive_and_leaves_others_alone():
    j = judge(ADVERSARIAL, [10.0, 11.0, 12.0], [1.0, 1.5, 2.0])
    assert j.verdict != INCONCLUSIVE
    bad = CheckResult("flags", False, "zero gradients", {"zero_grad_fraction": 1.0})
    good = CheckResult("square", True, "fine", {})
    runs = [
        SimpleNamespace(label="In-ResNet", seed=0, checks=[bad, good]),
        SimpleNamespace(label="ResNet", seed=0, checks=[good]),
    ]
    over = apply_checks(ADVERSARIAL, j, runs)
    assert over.verdict == INCONCLUSIVE and "zero gradients" in over.reason
    assert over.effect == j.effect and over.ci == j.ci  # the numbers stay visible
    assert apply_checks(ADVERSARIAL, j, runs[1:]) is j
    jn = judge(NOISE, [1.0, 1.1, 1.2], [5.0, 5.5, 6.0])
    assert apply_checks(NOISE, jn, runs) is jn
    assert red_flags([bad, good]) == ["flags: zero gradients"]


def test_paper_a_evaluation_passes_the_configured_device_to_every_call(monkeypatch):
    """The issue-21 defect: reproduce's _evaluate used to call evaluate_models without device=."""
    import resode.robustness as rob
    from resode.reproduce import paper_a

    seen: list[object] = []
    real = rob.evaluate_models

    def spy(*args, **kwargs):
        seen.append(kwargs.get("device"))
        return real(*args, **kwargs)

    monkeypatch.setattr(rob, "evaluate_models", spy)
    made: list[object] = []
    import resode.robustness.evaluate as ev_mod

    real_make = ev_mod.make_attack

    def make_spy(name, model, **kw):
        made.append(kw.get("device"))
        return real_make(name, model, **kw)

    monkeypatch.setattr(ev_mod, "make_attack", make_spy)
    sentinel = torch.device("cpu", 0)  # distinguishable from the default torch.device("cpu")
    monkeypatch.setattr(rob, "evaluation_device", lambda cfg: sentinel)
    x, y = data(6)
    ev = SimpleNamespace(images=x, labels=y, dataset="digits")

    class Head:
        images, labels = x, y

        def __len__(self) -> int:
            return 6

    ev.head = lambda n: Head()
    cfg = RobustnessConfig(eps=[0.05], steps=2, attacks=["fgsm"], corruptions=[], dataset="digits")
    out = paper_a._evaluate(convnet(), ev, {"robustness": cfg.to_dict()})
    assert seen == [sentinel, sentinel]
    assert made and all(d == sentinel for d in made)
    assert set(out.attacks) == {"fgsm"}


def test_clopper_pearson_matches_closed_forms_and_seed_interval_the_t_formula():
    import math

    from scipy import stats

    from resode.robustness.intervals import accuracy_row, clopper_pearson, seed_interval

    n = 20  # k = 0: hi = 1 − (α/2)^{1/n}; k = n: lo = (α/2)^{1/n}
    assert clopper_pearson(0, n) == (0.0, clopper_pearson(0, n)[1])
    assert math.isclose(clopper_pearson(0, n)[1], 1 - 0.025 ** (1 / n), rel_tol=1e-9)
    assert math.isclose(clopper_pearson(n, n)[0], 0.025 ** (1 / n), rel_tol=1e-9)
    lo, hi = clopper_pearson(7, n)
    assert lo < 7 / n < hi
    assert math.isclose(stats.binom.sf(6, n, lo), 0.025, rel_tol=1e-6)  # P(K ≥ 7 | lo) = α/2
    vals = [0.2, 0.3, 0.4]
    lo, hi = seed_interval(vals)
    assert math.isclose((hi - lo) / 2, stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3), rel_tol=1e-9)
    row = accuracy_row("m", "pgd", "8/255", [0.25, 0.5], 4)
    assert row.mean == 0.375 and row.images_ci == clopper_pearson(3, 8)


def test_reproduce_passes_corruption_source_on_to_the_evaluation():
    import dataclasses

    from resode.presets import get_preset
    from resode.reproduce import paper_a

    cfg = get_preset("tiny", kind="reproduce")
    rob = cfg.paper_a.robustness.replace(corruption_source="files", noise_strengths=[1.0])
    files = dataclasses.replace(cfg, paper_a=dataclasses.replace(cfg.paper_a, robustness=rob))
    assert paper_a.tasks(cfg)[0].params["robustness"]["corruption_source"] == "generated"
    assert paper_a.tasks(files)[0].params["robustness"]["corruption_source"] == "files"
    from resode.robustness.evaluate import corruption_loader_for

    assert corruption_loader_for(RobustnessConfig(corruption_source="generated"), None) is None
    files_cfg = RobustnessConfig(corruption_source="files", noise_strengths=[1.0])
    assert callable(corruption_loader_for(files_cfg, None))


def test_a_red_flag_marks_the_model_unreliable_in_the_robustness_result():
    from resode.robustness.results import ModelResult, RobustnessResult

    x, y = data()
    honest = ModelResult("Honest", "convnet", None, len(y), clean=0.5)
    honest.checks = [flag_checks(convnet(), x, y)]
    masked = ModelResult("Masked", "convnet", None, len(y), clean=0.5)
    masked.checks = [flag_checks(Quantised(convnet()), x, y), flag_checks(convnet(), x, y)]
    assert not honest.unreliable and masked.unreliable
    assert masked.to_dict()["unreliable"] is True and honest.to_dict()["unreliable"] is False
    cfg = RobustnessConfig(eps=[0.05], steps=2, attacks=["fgsm"], corruptions=[], dataset="digits")
    md = RobustnessResult(
        cfg, "digits", [0.05], list(range(len(y))), [honest, masked]
    ).to_markdown()
    assert "**Masked: unreliable** (red flags: flags)" in md
    assert "Honest: no red flag in 1 checks." in md
