"""Small helpers shared by the torch classifiers: device choice, seeded batching, progress."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


def pick_device(device: str | None) -> str:
    """`device` as given, else "cuda" when a GPU is visible, else "cpu"."""
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


@contextmanager
def seeded_torch(seed: int, device: str) -> Iterator[None]:
    """Seed torch's generators (CPU and `device`'s GPU) for the block, then restore them: no state leaks out.

    Weight initialisation and dropout draw from torch's default generators and take no local one.
    """
    import torch

    gpus = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        yield


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Indices 0..n-1 in a seeded random order, cut into batches."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def progress(description: str, total: int):
    """A transient rich progress bar; use as `with progress(...) as (bar, task):`."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[status]}"), transient=True)
    return _BarContext(bar, description, total)


class _BarContext:
    def __init__(self, bar, description: str, total: int):
        self.bar, self.description, self.total = bar, description, total

    def __enter__(self):
        self.bar.__enter__()
        task = self.bar.add_task(self.description, total=self.total, status="")
        return self.bar, task

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)
