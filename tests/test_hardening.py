"""Issue 24: no silent failure and no traceback.

One regression test per defect of the issue (resume with a changed config, exit codes of failed
grids, NaN/inf and huge seeds, the train folder lock, untrusted run-folder JSON and checkpoint
payloads, OS errors, atomic reports, λ histories, Markdown escaping, ``--steps 0``), then a
structure-aware Hypothesis fuzzer that writes checkpoints, history files and YAML configs of every
shape and runs the real CLI on them: exit 0, or one ``resode: error:`` line with exit 2 (3 for
failed grid tasks), no traceback, no temporary or half-written file, and the user's own files
unchanged. Deterministic (``derandomize=True``) and bounded (``max_examples``, no deadline).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resode.cli import EXIT_FAILED_TASKS, EXIT_USAGE, main
from resode.errors import ResodeError, TasksFailedError

TINY = [
    "--epochs",
    "1",
    "--train-subset",
    "48",
    "--test-subset",
    "16",
    "--image-size",
    "8",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--no-progress",
]


def run_cli(argv: list[str], cwd: Path | None = None) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
    finally:
        os.chdir(old)
    return int(code or 0), out.getvalue(), err.getvalue()


def assert_one_line(code: int, err: str, expected: int = EXIT_USAGE) -> str:
    assert code == expected, (code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("resode") and ": error: " in lines[0], err
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 1-epoch run folder (inresnet20 on 8×8 digits)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    code, _, err = run_cli(["train", *TINY, "--out", str(out)])
    assert code == 0, err
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# --------------------------------------------------------------------------------------------
# 1. resume refuses a changed config


def test_resume_with_changed_lr_is_refused_and_nothing_changes(trained: Path) -> None:
    before = _digest(trained)
    code, _, err = run_cli(["train", *TINY, "--lr", "0.05", "--out", str(trained), "--resume"])
    line = assert_one_line(code, err)
    assert "(lr)" in line and "--resume-override" in line
    code, _, err = run_cli(["train", *TINY, "--epochs", "3", "--out", str(trained), "--resume"])
    assert "(epochs)" in assert_one_line(code, err)
    assert _digest(trained) == before  # config.yaml and last.pt untouched


def test_resume_override_is_explicit_and_recorded(trained: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    code, _, err = run_cli(
        [
            "train",
            *TINY,
            "--epochs",
            "2",
            "--lr",
            "0.05",
            "--out",
            str(run),
            "--resume",
            "--resume-override",
        ]
    )
    assert code == 0, err
    rows = json.loads((run / "resume_overrides.json").read_text())
    assert rows == [{"epochs": {"recorded": 1, "now": 2}, "lr": {"recorded": 0.1, "now": 0.05}}]
    assert yaml.safe_load((run / "config.yaml").read_text())["lr"] == 0.05
    code, _, err = run_cli(["train", *TINY, "--out", str(run), "--resume-override"])
    assert "--resume" in assert_one_line(code, err)


def test_resume_with_the_same_config_is_accepted(trained: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    code, _out, err = run_cli(["train", *TINY, "--out", str(run), "--resume"])
    assert code == 0, err
    assert not (run / "resume_overrides.json").exists()


def test_config_diff_names_dotted_keys() -> None:
    from resode.config import config_diff

    old = {"a": 1, "paper_a": {"epochs": 3, "seeds": [0]}, "x": None}
    new = {"a": 1, "paper_a": {"epochs": 5, "seeds": [0]}, "y": 2}
    assert config_diff(old, new) == ["paper_a.epochs", "x", "y"]
    assert config_diff(old, old) == []


def test_reproduce_resume_names_the_dotted_key(tmp_path: Path) -> None:
    from resode.presets import find_preset
    from resode.reproduce import ReproduceConfig
    from resode.reproduce.job import CONFIG_FILE, check_out_dir

    preset = find_preset("reproduce", "default")
    cfg = ReproduceConfig.from_dict({**preset.config, "preset": preset.name})
    cfg.to_yaml(tmp_path / CONFIG_FILE)
    check_out_dir(cfg, tmp_path, resume=True)  # same settings: fine
    epochs = cfg.paper_a.training.epochs
    training = {**cfg.paper_a.training.to_dict(), "epochs": epochs + 1}
    other = cfg.replace(paper_a={**cfg.paper_a.to_dict(), "training": training})
    with pytest.raises(ResodeError, match=r"\(paper_a\.training\.epochs\)"):
        check_out_dir(other, tmp_path, resume=True)
    assert not (tmp_path / "resume_overrides.json").exists()
    check_out_dir(other, tmp_path, resume=True, resume_override=True)  # explicit: recorded
    rows = json.loads((tmp_path / "resume_overrides.json").read_text())
    assert rows == [{"paper_a.training.epochs": {"recorded": epochs, "now": epochs + 1}}]


# --------------------------------------------------------------------------------------------
# 2. exit codes that tell


def test_reproduce_with_failed_tasks_exits_3_and_lists_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import resode.reproduce as rep
    from resode.reproduce.job import ReproduceResult

    def fake(config: Any, out: Any, **kw: Any) -> ReproduceResult:
        return ReproduceResult(tmp_path, {}, [], 1.0, {"a/seed0": "DataError: CIFAR-10 missing"})

    monkeypatch.setattr(rep, "run_reproduce", fake)
    code, out, err = run_cli(["reproduce", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == EXIT_FAILED_TASKS != EXIT_USAGE
    assert "[failed] a/seed0: DataError: CIFAR-10 missing" in out
    assert "1 task(s) failed" in err and "Traceback" not in err


def test_a_failed_ode_cell_is_exit_code_3() -> None:
    from resode.grid.task import TaskOutcome
    from resode.ode.experiments.common import record_of

    with pytest.raises(TasksFailedError, match="cell k failed: boom"):
        record_of(TaskOutcome("k", "failed", error="boom"))


def test_exit_codes_are_documented() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "## Exit codes" in readme
    for code in ("`0`", "`2`", "`3`", "`130`"):
        assert code in readme.split("## Exit codes")[1].split("\n## ")[0]
    code, out, _ = run_cli(["--help"])
    assert code == 0 and "exit codes" in out and "3 finished" in " ".join(out.split())


# --------------------------------------------------------------------------------------------
# 3. finite numbers, 64-bit seeds


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--lr", "nan"],
        ["train", "--lr", "inf"],
        ["train", "--weight-decay=-inf"],
        ["train", "--grad-clip", "nan"],
        ["train", "--seed", str(2**64)],
        ["train", "--seed", str(2**63)],
    ],
)
def test_nan_inf_and_huge_seeds_are_refused_before_any_work(argv: list[str], tmp_path: Path):
    code, _, err = run_cli([*argv, "--dump-config", str(tmp_path / "c.yaml")])
    line = assert_one_line(code, err)
    assert "finite" in line or "2**63" in line
    assert not (tmp_path / "c.yaml").exists()


@pytest.mark.parametrize("cmd", ["stability", "landscape"])
def test_analysis_seeds_and_radii_are_range_checked(cmd: str, trained: Path, tmp_path: Path):
    ckpt = str(trained / "last.pt")
    for opt in (["--seed", str(2**64)], ["--seed", "-1"]):
        code, _, err = run_cli([cmd, ckpt, "--out", str(tmp_path / "o"), *opt, "--no-progress"])
        assert_one_line(code, err)
    if cmd == "landscape":
        code, _, err = run_cli(
            [cmd, ckpt, "--out", str(tmp_path / "o"), "--input-radius", "nan", "--no-progress"]
        )
        assert "finite" in assert_one_line(code, err)
    assert not list(tmp_path.rglob("*.png"))


def test_finite_rule_covers_every_float_field_of_every_config() -> None:
    """One rule in ``config.py``: every float field of every registered config refuses NaN."""
    import dataclasses
    import typing

    from resode.analysis.landscape import LandscapeConfig
    from resode.analysis.stability import StabilityConfig
    from resode.config import ConfigError
    from resode.reproduce import ReproduceConfig
    from resode.robustness.config import RobustnessConfig
    from resode.training import TrainConfig

    checked = 0
    for cls in (TrainConfig, StabilityConfig, LandscapeConfig, RobustnessConfig, ReproduceConfig):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (float, float | None):
                for bad in (math.nan, math.inf, -math.inf):
                    with pytest.raises(ConfigError, match=f.name):
                        cls.from_dict({f.name: bad})
                checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------------------------
# 4. locks and unique folders


def test_train_refuses_a_folder_another_run_holds(tmp_path: Path) -> None:
    import fcntl

    from resode.grid.task import LOCK_FILE, folder_lock

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / LOCK_FILE, "a+") as fh:  # what another process's folder_lock holds
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        code, _, err = run_cli(["train", *TINY, "--out", str(out)])
    assert "another resode train is writing" in assert_one_line(code, err)
    assert not (out / "last.pt").exists()
    with folder_lock(out):  # a grid task training into its own folder: re-entrant
        code, _, err = run_cli(["train", *TINY, "--out", str(out)])
    assert code == 0, err


def test_default_reproduce_folders_are_unique_within_a_second(tmp_path: Path) -> None:
    from resode.reproduce.job import default_out_dir

    folders = [default_out_dir(tmp_path) for _ in range(3)]
    assert len(set(folders)) == 3 and all(p.is_dir() for p in folders)


# --------------------------------------------------------------------------------------------
# 5. nothing read from disk is trusted


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"digest": None},
        "text",
        {"result": {"y": 4.0}, "seconds": 1.0},  # no digest
        {"digest": "D", "seconds": 1.0},  # no result
        {"digest": "D", "result": None, "seconds": 1.0},
        {"digest": "D", "result": {"y": 4.0}},  # no seconds
        {"digest": "D", "result": {"y": 4.0}, "seconds": "1"},
    ],
)
def test_malformed_result_json_is_rerun_not_trusted(payload: Any, tmp_path: Path) -> None:
    from resode.grid import Task
    from resode.grid.task import RESULT_FILE, run_task

    task = Task("t", "resode.grid.testing:square", {"x": 3})
    text = json.dumps(payload).replace('"D"', json.dumps(task.digest()))
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / RESULT_FILE).write_text(text)
    outcome = run_task(task, tmp_path)
    assert outcome.ok and not outcome.reused and outcome.result == {"y": 9.0}


def test_record_class_from_a_file_is_never_imported(tmp_path: Path, monkeypatch) -> None:
    from resode.grid.task import TaskOutcome
    from resode.ode.experiments.common import record_of, record_registry

    (tmp_path / "evil_module_24.py").write_text("raise SystemExit('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    bad = TaskOutcome("k", "done", {"record_class": "evil_module_24:X", "record": {}})
    with pytest.raises(ResodeError, match="unknown record class"):
        record_of(bad)
    assert "evil_module_24" not in sys.modules
    for result in ([], {"record": {}}, {"record_class": 3, "record": {}}):
        with pytest.raises(ResodeError):
            record_of(TaskOutcome("k", "done", result))  # type: ignore[arg-type]
    registry = record_registry()
    assert registry and all(name.startswith("resode.ode.") for name in registry)


def _payload(trained: Path) -> dict[str, Any]:
    return torch.load(trained / "last.pt", weights_only=True)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("model"),
        lambda p: p.pop("state_dict"),
        lambda p: p["model"].__setitem__("kwargs", [1, 2]),
        lambda p: p["model"].__setitem__("kwargs", {"no_such_argument": 1}),
        lambda p: p["model"].__setitem__("name", 7),
        lambda p: p.__setitem__("config", "a string"),
        lambda p: p.__setitem__("state_dict", {"w": 1.0}),
    ],
    ids=["no-model", "no-state", "kwargs-list", "kwargs-unknown", "name-int", "config-str", "sd"],
)
def test_wrong_structure_checkpoints_are_one_line(mutate, trained: Path, tmp_path: Path) -> None:
    payload = _payload(trained)
    mutate(payload)
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    code, _, err = run_cli(["lambdas", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    assert_one_line(code, err)


# --------------------------------------------------------------------------------------------
# 6. OS errors and atomic reports


@pytest.mark.parametrize(
    ("err_no", "fix"),
    [
        (errno.ENOSPC, "no space left"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "permission denied"),
        (errno.EISDIR, "directory"),
    ],
)
def test_os_errors_are_one_line_naming_path_and_fix(err_no: int, fix: str, monkeypatch) -> None:
    import resode.cli.commands.train as train_cmd

    def boom(args: Any) -> int:
        raise OSError(err_no, os.strerror(err_no), "/some/where/report.html")

    monkeypatch.setattr(train_cmd, "run", boom)
    code, _, err = run_cli(["train"])
    line = assert_one_line(code, err)
    assert "/some/where/report.html" in line and fix in line


def test_dump_config_to_a_directory_is_one_line(tmp_path: Path) -> None:
    code, _, err = run_cli(["train", "--dump-config", str(tmp_path)])
    assert str(tmp_path) in assert_one_line(code, err)


def test_full_disk_leaves_the_old_report_whole(tmp_path: Path, monkeypatch) -> None:
    """A write that fails part-way (ENOSPC) keeps the previous report and leaves no temp file."""
    import resode.checkpoint as ck
    from resode.report import Report

    report = Report("t", out_dir=tmp_path)
    report.write("report")
    old = (tmp_path / "report.html").read_text()
    real = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck.os, "fsync", full)
    with pytest.raises(OSError) as info:
        report.write("report")
    monkeypatch.setattr(ck.os, "fsync", real)
    assert info.value.errno == errno.ENOSPC and info.value.filename.endswith("report.md")
    assert (tmp_path / "report.html").read_text() == old and old.rstrip().endswith("</html>")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_torch_unexpected_pos_is_named(tmp_path: Path) -> None:
    from resode.checkpoint import atomic_write_bytes

    def torch_full(fh: Any) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc] . unexpected pos 64 vs 0")

    with pytest.raises(ResodeError, match="no space left"):
        atomic_write_bytes(tmp_path / "last.pt", torch_full)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# 10, 11. λ histories, Markdown escaping, --steps 0


@pytest.mark.parametrize(
    "history",
    [
        [1.0, 2.0],
        ["row"],
        [{"epoch": "one"}],
        [{"epoch": 1, "lambdas": [0.1]}],
        [{"epoch": 1, "lambdas": {"b0": "x"}}],
        [{"epoch": 1, "lambdas": {"b0": [0.1, None]}}],
    ],
)
def test_lambdas_history_of_the_wrong_shape_is_one_line(history, trained: Path, tmp_path: Path):
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps(history))
    argv = ["lambdas", str(trained / "last.pt"), "--history", str(hist)]
    code, _, err = run_cli([*argv, "--out", str(tmp_path / "o"), "--no-progress"])
    assert "history row 0" in assert_one_line(code, err)


def test_labels_are_escaped_in_markdown(trained: Path, tmp_path: Path) -> None:
    label = "a|b <script>x</script>"
    argv = ["lambdas", str(trained / "last.pt"), "--labels", label, "--out", str(tmp_path / "o")]
    code, _, err = run_cli([*argv, "--no-progress"])
    assert code == 0, err
    md = (tmp_path / "o" / "lambdas.md").read_text()
    assert "<script>" not in md and "a\\|b &lt;script&gt;" in md


def test_nested_messages_name_the_key_once() -> None:
    from resode.config import ConfigError
    from resode.reproduce import ReproduceConfig

    with pytest.raises(ConfigError) as info:
        ReproduceConfig.from_dict({"paper_a": {"seeds": []}})
    assert str(info.value).startswith("paper_a.seeds") and "paper_a.paper_a" not in str(info.value)


def test_zero_attack_steps_are_refused() -> None:
    from resode.config import ConfigError
    from resode.robustness.config import RobustnessConfig

    with pytest.raises(ConfigError, match="steps = 0 must be >= 1"):
        RobustnessConfig.from_dict({"steps": 0})


# --------------------------------------------------------------------------------------------
# 7. the structure-aware fuzzer

WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([math.nan, math.inf, -math.inf, 2**64, -(2**70), 0, -1, 1e308]),
    st.text(alphabet="aλ|<>\x00 é🙂/", max_size=6),
    st.lists(st.integers(-3, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "name", "kwargs"]), st.integers(0, 2), max_size=2),
)


@st.composite
def checkpoint_payload(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """The real payload with a few keys (top level or under ``model``) dropped or confused."""
    payload = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "model", "config"]))
        target = payload if where == "top" else payload.get(where)
        if not isinstance(target, dict) or not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            target.pop(key)
        else:
            target[key] = draw(WEIRD)
    return payload


CONFIG_KEYS = ["lr", "epochs", "seed", "model", "dataset", "weight_decay", "grad_clip", "bogus"]


@st.composite
def yaml_config(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(WEIRD)  # not a mapping at all
    return draw(st.dictionaries(st.sampled_from(CONFIG_KEYS), WEIRD, max_size=3))


@st.composite
def history_rows(draw: st.DrawFn) -> Any:
    row = st.one_of(
        WEIRD,
        st.fixed_dictionaries(
            {"epoch": st.one_of(st.integers(0, 3), WEIRD)},
            optional={"lambdas": st.one_of(WEIRD, st.dictionaries(st.just("b0"), WEIRD))},
        ),
    )
    return draw(st.one_of(WEIRD, st.lists(row, max_size=3)))


@st.composite
def fuzz_case(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["checkpoint", "yaml", "history", "out"]))
    if kind == "checkpoint":
        return kind, draw(checkpoint_payload(FUZZ_BASE))
    if kind == "yaml":
        return kind, draw(yaml_config())
    if kind == "history":
        return kind, draw(history_rows())
    return kind, draw(st.sampled_from(["dir", "file", "inside-file", "readonly"]))


FUZZ_BASE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def fuzz_base(trained: Path) -> Path:
    FUZZ_BASE.clear()
    FUZZ_BASE.update(_payload(trained))
    return trained


def _json_safe(obj: Any) -> str:
    return json.dumps(obj, allow_nan=True)


@settings(
    max_examples=int(os.environ.get("RESODE_FUZZ_EXAMPLES", "30")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=fuzz_case())
def test_fuzzed_files_end_in_success_or_one_line(case, fuzz_base: Path, tmp_path_factory) -> None:
    kind, value = case
    work = tmp_path_factory.mktemp("fuzz")
    user = work / "user"  # what the user saved: must come out byte-identical
    user.mkdir()
    ckpt = str(fuzz_base / "last.pt")
    if kind == "checkpoint":
        torch.save(value, user / "c.pt")
        argv = ["lambdas", str(user / "c.pt"), "--out", str(work / "o")]
    elif kind == "yaml":
        (user / "c.yaml").write_text(yaml.safe_dump(value, allow_unicode=True))
        argv = ["train", "--config", str(user / "c.yaml"), "--dump-config", str(work / "d.yaml")]
    elif kind == "history":
        (user / "h.json").write_text(_json_safe(value))
        argv = ["lambdas", ckpt, "--history", str(user / "h.json"), "--out", str(work / "o")]
    else:
        (user / "f").write_text("keep me")
        target = {
            "dir": user,
            "file": user / "f",
            "inside-file": user / "f" / "x.yaml",
            "readonly": Path("/proc/resode-fuzz.yaml"),
        }[value]
        argv = ["train", "--dump-config", str(target)]
    before = _digest(user)
    code, _, err = run_cli([*argv, "--no-progress"] if argv[0] == "lambdas" else argv)
    assert "Traceback" not in err, (case, err)
    assert code in (0, EXIT_USAGE, EXIT_FAILED_TASKS), (case, code, err)
    if code != 0:
        assert_one_line(code, err, code)
    assert _digest(user) == before, case
    leftovers = [p for p in work.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, (case, leftovers)
    for p in work.rglob("*.json"):
        json.loads(p.read_text())  # every JSON written is whole
