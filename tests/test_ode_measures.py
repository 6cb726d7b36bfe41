"""Paper B measurements: slope fits with CIs and verdicts, L²-in-s distances, neural-ODE errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resode.errors import ResodeError
from resode.ode.init import initialize
from resode.ode.measures import (
    fit_loglog_slope,
    l2_in_s_distance,
    lag_smoothness,
    ode_discrepancy,
    smoothness_verdict,
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
    assert smoothness_verdict(fit).startswith("ODE-like")


def test_slope_fit_exact_line_and_flat_verdict():
    fit = fit_loglog_slope([1, 2, 4, 8], [5.0, 5.0 * 2**-0.5, 2.5, 5.0 * 8**-0.5])
    assert fit.slope == pytest.approx(-0.5, abs=1e-12) and fit.r2 == pytest.approx(1.0)
    assert smoothness_verdict(fit).startswith("rough, SDE-like")
    rng = np.random.default_rng(1)
    flat = fit_loglog_slope(DEPTHS, 30 * np.exp(0.02 * rng.standard_normal(5)))
    assert smoothness_verdict(flat).startswith("not smooth")


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
    assert smooth.fit.slope == pytest.approx(1.0, abs=0.1) and smooth.verdict.startswith("smooth")
    assert smooth.roughness_ratio < 0.05
    rough = lag_smoothness(torch.randn(256, 50, generator=torch.Generator().manual_seed(0)))
    assert abs(rough.fit.slope) < 0.05 and rough.verdict.startswith("not smooth")
    assert rough.roughness_ratio == pytest.approx(1.0, abs=0.05)


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
