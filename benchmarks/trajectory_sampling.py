"""Trajectory sampling speed: patients -> notes with planned mentions, from the Alzheimer's pack's model.

    python benchmarks/trajectory_sampling.py [--sizes 1000 10000] [--repeats 3]

Prints one row per setting: the best wall time of the repeats for sampling, and for writing the parquet file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dualalign.trajectories import load_pack
from dualalign.trajectories.profiles import demo_profiles
from dualalign.trajectories.sample import sample_from_model
from dualalign.trajectories.stage import write_trajectories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--multipliers", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pack = load_pack("alzheimers")
    header = ("patients", 9), ("mult", 5), ("notes", 9), ("mentions", 10), ("sample s", 9), ("notes/s", 10), \
        ("parquet s", 10)
    print(" ".join(f"{name:>{width}}" for name, width in header))
    for n in args.sizes:
        profiles = demo_profiles(pack, n, seed=0)
        for mult in args.multipliers:
            best, best_write = float("inf"), float("inf")
            for r in range(args.repeats):
                start = time.perf_counter()
                notes = sample_from_model(profiles, pack, mention_multiplier=mult, seed=r).notes
                best = min(best, time.perf_counter() - start)
                with tempfile.TemporaryDirectory() as tmp:
                    start = time.perf_counter()
                    write_trajectories(Path(tmp) / "trajectories.parquet", notes)
                    best_write = min(best_write, time.perf_counter() - start)
            mentions = int(notes["mentions"].map(len).sum())
            print(f"{n:>9} {mult:>5g} {len(notes):>9} {mentions:>10} {best:>9.2f} {len(notes) / best:>10.0f} "
                  f"{best_write:>10.2f}")


if __name__ == "__main__":
    main()
