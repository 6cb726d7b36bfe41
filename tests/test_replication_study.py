"""benchmarks/replication/run.py: the counts the replication table reports."""

from __future__ import annotations

import pytest

from conftest import script_module


@pytest.fixture(scope="module")
def study():
    with script_module("benchmarks/replication/run.py", "replication_run") as module:
        yield module


def test_agreement_flips_and_reversals_are_counted_as_defined(study):
    sets = [
        {"a": "reproduced", "b": "inconclusive", "c": "contradicted"},
        {"a": "reproduced", "b": "inconclusive", "c": "inconclusive"},
        {"a": "reproduced", "b": "contradicted", "c": "reproduced"},
    ]
    c = study.compare(sets)
    assert (c.agree, c.rows) == (1, 3)  # only row a is the same everywhere
    # pairs (0,1), (0,2), (1,2): a 3/3; b 1/3 (sets 0, 1); c 0/3
    assert (c.pairs_agree, c.pairs) == (4, 9)
    # ordered pairs with a confident first verdict that changes: b: (2→0), (2→1);
    # c: (0→1), (0→2), (2→0), (2→1)
    assert c.flips == 6
    assert c.reversals == 1  # row c: contradicted in set 0, reproduced in set 2


def test_identical_sets_agree_fully(study):
    same = {"a": "contradicted", "b": "inconclusive"}
    c = study.compare([same, dict(same), dict(same)])
    assert (c.agree, c.pairs_agree, c.flips, c.reversals) == (2, 6, 0, 0)


def test_random_partitions_average_the_comparisons_of_disjoint_sets(study, monkeypatch):
    seen = []

    def judge(res, seeds):  # the row is contradicted only in the set holding seed 0
        seen.append(seeds)
        verdict = "contradicted" if 0 in seeds else "inconclusive"
        return {("x", ""): study.SetVerdict(verdict, "", "", "")}

    monkeypatch.setattr(study, "judge_set", judge)
    p = study.random_partitions({}, [0, 1, 2, 3], size=2, partitions=5, seed=0)
    assert (p.partitions, p.sets, p.set_size) == (5, 2, 2)
    assert all(len(s) == 2 for s in seen) and len(seen) == 10
    for i in range(0, 10, 2):  # each partition: two disjoint sets covering every seed
        assert sorted(seen[i] + seen[i + 1]) == [0, 1, 2, 3]
    assert p.mean_rows_agreeing == 0.0 and p.mean_flips == 1.0
    assert p.p_target == 0.0 and p.p_no_reversal == 1.0
    monkeypatch.setattr(
        study, "judge_set", lambda res, seeds: {("x", ""): study.SetVerdict("reproduced", *"   ")}
    )
    q = study.random_partitions({}, [0, 1, 2, 3], size=2, partitions=3, seed=0)
    assert q.mean_rows_agreeing == 1.0 and q.p_target == 1.0 and q.mean_flips == 0.0
