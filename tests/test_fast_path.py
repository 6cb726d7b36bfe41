"""The speed options (TrainConfig.speed, issue 23 §2): device-resident batches equal the
per-batch loader, the SGD implementations give the same updates, the end-of-epoch finite check
stops where the per-step one does, and torch.compile / CUDA graphs fall back cleanly off CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import resode.training.engine as engine
from resode.data import Augment, ImageDataset, batches, draw_epoch, resident_batches
from resode.errors import ConfigError, NumericalError
from resode.training import TrainConfig, train
from resode.training.config import compile_plan, sgd_flags, use_data_on_device
from resode.training.graphs import GraphedForward, cuda_graphs_plan
from test_training import _tiny_config  # also registers the tiny test models


def _dataset(n: int = 37, c: int = 2, size: int = 6) -> ImageDataset:
    g = torch.Generator().manual_seed(3)
    return ImageDataset(
        images=torch.rand(n, c, size, size, generator=g),
        labels=torch.randint(0, 10, (n,), generator=g),
        num_classes=10,
        mean=(0.5,) * c,
        std=(0.25,) * c,
        name="t",
    )


@pytest.mark.parametrize(
    ("padding", "mode", "flip", "batch", "drop_last", "shard"),
    [
        (2, "reflect", True, 8, False, False),
        (4, "zero", True, 7, True, False),
        (0, "reflect", True, 5, False, True),
        (3, "zero", False, 37, False, False),
        (0, "zero", False, 10, True, True),
    ],
)
def test_resident_batches_equal_the_per_batch_loader(padding, mode, flip, batch, drop_last, shard):
    """Same batches, same crops and flips, bit for bit, and the generator ends in the same state
    (the same number of draws in the same order)."""
    ds = _dataset()
    aug = Augment(padding=padding, mode=mode, flip=flip) if (padding or flip) else None
    indices = torch.arange(3, 30, 2) if shard else None
    g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    kw = {"shuffle": True, "augment": aug, "drop_last": drop_last, "indices": indices}
    ref = list(batches(ds, batch, generator=g1, **kw))
    out = list(resident_batches(ds, batch, generator=g2, device="cpu", **kw))
    assert len(ref) == len(out) > 0
    for (x1, y1), (x2, y2) in zip(ref, out):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.equal(g1.get_state(), g2.get_state())
    n_used = sum(len(y) for _, y in out)
    assert n_used == (len(indices) if shard else len(ds)) - (
        (len(indices) if shard else len(ds)) % batch if drop_last else 0
    )


def test_epoch_draws_are_aligned_with_the_order():
    d = draw_epoch(20, 6, generator=torch.Generator().manual_seed(0), augment=Augment(3))
    assert sorted(d.order.tolist()) == list(range(20)) and d.stop == 20
    assert d.rows is not None and d.cols is not None and d.flips is not None
    assert len(d.rows) == len(d.cols) == len(d.flips) == 20
    assert int(d.rows.min()) >= 0 and int(d.rows.max()) <= 6 and d.flips.dtype == torch.bool
    plain = draw_epoch(20, 6, shuffle=False, augment=None)
    assert plain.rows is None and plain.flips is None and plain.order.tolist() == list(range(20))


def _weights(result) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in result.model.state_dict().items()}


def test_speed_options_train_bit_identical_weights_on_cpu(tmp_path: Path):
    """data_on_device, foreach SGD (the CPU default) and the end-of-epoch check: the same
    weights and losses as the per-batch loader with the for-loop SGD, so the defaults keep every
    recorded result. (Fused SGD rounds differently: it is CUDA's default only.)"""
    base = _tiny_config(epochs=2, crop_padding=2, model="resnet20", train_subset=64)
    ref = train(base.replace(speed={"sgd": "for-loop"}), tmp_path / "ref", progress=False)
    variants = {
        "resident": {"data_on_device": True, "sgd": "for-loop"},
        "foreach": {"sgd": "foreach"},
        "auto+resident+epoch-check": {"data_on_device": True, "finite_check": "epoch"},
    }
    for name, speed in variants.items():
        res = train(base.replace(speed=speed), tmp_path / name, progress=False)
        w0, w1 = _weights(ref), _weights(res)
        assert all(torch.equal(w0[k], w1[k]) for k in w0), name
        assert [h["train_loss"] for h in res.history] == [h["train_loss"] for h in ref.history]


def test_resolved_speed_choices():
    cfg, cpu, cuda = TrainConfig(), torch.device("cpu"), torch.device("cuda")
    assert not use_data_on_device(cfg, cpu) and use_data_on_device(cfg, cuda)
    assert use_data_on_device(cfg.replace(speed={"data_on_device": True}), cpu)
    assert sgd_flags(cfg, cpu) == {"foreach": True} and sgd_flags(cfg, cuda) == {"fused": True}
    assert sgd_flags(cfg.replace(speed={"sgd": "for-loop"}), cuda) == {"foreach": False}
    with pytest.raises(ConfigError, match="finite_check"):
        TrainConfig.from_dict({"nan_policy": "skip", "speed": {"finite_check": "epoch"}})


def test_compile_plan_falls_back_with_a_note():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert compile_plan(TrainConfig(), cpu) == (None, None)  # compile off
    on = TrainConfig(compile=True, speed={"compile_mode": "reduce-overhead"})
    assert compile_plan(on, cuda, available=True) == ("reduce-overhead", None)
    mode, note = compile_plan(on, cpu, available=True)
    assert mode == "default" and "CUDA graphs" in note and "\n" not in note
    mode, note = compile_plan(on, cuda, available=False)
    assert mode is None and "not available" in note and "\n" not in note


@pytest.mark.parametrize("available", [True, False])
def test_engine_compile_fallback_on_cpu(tmp_path: Path, monkeypatch, capsys, available):
    """compile=True with CUDA graphs asked for on the CPU: one note on stderr, torch.compile in
    mode default (or eager when compile is unavailable), and training finishes with the same
    weights as eager (the stand-in compiler returns the module unchanged)."""
    calls: list[str] = []

    def fake_compile(model, mode=None, **kw):
        calls.append(mode)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr("resode.training.config.compile_available", lambda: available)
    cfg = _tiny_config(epochs=1, compile=True, speed={"compile_mode": "reduce-overhead"})
    res = train(cfg, tmp_path / "c", progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("note:")
    assert calls == (["default"] if available else [])
    ref = train(cfg.replace(compile=False), tmp_path / "e", progress=False)
    w0, w1 = _weights(ref), _weights(res)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


def test_epoch_finite_check_stops_at_the_first_bad_step(tmp_path: Path):
    """A NaN at training call 2 is reported as step 2 of epoch 1 by the end-of-epoch check, as
    the per-step check does; nothing is saved for the failed epoch."""
    cfg = _tiny_config(
        model="_train_nan_at",
        model_kwargs={"bad_calls": [2, 3]},
        epochs=1,
        speed={"finite_check": "epoch"},
    )
    with pytest.raises(NumericalError, match=r"epoch 1, step 2 \(found by the end-of-epoch"):
        train(cfg, tmp_path, progress=False)
    assert not (tmp_path / "last.pt").exists()


def test_resume_of_a_run_recorded_before_the_speed_options(tmp_path: Path):
    """A checkpoint whose config has no ``speed`` key (written before it existed) resumes."""
    cfg = _tiny_config(epochs=1)
    train(cfg, tmp_path, progress=False)
    payload = torch.load(tmp_path / "last.pt", weights_only=False)
    del payload["config"]["speed"]
    torch.save(payload, tmp_path / "last.pt")
    cont = train(cfg.replace(epochs=2), tmp_path, resume=True, progress=False, resume_override=True)
    assert len(cont.history) == 2
    # the same config as recorded (speed at its defaults): no override needed
    again = _tiny_config(epochs=2)
    engine._check_resume_config(tmp_path / "last.pt", {**again.to_dict()}, again, override=False)
    old = {k: v for k, v in again.to_dict().items() if k != "speed"}
    assert engine._check_resume_config(tmp_path / "x", old, again, override=False) == []


def _fake_capture(seen: list[tuple[int, ...]]):
    """A stand-in for torch.cuda.make_graphed_callables: warm-up passes (which move BatchNorm
    statistics, as the real capture does), then a forward that records what it was called with."""

    def capture(module, args):
        eager = module.forward
        for _ in range(3):
            eager(*args)

        def graphed(*a):  # like the real one: eval mode runs the module's own forward
            if module.training:
                seen.append(tuple(a[0].shape))
            return eager(*a)

        module.forward = graphed
        return module

    return capture


def test_graphed_forward_replays_full_batches_only_and_keeps_buffers():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))
    seen: list[tuple[int, ...]] = []
    g = GraphedForward(model, batch_size=4, capture=_fake_capture(seen))
    x = torch.rand(4, 1, 5, 5)
    before = model[1].running_mean.clone()
    g(torch.rand(2, 1, 5, 5))  # a partial batch first: no capture yet
    assert g.shape is None and seen == []
    after_partial = model[1].running_mean.clone()
    assert not torch.equal(before, after_partial)  # an eager training forward moves BN stats
    ref = model[1].running_mean.clone()
    g(x)  # capture (3 warm-up passes, undone) + the replay of this batch
    ref_model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))
    ref_model.load_state_dict({**model.state_dict(), "1.running_mean": ref})
    assert g.shape == (4, 1, 5, 5) and seen == [(4, 1, 5, 5)] and g.replays == 1
    assert int(model[1].num_batches_tracked) == 2  # the partial batch and the replayed one
    g(torch.rand(3, 1, 5, 5))  # another shape: eager
    model.eval()
    g(x)  # eval mode: eager
    assert seen == [(4, 1, 5, 5)]
    g.release()
    assert "forward" not in vars(model)


def test_cuda_graphs_fall_back_off_cuda_and_the_captured_path_trains_the_same(
    tmp_path: Path, monkeypatch, capsys
):
    """speed.cuda_graphs on the CPU: one note, eager training. With the capture forced on
    (a stand-in capture on CPU) full batches go through the graphed forward, the last partial
    batch eagerly, and the weights equal eager training's."""
    cfg = _tiny_config(model="resnet20", train_subset=80, epochs=2, speed={"cuda_graphs": True})
    off = train(cfg, tmp_path / "off", progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cuda_graphs off" in err[0] and "cpu" in err[0]
    seen: list[tuple[int, ...]] = []
    monkeypatch.setattr(torch.cuda, "make_graphed_callables", _fake_capture(seen))
    monkeypatch.setattr(engine, "cuda_graphs_plan", lambda *a, **k: (True, None))
    on = train(cfg, tmp_path / "on", progress=False)
    assert seen == [(32, 1, 8, 8)] * 4  # 2 full batches per epoch (80 = 32 + 32 + 16)
    w0, w1 = _weights(off), _weights(on)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert "forward" not in vars(on.model)


def test_cuda_graphs_plan_reasons():
    cuda = torch.device("cuda")
    assert cuda_graphs_plan(False, cuda, compiled=False, distributed=False) == (False, None)
    assert cuda_graphs_plan(True, cuda, compiled=False, distributed=False) == (True, None)
    for kw in ({"compiled": True, "distributed": False}, {"compiled": False, "distributed": True}):
        use, note = cuda_graphs_plan(True, cuda, **kw)
        assert not use and note.startswith("note: speed.cuda_graphs off")
