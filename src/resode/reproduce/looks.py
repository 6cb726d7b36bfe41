"""Every judgement of a run is a *look*: recorded in ``RUN/looks.json``, read sequentially.

A look is one judging of paper A's claims on one set of training seeds. ``resode reproduce``
appends a look when the run's ``paper_a.seeds`` grew (``--resume --paper-a.seeds …``), replaces
the last one when the seeds are the same (the same data judged again is no new look), and
starts a new sequence when the measurement itself changed (an accepted ``--resume-override`` of
anything but the seeds: the earlier looks measured something else; they stay in the file,
marked, and out of the analysis). Per look: the seeds, n per group, and per claim its statistic
(:class:`resode.sequential.LookStat`) and sequential reading. Paper A's claims get their
headline from :func:`resode.sequential.read` over the looks of the current sequence (then
Holm); paper B's data are not extended by seeds, so they keep the fixed-n reading.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resode.analysis_plan import ALPHA, SEQUENTIAL
from resode.errors import ResodeError
from resode.sequential import Design, LookStat, read

LOOKS_FILE = "looks.json"
FORMAT = "resode.looks"
VERSION = 1
#: the parts whose claims are read sequentially (their data grow with paper_a.seeds)
SEQUENTIAL_PARTS = ("A",)


def claim_key(part: str, name: str, model: str | None) -> str:
    """One claim's key across looks: ``A/robust_auc/inresnet20``."""
    return f"{part}/{name}/{model or '-'}"


@dataclass
class LookClaim:
    """One claim at one look: its statistic, raw (fixed-n) and sequential findings."""

    key: str
    stat: LookStat
    raw_finding: str
    finding: str | None = None
    p_values: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            **self.stat.to_dict(),
            "raw_finding": self.raw_finding,
            "finding": self.finding,
            "sequential_p_values": None if self.p_values is None else list(self.p_values),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LookClaim:
        p = d.get("sequential_p_values")
        return cls(
            d["key"],
            LookStat.from_dict(d),
            d["raw_finding"],
            d.get("finding"),
            None if p is None else tuple(float(x) for x in p),
        )


@dataclass
class Look:
    """One look: the seeds judged, the measurement digest, the sequence it belongs to."""

    look: int
    seeds: list[int]
    measurement: str
    sequence: int
    date: str
    claims: list[LookClaim] = field(default_factory=list)

    def n_per_group(self) -> dict[str, list[int]]:
        return {c.key: list(c.stat.n_seeds) for c in self.claims}

    def to_dict(self) -> dict[str, Any]:
        return {
            "look": self.look,
            "seeds": self.seeds,
            "measurement": self.measurement,
            "sequence": self.sequence,
            "date": self.date,
            "claims": [c.to_dict() for c in self.claims],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Look:
        return cls(
            int(d["look"]),
            [int(s) for s in d["seeds"]],
            str(d["measurement"]),
            int(d["sequence"]),
            str(d["date"]),
            [LookClaim.from_dict(c) for c in d["claims"]],
        )


@dataclass
class Looks:
    """The looks of a run (oldest first) and the design they are read with."""

    design: Design
    looks: list[Look] = field(default_factory=list)

    @property
    def current(self) -> Look:
        return self.looks[-1]

    def sequence_looks(self) -> list[Look]:
        """The looks of the current sequence (same measurement as the last look)."""
        seq = self.current.sequence
        return [k for k in self.looks if k.sequence == seq]

    def to_dict(self) -> dict[str, Any]:
        d = self.design
        return {
            "format": FORMAT,
            "version": VERSION,
            "design": {"method": d.method, "n_max": d.n_max, "rho": d.rho, "alpha": ALPHA},
            "looks": [k.to_dict() for k in self.looks],
        }


def measurement_digest(cfg: Any) -> str:
    """Digest of everything that decides what a seed's cell measures: the config without
    ``paper_a.seeds`` and without where tasks run."""
    from resode.grid.options import ExecutorOptions

    d = cfg.to_dict()
    d["paper_a"] = {k: v for k, v in d["paper_a"].items() if k != "seeds"}
    for k in ExecutorOptions.field_names():
        if k != "threads":
            d.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load(out: Path, design: Design = SEQUENTIAL) -> Looks:
    """The run's looks (none yet: an empty record)."""
    path = Path(out) / LOOKS_FILE
    if not path.exists():
        return Looks(design, _from_results(Path(out)))
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return Looks(design, [Look.from_dict(k) for k in data["looks"]])
    except (ValueError, KeyError, TypeError) as e:
        raise ResodeError(
            f"{str(path)!r} is not a resode looks record ({e}); move it away to start the "
            "sequence again (its earlier looks are then not accounted for)"
        ) from e


def _from_results(out: Path) -> list[Look]:
    """The look a run judged before ``looks.json`` existed, rebuilt from its ``results.json``
    (its verdicts were written, so they may have been looked at); none without one."""
    from resode.reproduce.config import ReproduceConfig
    from resode.verdicts import Judgement

    path = out / "results.json"
    if not path.exists():
        return []
    try:
        res = json.loads(path.read_text())
        cfg = ReproduceConfig.from_dict(res["config"])
        fields = set(Judgement.__dataclass_fields__)
        claims = []
        for c in res["claims"]:
            j = Judgement.from_dict({k: v for k, v in c.items() if k in fields})
            # results.json's "verdict"/"finding" are the headline; the statistic is what counts
            raw = c.get("raw_finding", j.finding)  # "finding" is the headline's
            claims.append(
                LookClaim(claim_key(c["part"], j.claim, c.get("model")), LookStat.of(j), raw)
            )
    except (ValueError, KeyError, TypeError) as e:
        raise ResodeError(
            f"{str(path)!r} cannot be read as an earlier look ({e}); move it away or resume "
            "with the seeds it was made with"
        ) from e
    seeds = sorted(int(s) for s in cfg.paper_a.seeds)
    date = str(res.get("environment", {}).get("date", "before looks.json"))
    return [Look(1, seeds, measurement_digest(cfg), 1, date, claims)]


def add_look(looks: Looks, cfg: Any, claims: list[Any]) -> Look:
    """Append this judgement as a look, or replace the last one (same seeds, same measurement);
    a changed measurement starts a new sequence. ``claims``: raw ``ClaimResult`` s."""
    seeds = sorted(int(s) for s in cfg.paper_a.seeds)
    digest = measurement_digest(cfg)
    prev = looks.looks[-1] if looks.looks else None
    same = prev is not None and prev.measurement == digest
    if same and prev is not None and set(prev.seeds) == set(seeds):
        looks.looks.pop()
        number, sequence = prev.look, prev.sequence
    elif same and prev is not None and set(seeds) > set(prev.seeds):
        number, sequence = prev.look + 1, prev.sequence
    else:  # first look, or the measurement (or a non-superset of seeds) changed
        number = 1 if prev is None else prev.look + 1
        sequence = 1 if prev is None else prev.sequence + 1
    look = Look(
        number,
        seeds,
        digest,
        sequence,
        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        [
            LookClaim(
                claim_key(c.part, c.name, c.model), LookStat.of(c.judgement), c.judgement.finding
            )
            for c in claims
        ],
    )
    looks.looks.append(look)
    return look


def apply_sequential(looks: Looks, claims: list[Any], alpha: float = ALPHA) -> None:
    """Set ``claim.sequential`` (a :class:`resode.sequential.Reading`) on every paper-A claim
    from the looks of the current sequence; the Lyapunov claim reads as the component with the
    larger sequential p_for (intersection–union). Also stores the readings in the last look."""
    from resode import analysis_plan as plan

    seq = looks.sequence_looks()
    hist: dict[str, list[LookStat]] = {}
    for k in seq:
        for c in k.claims:
            hist.setdefault(c.key, []).append(c.stat)
    by_key = {c.key: c for c in looks.current.claims}
    for c in claims:
        if c.part not in SEQUENTIAL_PARTS or c.name == "lyapunov_stability":
            continue
        key = claim_key(c.part, c.name, c.model)
        j = c.judgement
        m_a = math.log(j.margin) if j.scale == "log" else j.margin
        ref = math.log(j.reference) if j.scale == "log" else j.reference
        c.sequential = read(j.direction, ref, m_a, hist[key], looks.design, alpha)
    for c in claims:
        if c.part in SEQUENTIAL_PARTS and c.name == "lyapunov_stability":
            parts = [
                o
                for o in claims
                if o.model == c.model
                and o.name in plan.LYAPUNOV_COMPONENTS
                and o.sequential is not None
            ]
            if parts:
                c.sequential = max(parts, key=lambda o: o.sequential.p_values[0]).sequential
    for c in claims:
        lc = by_key.get(claim_key(c.part, c.name, c.model))
        if lc is not None and c.sequential is not None:
            lc.finding, lc.p_values = c.sequential.finding, c.sequential.p_values


def write(out: Path, looks: Looks) -> Path:
    """``RUN/looks.json`` (atomic)."""
    from resode.report import write_json

    path = Path(out) / LOOKS_FILE
    write_json(path, looks.to_dict())
    return path


def look_sentence(looks: Looks) -> str:
    """What the report says about this look: its number, seeds, information and the design."""
    d = looks.design
    seq = looks.sequence_looks()
    hist = ", ".join(f"look {k.look}: seeds {_seeds(k.seeds)}" for k in seq)
    restarted = len(seq) < len(looks.looks)
    alpha1 = d.first_look_cost(len(seq[0].seeds), ALPHA)
    return (
        f"This is **look {len(seq)}** of this run's sequence ({hist}); "
        f"`looks.json` records every look. Paper A's verdicts are read with the pre-registered "
        f"sequential design ({d.method}; n_max = {d.n_max} seeds per group, ρ = {d.rho:g}), "
        f"so they stay valid however many times seeds are added and the verdicts looked at. "
        f"The first look ({len(seq[0].seeds)} seeds) is judged at a two-sided level "
        f"{alpha1:.3g} instead of {ALPHA:g}; the rest of α is kept for the extensions (so "
        "the MDE and seeds-to-detect columns, fixed-n figures, understate what an extension "
        "needs)."
        + (
            " Earlier looks under other settings (a --resume-override) are kept in `looks.json` "
            "but are not part of this sequence."
            if restarted
            else ""
        )
    )


def _seeds(seeds: list[int]) -> str:
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]}"
    return " ".join(map(str, seeds))


__all__ = [
    "LOOKS_FILE",
    "Look",
    "LookClaim",
    "Looks",
    "add_look",
    "apply_sequential",
    "claim_key",
    "load",
    "look_sentence",
    "measurement_digest",
    "write",
]
