"""Paper B measurements: slope fits with CIs and verdicts, L²-in-s distances, neural-ODE errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resode.errors import ResodeError
from resode.ode.init import initialize
from resode.ode.measures import (
    SlopeFit,
    block_projection,
    conv_smoothness,
    fit_loglog_slope,
    judge_slope,
    l2_distance_to_projection,
    l2_in_s_distance,
    lag_smoothness,
    ode_discrepancy,
    slope_label,
)
from resode.ode.scaled_resnet import ScaledResidualMLP

DEPTHS = np.array([2, 16, 64, 256, 1024])


@pytest.mark.parametrize("method", ["t", "bootstrap"])
def test_slope_fit_recovers_known_slope_with_ci(method):
    rng = np.random.default_rng(0)
    y = 3.0 / DEPTHS[:, None] * np.exp(0.05 * rng.standard_normal((5, 4)))
    fit = fit_loglog_slope(DEPTHS, y, method=method)
    assert fit.ci_low < -1.0 < fit.ci_high
    assert abs(fit.slope + 1) < 0.05 and fit.ci_high - fit.ci_low < 0.1
    assert fit.intercept == pytest.approx(math.log(3.0), abs=0.1)
    assert judge_slope(_ode_claim(), fit).verdict == "reproduced"
    assert slope_label(fit).startswith("closest to ODE-like")


def test_slope_fit_exact_line_and_flat_verdict():
    fit = fit_loglog_slope([1, 2, 4, 8], [5.0, 5.0 * 2**-0.5, 2.5, 5.0 * 8**-0.5])
    assert fit.slope == pytest.approx(-0.5, abs=1e-12) and fit.r2 == pytest.approx(1.0)
    assert slope_label(fit).startswith("closest to rough, SDE-like")
    rng = np.random.default_rng(1)
    flat = fit_loglog_slope(DEPTHS, 30 * np.exp(0.02 * rng.standard_normal(5)))
    assert slope_label(flat).startswith("closest to not smooth")
    assert judge_slope(_ode_claim(), flat).verdict == "contradicted"


def _ode_claim():
    from resode.verdicts import Claim

    return Claim("slope", "slope −1", "equivalent", margin=0.25, reference=-1.0)


def _fit(slope: float, half95: float, n: int = 10) -> SlopeFit:
    """A fit whose 95 % t interval is slope ± half95 (df = n − 2)."""
    from scipy.stats import t

    se = half95 / t.ppf(0.975, n - 2)
    return SlopeFit(slope, 0.0, slope - half95, slope + half95, se, n, 0.99, 0.95, "t")


def test_judge_slope_uses_the_interval_not_a_distance_rule():
    """The issue's two cases: the ad-hoc |slope − ref| ≤ 0.25 rule called a tight −0.80 fit
    "intermediate" and a wide −0.78 one "ODE-like"; the engine reverses that."""
    tight, wide = _fit(-0.80, 0.02), _fit(-0.78, 0.12)
    assert judge_slope(_ode_claim(), tight).verdict == "reproduced"  # inside [−1.25, −0.75]
    assert judge_slope(_ode_claim(), wide).verdict == "inconclusive"  # reaches past −0.75
    assert judge_slope(_ode_claim(), _fit(-0.3, 0.05)).verdict == "contradicted"
    j = judge_slope(_ode_claim(), tight)  # TOST: the 90 % interval, narrower than the 95 % one
    assert tight.ci_low < j.ci[0] < -0.80 < j.ci[1] < tight.ci_high


def test_slope_fit_rejects_nonpositive_values():
    with pytest.raises(ResodeError, match="positive"):
        fit_loglog_slope([2, 4], [0.0, 1.0])


def _sampled(L: int) -> torch.Tensor:
    s = torch.arange(1, L + 1, dtype=torch.float64) / L
    return torch.stack([torch.sin(2 * math.pi * s), s**2], dim=1)


def test_l2_in_s_distance_exact_and_first_order():
    # Z^2 = (0, 1) on (0, 1/2], (1/2, 1]; Z^1 = 0: ∫ = 1/2.
    a = torch.tensor([[0.0], [1.0]])
    b = torch.tensor([[0.0]])
    assert l2_in_s_distance(a, b).item() == pytest.approx(math.sqrt(0.5), abs=1e-14)
    assert l2_in_s_distance(_sampled(48), _sampled(48)).item() == 0.0
    ref = _sampled(3 * 1024)
    d = {L: l2_in_s_distance(_sampled(L), ref).item() for L in (16, 64, 256)}
    # a smooth function: distance to the fine reference is O(1/L)
    assert d[16] / d[64] == pytest.approx(4, rel=0.15)
    assert d[64] / d[256] == pytest.approx(4, rel=0.15)
    # non-nested depths and seed batches broadcast
    both = torch.stack([_sampled(20), _sampled(20)])
    assert l2_in_s_distance(both, _sampled(30)).shape == (2,)


def test_lag_smoothness_separates_smooth_and_rough():
    smooth = lag_smoothness(_sampled(256).repeat(1, 3))
    assert smooth.fit.slope == pytest.approx(1.0, abs=0.1)
    assert smooth.label.startswith("closest to smooth")
    assert smooth.roughness_ratio < 0.05
    rough = lag_smoothness(torch.randn(256, 50, generator=torch.Generator().manual_seed(0)))
    assert abs(rough.fit.slope) < 0.05 and rough.label.startswith("closest to not smooth")
    assert rough.roughness_ratio == pytest.approx(1.0, abs=0.05)


def test_lag_smoothness_calls_constant_weights_perfectly_smooth():
    """Exactly constant weights (a tied init) are perfectly smooth, not "not smooth"."""
    Z = torch.randn(1, 40, generator=torch.Generator().manual_seed(0)).expand(64, 40)
    lag = lag_smoothness(Z)
    assert lag.constant and lag.fit is None and lag.mean_diff == [0.0] * len(lag.lags)
    assert "perfectly smooth" in lag.label and "not smooth" not in lag.label
    assert type(lag).from_dict(lag.to_dict()) == lag
    assert not lag_smoothness(_sampled(64)).constant


@pytest.mark.parametrize("La, Lr", [(8, 64), (12, 40), (48, 48), (64, 24)])
def test_block_projection_gives_the_exact_l2_distance(La, Lr):
    """‖Z^L − Z^ref‖² = (1/L)Σ_k‖Z_k − m_k‖² + r, nested or not, seed dims broadcast."""
    g = torch.Generator().manual_seed(La + Lr)
    Za = torch.randn(3, La, 5, generator=g, dtype=torch.float64)
    Zr = torch.randn(3, Lr, 5, generator=g, dtype=torch.float64)
    means, spread = block_projection(Zr, La)
    assert means.shape == (3, La, 5) and spread.shape == (3,)
    direct = l2_in_s_distance(Za, Zr)
    assert torch.allclose(l2_distance_to_projection(Za, means, spread), direct, rtol=1e-12)
    assert torch.allclose(l2_distance_to_projection(means, means, spread), spread.sqrt())


def test_conv_smoothness_tied_vs_iid():
    from resode import create_model

    tied = create_model("scaled_convnet", depth=16, init="tied", image_size=8, in_channels=1)
    with torch.no_grad():  # a smooth function of s added to the tied conv1 (W) weights
        for k, block in enumerate(tied.blocks):
            block.conv1.weight.add_(0.1 * math.sin(k / 16))
    iid = create_model("scaled_convnet", depth=16, init="iid", image_size=8, in_channels=1)
    a, b = conv_smoothness(tied), conv_smoothness(iid)
    n_w = tied.blocks[0].conv1.weight.numel()
    step = 0.1 * (math.sin(15 / 16) - math.sin(0)) / 15  # mean |Δ| of the added sin, per entry
    assert a["mean_dw"] == pytest.approx(step * math.sqrt(n_w), rel=0.05)
    assert a["mean_dv"] == 0.0 and a["mean_dz"] == pytest.approx(a["mean_dw"])
    assert b["mean_dw"] > 10 * a["mean_dw"]
    assert b["relative_roughness"] == pytest.approx(16 * math.sqrt(2), rel=0.1)
    assert "smooth" not in a and "verdict" not in a  # the verdict is the Table 1 experiment's


def test_neural_ode_discrepancy_decreases_like_one_over_depth():
    """Smooth (GP-initialised) weights: ‖F_L − F_ODE‖ = O(1/L) with an adaptive dopri5 solve."""
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z = torch.Generator().manual_seed(5)
    Vf, Wf = torch.randn(3, 3, 4, generator=z), torch.randn(3, 4, 3, generator=z)

    def z_init(s):  # a smooth user function Z_init(s)
        basis = torch.stack([torch.ones_like(s), torch.sin(3 * s), torch.cos(2 * s)])
        return (
            torch.einsum("bs,bqm->sqm", basis, Vf.double()),
            torch.einsum("bs,bmq->smq", basis, Wf.double()),
        )

    errs = {}
    for L in (8, 32):
        model = ScaledResidualMLP(L, 3, 4, dtype=torch.float64, normalisation="official")
        initialize(model, "function", z_init=z_init)
        errs[L] = float(ode_discrepancy(model, x, interpolation="linear")[0])
    assert errs[8] > 0 and errs[8] / errs[32] == pytest.approx(4, rel=0.3)


# ---- exact power laws and closed forms (written from mutation testing's survivors) ------------


@pytest.mark.parametrize("p", [-1.5, -1.0, -0.5, 0.0, 1.0])
def test_slope_of_an_exact_power_law(p):
    """y = C_s·x^p for every seed s: slope p exactly, intercept mean log C_s, a zero-width CI."""
    x = np.array([2.0, 8.0, 32.0, 128.0])
    C = np.array([0.5, 2.0, 3.0])
    for method in ("t", "bootstrap"):
        fit = fit_loglog_slope(x, C[None, :] * x[:, None] ** p, method=method, confidence=0.9)
        assert fit.slope == pytest.approx(p, abs=1e-12)
        assert fit.intercept == pytest.approx(np.log(C).mean(), abs=1e-12)
        assert (fit.n_points, fit.confidence, fit.method) == (12, 0.9, method)
        if p != 0.0:  # seeds with different C are spread around the line
            assert 0.0 < fit.r2 < 1.0 and fit.stderr > 0
    one = fit_loglog_slope(x, 3.0 * x**p)
    assert one.stderr == pytest.approx(0.0, abs=1e-12) and one.r2 == pytest.approx(1.0)
    assert one.ci_low == pytest.approx(p, abs=1e-12) and one.ci_high == pytest.approx(p, abs=1e-12)
    assert SlopeFit(**one.to_dict()) == one


def test_slope_ci_is_the_t_interval_of_the_regression():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = np.exp(np.array([0.1, -0.6, -1.5, -2.0, -2.9]))
    fit = fit_loglog_slope(x, y, confidence=0.9)
    from scipy import stats

    ref = stats.linregress(np.log(x), np.log(y))
    half = stats.t.ppf(0.95, 3) * ref.stderr
    assert fit.slope == pytest.approx(ref.slope, rel=1e-12)
    assert fit.intercept == pytest.approx(ref.intercept, rel=1e-12)
    assert fit.stderr == pytest.approx(ref.stderr, rel=1e-12)
    assert fit.r2 == pytest.approx(ref.rvalue**2, rel=1e-12)
    assert (fit.ci_low, fit.ci_high) == pytest.approx((ref.slope - half, ref.slope + half))
    # three points: df = 1 still gives a (wide) finite t interval
    three = fit_loglog_slope(x[:3], y[:3])
    r3 = stats.linregress(np.log(x[:3]), np.log(y[:3]))
    assert three.ci_high - three.slope == pytest.approx(stats.t.ppf(0.975, 1) * r3.stderr)
    # two points: no interval
    two = fit_loglog_slope(x[:2], y[:2])
    assert two.ci_low == -math.inf and two.ci_high == math.inf
    # float32 input is fitted in float64
    f32 = fit_loglog_slope(x.astype(np.float32), y.astype(np.float32))
    f64 = fit_loglog_slope(x.astype(np.float32).astype(float), y.astype(np.float32).astype(float))
    assert f32 == f64


def test_slope_fit_errors():
    with pytest.raises(ResodeError, match="x has 3 values but y has 2 rows"):
        fit_loglog_slope([1, 2, 3], [1.0, 2.0])
    with pytest.raises(ResodeError, match="two different x values"):
        fit_loglog_slope([2, 2, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ResodeError, match="unknown CI method 'z'"):
        fit_loglog_slope([1, 2, 3], [1.0, 2.0, 3.0], method="z")


def test_lag_smoothness_of_weights_linear_in_k():
    """Z_k = k·v: D(ℓ) = ℓ‖v‖ exactly (slope 1), mean pair distance (L+1)/3·‖v‖, ratio 3/(L+1)."""
    L = 64
    v = torch.tensor([3.0, 4.0], dtype=torch.float64)  # ‖v‖ = 5
    Z = torch.arange(L, dtype=torch.float64)[:, None] * v
    lag = lag_smoothness(Z)
    assert lag.lags == [1, 2, 4, 8]  # ℓ ≤ L/8
    assert lag.mean_diff == pytest.approx([5.0, 10.0, 20.0, 40.0], rel=1e-12)
    assert lag.fit.slope == pytest.approx(1.0, abs=1e-12)
    assert lag.roughness_ratio == pytest.approx(3 / (L + 1), rel=1e-12)
    assert not lag.constant and lag.label.startswith("closest to smooth")
    assert type(lag).from_dict(lag.to_dict()) == lag
    short = lag_smoothness(Z[:6], max_lag_fraction=0.5)  # ℓ ≤ max(2, 3), ℓ < L
    assert short.lags == [1, 2]
    with pytest.raises(ResodeError, match="at least 4 layers"):
        lag_smoothness(Z[:3])


def _smooth_model(L: int, seeds: int | None = None) -> ScaledResidualMLP:
    g = torch.Generator().manual_seed(5)
    Vf, Wf = torch.randn(3, 3, 4, generator=g), torch.randn(3, 4, 3, generator=g)

    def z_init(s):
        basis = torch.stack([torch.ones_like(s), torch.sin(3 * s), torch.cos(2 * s)])
        return (
            torch.einsum("bs,bqm->sqm", basis, Vf.double()),
            torch.einsum("bs,bmq->smq", basis, Wf.double()),
        )

    model = ScaledResidualMLP(L, 3, 4, dtype=torch.float64, normalisation="official", n_seeds=seeds)
    initialize(model, "function", z_init=z_init)
    return model


def test_neural_ode_fixed_step_solvers_and_input_dtype():
    from resode.ode.measures import neural_ode_output

    model = _smooth_model(8)
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ref = neural_ode_output(model, x, interpolation="linear")  # adaptive dopri5, rtol 1e-7
    rk4 = neural_ode_output(model, x, interpolation="linear", method="rk4", step_size=1 / 64)
    scale = float(ref.abs().max())
    assert float((rk4 - ref).abs().max()) < 1e-6 * scale  # RK4 error O(h⁴): 1.6e-7 measured
    coarse = neural_ode_output(model, x, interpolation="linear", method="rk4", step_size=1 / 2)
    assert float((coarse - ref).abs().max()) > 1e-4 * scale  # the step size is used
    # float32 input: computed in float64 from the same values, returned in the model's dtype
    out32 = neural_ode_output(model, x.float())
    assert out32.dtype == torch.float64
    assert torch.allclose(out32, neural_ode_output(model, x.float().double()), atol=1e-12)
    with pytest.raises(ResodeError, match="unknown interpolation"):
        neural_ode_output(model, x, interpolation="cubic")


def test_ode_discrepancy_default_shapes_and_value():
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    model = _smooth_model(8)
    err = ode_discrepancy(model, x)
    assert err.shape == (1,)
    assert err[0] == ode_discrepancy(model, x, interpolation="linear")[0]
    from resode.ode.measures import neural_ode_output

    with torch.no_grad():
        net, ode = model(x), neural_ode_output(model, x)
    assert err[0] == pytest.approx(float((net - ode).norm() / ode.norm()), rel=1e-12)
    seeded = _smooth_model(8, seeds=2)
    e2 = ode_discrepancy(seeded, x)
    assert e2.shape == (2,) and e2 == pytest.approx([err[0], err[0]], rel=1e-12)


def test_neural_ode_of_a_float32_model_is_solved_in_float64():
    from resode.ode.measures import neural_ode_output

    m64 = _smooth_model(8)
    m32 = ScaledResidualMLP(8, 3, 4, dtype=torch.float32, normalisation="official")
    m32.load_state_dict({k: v.float() for k, v in m64.state_dict().items()})
    m64.load_state_dict({k: v.double() for k, v in m32.state_dict().items()})  # same values
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = neural_ode_output(m32, x)
    assert out.dtype == torch.float64
    assert torch.allclose(out, neural_ode_output(m64, x), rtol=0, atol=1e-12)
    assert neural_ode_output(m32, x.float()).dtype == torch.float32
