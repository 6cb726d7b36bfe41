"""A machine's numerical fingerprint: one digest of a tiny end-to-end computation.

``resode fingerprint`` trains In-ResNet-20 for three epochs on 512 digits images, attacks 64 test
images with PGD-10 at ε = 8/255, and runs 300 iterations of paper B's depth-scaled GD at L = 64
(the long-time experiment's network), all on one CPU thread under the kernel policy of
:mod:`resode.kernels`. Each part is hashed (SHA-256 of the bytes of the weights, the adversarial
images and predictions, the GD loss curve and final weights); the fingerprint is the hash of the
three. Two machines with the same fingerprint compute the same bits for these kernels, so the
README's numbers (recorded with the fingerprint of the machine that made them) are what
``make demo`` prints on a machine that shows the same digest.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

DIGEST_CHARS = 16


@dataclass
class Fingerprint:
    """The digest, one digest per part, a few of the numbers behind them, and the environment."""

    digest: str
    parts: dict[str, str]
    numbers: dict[str, float]
    gd_backend: str
    seconds: float
    environment: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fingerprint:
        """Inverse of :meth:`to_dict` (a worker's ``result.json``)."""
        return cls(
            str(d["digest"]),
            {str(k): str(v) for k, v in d["parts"].items()},
            {str(k): float(v) for k, v in d["numbers"].items()},
            str(d["gd_backend"]),
            float(d["seconds"]),
            dict(d["environment"]),
        )

    def summary(self) -> str:
        """The lines ``resode fingerprint`` prints."""
        env, k = self.environment, self.environment["kernels"]
        flags = " ".join(f for f in env["cpu_flags"] if f.startswith(("avx", "fma", "amx")))
        policy = k["policy"] + ("" if k["comparable"] else f" (NOT comparable: {k['reason']})")
        return "\n".join(
            [
                f"fingerprint {self.digest}",
                "  " + "  ".join(f"{name} {d}" for name, d in self.parts.items()),
                f"  kernel policy: {policy}",
                f"  CPU: {env['cpu']} [{flags}]",
                f"  python {env['python']}, torch {env['torch']}, numpy {env['numpy']}, numba "
                f"{env['numba'] or '-'} (GD backend {self.gd_backend}), resode {env['resode']}",
                f"  {self.seconds:.1f} s",
            ]
        )


def _hash(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        arr = a.detach().cpu().contiguous().numpy() if isinstance(a, torch.Tensor) else a
        arr = np.ascontiguousarray(arr)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:DIGEST_CHARS]


def _train_and_attack() -> tuple[dict[str, str], dict[str, float]]:
    from resode.attacks import make_attack
    from resode.presets import get_preset
    from resode.training import TrainConfig, train
    from resode.training.engine import load_datasets

    base = get_preset("digits", kind="train")
    over = dict(epochs=3, train_subset=512, test_subset=64, threads=1, device="cpu", seed=0)
    config = TrainConfig.from_dict({**base.to_dict(), **over})
    with tempfile.TemporaryDirectory(prefix="resode-fingerprint-") as tmp:
        result = train(config, tmp, progress=False)
    model = result.model.eval()
    weights = [v for _, v in sorted(model.state_dict().items())]
    _, test = load_datasets(config)
    x, y = test.images[:64], test.labels[:64]
    attack = make_attack("pgd", model, eps=8 / 255, steps=10, alpha=2 / 255, seed=0)
    adv = attack(x, y)
    with torch.no_grad():
        clean_pred = model(x).argmax(1)
        adv_pred = model(adv).argmax(1)
    parts = {"train": _hash(*weights), "attack": _hash(adv, adv_pred)}
    numbers = {
        "train_loss": float(result.history[-1]["train_loss"]),
        "clean_accuracy": float((clean_pred == y).float().mean()),
        "pgd_accuracy": float((adv_pred == y).float().mean()),
    }
    return parts, numbers


def _gd() -> tuple[str, float, str]:
    from resode.ode.experiments.long_time import LongTimeConfig, train_network

    config = LongTimeConfig(iterations=300, depth=64)
    model, res = train_network(
        config,
        init=config.init,
        n=config.n,
        width=config.m,
        depth=config.depth,
        lr=config.lr,
        iterations=config.iterations,
        seed=0,
        n_seeds=1,
    )
    loss = np.asarray(res.history["loss"])  # (T + 1, 1): one seed
    params = [p for _, p in sorted(model.state_dict().items())]
    return _hash(loss, *params), float(loss[-1, 0]), res.backend


def compute_fingerprint() -> Fingerprint:
    """Run the three parts on one thread and hash them (about 10 s on one core)."""
    from resode.runtime import environment, torch_threads

    t0 = time.perf_counter()
    with torch_threads(1):
        parts, numbers = _train_and_attack()
        parts["gd"], numbers["gd_final_loss"], backend = _gd()
    digest = hashlib.sha256(
        "".join(f"{k}={v};" for k, v in sorted(parts.items())).encode()
    ).hexdigest()[:DIGEST_CHARS]
    return Fingerprint(
        digest, parts, numbers, backend, time.perf_counter() - t0, environment(device="cpu")
    )


def fingerprint_task(params: dict[str, Any], folder: Any) -> dict[str, Any]:
    """Grid entry point (``resode reproduce`` records the fingerprint of the machine it ran on)."""
    return compute_fingerprint().to_dict()


__all__ = ["Fingerprint", "compute_fingerprint", "fingerprint_task"]
