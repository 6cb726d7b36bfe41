"""Checkpoints: exact resume, atomic writes, refusal of unsafe, truncated or foreign files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import resode
from resode.checkpoint import FORMAT_VERSION, atomic_torch_save, read_checkpoint, save_checkpoint
from resode.errors import CheckpointError
from resode.nn import Normalize, ResidualClassifier
from resode.training import TrainConfig, train


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 3, 1, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.f(h)


@resode.register_model("_ckpt_tiny_bn", family="test")
def _tiny_bn(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 8,
    mean: tuple[float, ...] = (0.5,),
    std: tuple[float, ...] = (0.5,),
    width: int = 4,
) -> ResidualClassifier:
    """A two-block pre-activation ResNet with BatchNorm (running statistics are state too)."""
    return ResidualClassifier(
        Normalize(mean, std),
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.ModuleList([_Block(width), _Block(width)]),
        nn.Sequential(
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width, num_classes),
        ),
    )


@resode.register_model("_ckpt_other", family="test")
def _other(num_classes: int = 10, **_: object) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))


class _Evil:
    """Any class instance: unpickling it would import and run this module's code."""

    def __init__(self) -> None:
        self.payload = "not a tensor"


def _config(**kw: object) -> TrainConfig:
    base = {
        "model": "_ckpt_tiny_bn",
        "dataset": "digits",
        "image_size": 8,
        "train_subset": 80,
        "test_subset": 30,
        "epochs": 2,
        "batch_size": 16,
        "lr": 0.05,
        "schedule": "multistep",
        "milestones": [1],  # the lr changes at the resume boundary
        "augment": True,
        "crop_padding": 1,
        "device": "cpu",
        "threads": 1,
    }
    base.update(kw)
    return TrainConfig.from_dict(base)


def test_resume_is_exact(tmp_path: Path) -> None:
    """2 epochs in one go == 1 epoch, then resume for 1 more: identical weights, buffers, state."""
    full = train(_config(), tmp_path / "full", progress=False)
    train(_config(epochs=1), tmp_path / "split", progress=False)
    # more epochs than recorded: an explicit, recorded override (issue 24)
    resumed = train(
        _config(), tmp_path / "split", resume=True, progress=False, resume_override=True
    )
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    pa = read_checkpoint(tmp_path / "full" / "last.pt")
    pb = read_checkpoint(tmp_path / "split" / "last.pt")
    for idx, state in pa["optimizer"]["state"].items():
        assert torch.equal(
            state["momentum_buffer"], pb["optimizer"]["state"][idx]["momentum_buffer"]
        )
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == strip
    assert pb["epoch"] == 2 and [h["epoch"] for h in pb["history"]] == [1, 2]


def test_resume_of_finished_run_changes_nothing(tmp_path: Path) -> None:
    first = train(_config(epochs=1), tmp_path, progress=False)
    again = train(_config(epochs=1), tmp_path, resume=True, progress=False)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key])
    assert again.history == first.history


def test_resume_refuses_other_model(tmp_path: Path) -> None:
    train(_config(epochs=1), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"holds model '_ckpt_tiny_bn'.*'_ckpt_other'"):
        train(_config(model="_ckpt_other"), tmp_path, resume=True, progress=False)


def test_resume_refuses_same_name_other_architecture(tmp_path: Path) -> None:
    train(_config(epochs=1), tmp_path, progress=False)
    wider = _config(model_kwargs={"width": 6})
    with pytest.raises(CheckpointError, match="another architecture"):
        train(wider, tmp_path, resume=True, progress=False, resume_override=True)


def test_atomic_save_leaves_valid_file_and_no_temp(tmp_path: Path) -> None:
    model = resode.create_model("_ckpt_tiny_bn")
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, config={"a": 1}, epoch=3)
    save_checkpoint(path, model, config={"a": 2}, epoch=4)  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    ckpt = resode.load_checkpoint(path)
    assert ckpt.payload["epoch"] == 4 and ckpt.config == {"a": 2}
    for key, value in model.state_dict().items():
        assert torch.equal(value, ckpt.model.state_dict()[key])


@pytest.mark.parametrize("key", ["format", "format_version", "resode_version", "state_dict"])
def test_extra_state_cannot_overwrite_the_format(tmp_path: Path, key: str) -> None:
    model = resode.create_model("_ckpt_tiny_bn")
    with pytest.raises(ValueError, match=key):
        save_checkpoint(tmp_path / "m.pt", model, **{key: 1})
    assert not (tmp_path / "m.pt").exists()


def test_failed_save_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = resode.create_model("_ckpt_tiny_bn")
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, epoch=1)
    before = path.read_bytes()
    real_save = torch.save

    def half_save(obj: object, fh: object) -> None:
        real_save(obj, fh)
        fh.truncate(100)  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    assert read_checkpoint(path)["epoch"] == 1


def test_pickled_object_is_refused(tmp_path: Path) -> None:
    model = resode.create_model("_ckpt_tiny_bn")
    good = tmp_path / "good.pt"
    save_checkpoint(good, model)
    payload = torch.load(good, weights_only=True)
    payload["extra"] = _Evil()
    bad = tmp_path / "evil.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match="refuses to load"):
        resode.load_checkpoint(bad)


@pytest.mark.parametrize("newer", [FORMAT_VERSION + 1, FORMAT_VERSION + 40])
def test_checkpoint_of_a_newer_format_is_refused(tmp_path: Path, newer: int) -> None:
    model = resode.create_model("_ckpt_tiny_bn")
    path = save_checkpoint(tmp_path / "m.pt", model)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = newer
    atomic_torch_save(payload, path)
    message = rf"format version {newer}, newer than this resode \(.+\) understands; upgrade resode"
    with pytest.raises(CheckpointError, match=message):
        resode.load_checkpoint(path)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)
    # this version and the unversioned first files are read
    for version in (FORMAT_VERSION, None):
        if version is None:
            del payload["format_version"]
        else:
            payload["format_version"] = version
        atomic_torch_save(payload, path)
        assert torch.equal(
            resode.load_checkpoint(path).model(torch.ones(1, 1, 8, 8)),
            model.eval()(torch.ones(1, 1, 8, 8)),
        )
    for bad in ("2", 1.5, -1, True):
        payload["format_version"] = bad
        atomic_torch_save(payload, path)
        with pytest.raises(CheckpointError, match="invalid format version"):
            read_checkpoint(path)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    model = resode.create_model("_ckpt_tiny_bn")
    path = tmp_path / "m.pt"
    save_checkpoint(path, model)
    data = path.read_bytes()
    for cut in (len(data) // 2, 10, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated or corrupt"):
            resode.load_checkpoint(path)


def test_training_resume_from_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    train(_config(epochs=1), tmp_path, progress=False)
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(_config(), tmp_path, resume=True, progress=False)


def test_weights_into_other_architecture_are_refused(tmp_path: Path) -> None:
    from resode.checkpoint import load_state_dict_checked

    path = tmp_path / "m.pt"
    save_checkpoint(path, resode.create_model("_ckpt_tiny_bn", width=4))
    payload = read_checkpoint(path)
    with pytest.raises(CheckpointError, match="another architecture"):
        load_state_dict_checked(
            resode.create_model("_ckpt_tiny_bn", width=6), payload["state_dict"], source=str(path)
        )
    with pytest.raises(CheckpointError, match="another architecture"):
        load_state_dict_checked(
            resode.create_model("_ckpt_other"), payload["state_dict"], source=str(path)
        )
