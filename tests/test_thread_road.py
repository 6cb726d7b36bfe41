"""The thread road: ``--threads`` of ``resode reproduce`` reaches the paper-B GD cells (it was
silently replaced by ``train_gd``'s own default of 1), and the default stays one thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resode.grid import run_task
from resode.reproduce import get_preset
from resode.reproduce import paper_b as pb


@pytest.mark.parametrize("threads", [1, 2])
def test_paper_b_cells_run_with_the_jobs_thread_count(tmp_path: Path, monkeypatch, threads):
    import resode.ode.train as train_mod

    seen: list[tuple[int | None, int]] = []
    real = train_mod.train_gd

    def spy(*args, **kwargs):
        seen.append((kwargs.get("threads", 1), torch.get_num_threads()))
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "train_gd", spy)
    cfg = get_preset("tiny", threads=threads)
    (task,) = [t for t in pb.tasks(cfg, tmp_path) if "depth_sweep_tied" in t.key][:1]
    assert task.threads == threads
    before = torch.get_num_threads()
    assert run_task(task, tmp_path).ok
    assert seen and all(arg is None and inside == threads for arg, inside in seen)
    assert torch.get_num_threads() == before  # the task restores the caller's count
