"""Command-line arguments shared by the commands that analyse checkpoints."""

from __future__ import annotations

import argparse
from typing import Any


def add_checkpoint_arguments(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """CKPT positional arguments, --out, --labels and (if ``data``) where the images come from."""
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT", help="resode checkpoint(s)")
    parser.add_argument("--out", required=True, help="output folder (created; never overwritten)")
    parser.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="names of the models in plots (one per CKPT)"
    )
    if data:
        parser.add_argument(
            "--dataset", help="test data set (default: the data set of each checkpoint's config)"
        )
        parser.add_argument("--data-root", help="data folder (default: from the checkpoint)")
        parser.add_argument(
            "--image-size", type=int, help="resize images (default: the checkpoint's; >= 4)"
        )
        parser.add_argument(
            "--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps"
        )
    add_progress_argument(parser)


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress bars (default: on)",
    )


def data_options(args: argparse.Namespace) -> Any:
    """The :class:`resode.analysis.run.DataOptions` of the parsed arguments."""
    from resode.analysis.run import DataOptions

    return DataOptions(
        dataset=args.dataset,
        data_root=args.data_root,
        image_size=args.image_size,
        device=args.device,
        labels=args.labels,
    )
