"""Property-based runs of the real commands: any argument list ends in exit code 0, or in exactly
one line ``… error: …`` on stderr with exit code 2 — never a traceback — and nothing half-written.

Nothing is stubbed. Every example runs a real command on tiny inputs: a small checkpoint trained
once for the module, a checkpoint of another data set and size (mixed-up inputs), corrupt and
text files named ``.pt``, and output paths of every kind (new folder, existing file, a folder
inside a file, a folder that cannot be created, a folder holding a finished run). Each command
gets cheap base arguments first; hypothesis then draws options from the command's own parser with
values from pools of edge cases (argparse keeps the last value, so drawn values override the
base). After a failure every file the command left must be complete (it parses) and no temporary
file may remain.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resode.cli import build_parser, main

NUMBERS = ["-1", "0", "1", "2", "3", "-0.5", "2.5", "1e-3", "nan", "inf", "abc", ""]
PIXELS = ["8/255", "1/0", "-1/255", "0.5", "2", "x/255"]
STRINGS = ["", "bogus", "-1", "cifar10", "digits", "resnet20", "0"]

ROOT = Path(tempfile.mkdtemp(prefix="resode-fuzz-"))


def _checkpoint(out: Path, **over: object) -> str:
    from resode.training import get_preset, train

    cfg = get_preset(
        "digits", epochs=1, train_subset=48, test_subset=16, threads=1, device="cpu", **over
    )
    return str(train(cfg, out, progress=False).checkpoint_path)


def _assets() -> dict[str, object]:
    ckpt = _checkpoint(ROOT / "ckpt", model="resnet20", image_size=8)
    other = _checkpoint(ROOT / "other", model="inresnet20", image_size=12)
    corrupt = ROOT / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint")
    text = ROOT / "text.pt"
    text.write_text("resode checkpoint\n")
    afile = ROOT / "a-file"
    afile.write_text("x")
    done = ROOT / "done"  # a folder holding every command's finished outputs
    done.mkdir()
    for name in ("results.json", "stability.json", "landscape.json", "lambdas.json"):
        (done / name).write_text("{}")
    shutil.copy(ckpt, done / "last.pt")
    return {
        "ckpts": [ckpt, other, str(corrupt), str(text), str(ROOT / "missing.pt")],
        "outs": [
            "new-out",
            str(afile),
            str(afile / "inside"),
            "/proc/resode-cannot-create",
            str(done),
        ],
    }


ASSETS = _assets()
CKPT = ASSETS["ckpts"][0]  # type: ignore[index]

# cheap base arguments per command (the drawn options come after and override them)
BASE: dict[tuple[str, ...], list[str]] = {
    ("train",): [
        "--preset",
        "digits",
        "--epochs",
        "1",
        "--train-subset",
        "32",
        "--test-subset",
        "16",
        "--image-size",
        "8",
        "--threads",
        "1",
    ],
    ("robustness",): [
        CKPT,
        "--n-samples",
        "8",
        "--steps",
        "1",
        "--severities",
        "1",
        "--corruptions",
        "gaussian",
        "--eps",
        "8/255",
        "--threads",
        "1",
    ],
    ("stability",): [CKPT, "--n-samples", "4", "--power-iters", "2"],
    ("landscape",): [CKPT, "--n-samples", "4", "--grid", "3", "--space", "input"],
    ("lambdas",): [CKPT],
    ("reproduce",): [
        "--preset",
        "tiny",
        "--executor",
        "serial",
        "--no-paper-a.enabled",
        "--paper-b.depth-sweep.iterations",
        "2",
        "--paper-b.long-time.iterations",
        "20",
        "--paper-b.depth-sweep.depths",
        "2",
        "4",
        "--paper-b.weights.depth",
        "4",
    ],
    ("ode", "depth-sweep"): [
        "--preset",
        "short",
        "--iterations",
        "2",
        "--depths",
        "2",
        "4",
        "--reference-depth",
        "0",
        "--no-ode-check",
        "--seeds",
        "2",
    ],
    ("ode", "long-time"): ["--preset", "short", "--iterations", "20", "--depth", "4"],
    ("ode", "weights"): ["--preset", "short", "--iterations", "2", "--depth", "4"],
    ("ode", "relu-counterexample"): ["--iterations", "3", "--depths", "2", "4"],
    ("ode", "cifar"): [
        "--preset",
        "short",
        "--epochs",
        "1",
        "--train-subset",
        "16",
        "--test-subset",
        "8",
        "--depth",
        "4",
        "--activations",
        "gelu",
        "--inits",
        "tied",
    ],
}


def _leaves() -> list[tuple[list[str], argparse.ArgumentParser]]:
    def walk(prefix: list[str], parser: argparse.ArgumentParser) -> list:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return [(prefix, parser)]
        return [leaf for n, p in subs[0].choices.items() for leaf in walk([*prefix, n], p)]

    return walk([], build_parser())


LEAVES = _leaves()


def _pool(action: argparse.Action) -> list[str]:
    if "out" in action.dest:
        return list(ASSETS["outs"])  # type: ignore[arg-type]
    if any(k in action.dest for k in ("eps", "radius", "alpha", "noise_std")):
        return PIXELS + NUMBERS[:4]
    if action.dest in ("config", "surrogate", "history"):
        return [*ASSETS["ckpts"], str(ROOT / "a-file")]  # type: ignore[list-item]
    pool = list(NUMBERS) if action.type in (int, float) else list(STRINGS)
    if action.choices:
        pool += [str(c) for c in action.choices] + ["not-a-choice"]
    return pool


@st.composite
def argv_for_a_command(draw: st.DrawFn) -> list[str]:
    prefix, parser = draw(st.sampled_from(LEAVES))
    argv = [*prefix, *BASE.get(tuple(prefix), [])]
    positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    for action in positionals:  # checkpoints: the good one, a mix, or bad ones
        if action.dest == "checkpoints":
            k = draw(st.integers(1, 2))
            argv[len(prefix) : len(prefix) + 1] = draw(
                st.lists(st.sampled_from(ASSETS["ckpts"]), min_size=k, max_size=k)  # type: ignore[arg-type]
            )
    options = [
        a
        for a in parser._actions
        if a.option_strings and a.dest not in ("help", "progress", "download", "workers")
    ]
    for action in draw(st.lists(st.sampled_from(options), max_size=3, unique_by=id)):
        argv.append(draw(st.sampled_from(action.option_strings)))
        if action.nargs != 0:
            n = draw(st.integers(1, 2)) if action.nargs in ("+", "*") else 1
            argv += [draw(st.sampled_from(_pool(action))) for _ in range(n)]
    if any(a.dest == "out" for a in parser._actions) and "--out" not in argv:
        argv += ["--out", draw(st.sampled_from(ASSETS["outs"]))]  # type: ignore[arg-type]
    if any(a.dest == "progress" for a in parser._actions):
        argv.append("--no-progress")  # stderr must hold the error line alone
    return argv


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def _complete(path: Path) -> bool:
    """The file parses as what its suffix says (a half-written file does not)."""
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix in (".yaml", ".yml"):
            yaml.safe_load(path.read_text())
        elif path.suffix == ".pt":
            from resode.checkpoint import read_checkpoint

            read_checkpoint(path)
        elif path.suffix == ".png":
            return path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 100
    except Exception:
        return False
    return not path.name.endswith(".tmp")


@settings(
    max_examples=int(os.environ.get("RESODE_FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(argv=argv_for_a_command())
def test_real_commands_end_in_success_or_one_line(argv: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT))
    before = _files(ROOT)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(work)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code
    finally:
        os.chdir(cwd)
    message = err.getvalue()
    assert "Traceback" not in message, (argv, message)
    assert code in (0, None, 2, 3), (argv, code, message)  # 3: a grid finished with failed tasks
    new = _files(ROOT) - before
    if code in (2, 3):
        lines = message.strip().splitlines()
        assert len(lines) == 1 and ": error: " in lines[0], (argv, message)
        assert lines[0].startswith("resode"), (argv, message)
        broken = [p for p in new if not _complete(p)]
        assert not broken, (argv, message, broken)
    shutil.rmtree(work, ignore_errors=True)


def test_the_assets_cover_what_the_property_needs() -> None:
    """The good checkpoint runs through an analysis command; each bad input is refused."""
    base = ["--n-samples", "4", "--power-iters", "2", "--no-progress"]
    assert main(["stability", CKPT, "--out", str(ROOT / "ok"), *base]) == 0
    for bad in ASSETS["ckpts"][2:]:  # type: ignore[index]
        assert main(["stability", bad, "--out", str(ROOT / "bad"), *base]) == 2
    # mixed-up checkpoints: trained on 8×8 and on 12×12 images
    assert main(["stability", CKPT, ASSETS["ckpts"][1], "--out", str(ROOT / "mix"), *base]) == 2  # type: ignore[index]
    for out in ASSETS["outs"][1:]:  # type: ignore[index]
        assert main(["stability", CKPT, "--out", out, *base]) == 2, out
    for size in ("0", "2"):
        assert (
            main(["stability", CKPT, "--out", str(ROOT / f"s{size}"), *base, "--image-size", size])
            == 2
        )
