"""Generation on Ray against the in-process engine, one run: the same plans' requests through three paths.

    python benchmarks/ray_generation.py [--patients 8] [--cpus 2]

Paths: the project's in-process `vllm` engine; the `ray` engine on a local cluster (`ray.init(num_cpus=...)`)
with one replica holding all the CPUs and the same batches as the in-process call; and two replicas sharing
them. Each path loads its engines, warms up on a few requests, then runs every request once. Prints a Markdown
table of tokens/s, each path's ratio to the in-process engine (target for one replica: >= 0.9x) and the time to
start the actors (one model load each, paid once per engine, not per call).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # per engine; the Ray actors inherit it

from dualalign.alignment.config import AlignmentConfig  # noqa: E402
from dualalign.alignment.plans import build_note_plans  # noqa: E402
from dualalign.generate import EngineConfig, GenerationRequest, make_engine  # noqa: E402
from dualalign.generate.candidates import plan_request  # noqa: E402
from dualalign.generate.sampling import SamplingConfig  # noqa: E402
from dualalign.hardware import machine_header  # noqa: E402
from dualalign.trajectories import demo_profiles, load_pack, sample_trajectories  # noqa: E402
from dualalign.trajectories.config import TrajectoryConfig  # noqa: E402

MODEL = "embedded:smollm2-135m-instruct"


def build_requests(patients: int) -> list[GenerationRequest]:
    """One request per sentence plan of each patient's latest note, four variants."""
    pack = load_pack("alzheimers")
    profiles = demo_profiles(pack, patients, seed=0)
    trajectories = sample_trajectories(profiles, TrajectoryConfig(), seed=0)
    plans = build_note_plans(profiles, trajectories, pack, AlignmentConfig(max_notes_per_patient=1), seed=0)
    return [plan_request(p, SamplingConfig()) for p in plans]


def run(engine, requests: list[GenerationRequest]) -> tuple[float, int, int]:
    """Seconds, completion and prompt tokens of one call over every request (after a warm-up on four)."""
    engine.generate(requests[:4])
    start = time.perf_counter()
    results = engine.generate(requests)
    seconds = time.perf_counter() - start
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    return seconds, sum(r.completion_tokens for r in results), sum(r.prompt_tokens for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()
    requests = build_requests(args.patients)
    rows: dict[str, tuple[float | None, float, int]] = {}

    with make_engine(EngineConfig(kind="vllm", model=MODEL)) as engine:
        seconds, tokens, prompt_tokens = run(engine, requests)
        rows["vllm in-process"] = (None, seconds, tokens)
        header = machine_header(engine.dtype)

    import ray

    ray.init(address="local", num_cpus=args.cpus, object_store_memory=300 * 2**20, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    try:
        for replicas in (1, 2):
            start = time.perf_counter()
            config = EngineConfig(kind="ray", model=MODEL, replicas=replicas, num_cpus=args.cpus / replicas,
                                  batch_size=len(requests))  # fmt: skip
            with make_engine(config) as engine:
                started = time.perf_counter() - start
                seconds, tokens, _ = run(engine, requests)
            rows[f"ray, {replicas} replica{'s' if replicas > 1 else ''} x {args.cpus // replicas} CPU"] = (
                started, seconds, tokens)  # fmt: skip
    finally:
        ray.shutdown()

    rate = {label: tokens / seconds for label, (_, seconds, tokens) in rows.items()}
    base = rate["vllm in-process"]
    print(f"\n{header}")
    print(f"{len(requests)} sentence requests ({args.patients} patients' latest notes, 4 variants), model {MODEL}; "
          f"{prompt_tokens / len(requests):.0f} prompt and {rows['vllm in-process'][2] / len(requests):.0f} "
          f"completion tokens per request\n")  # fmt: skip
    print("| path | actors started (s) | seconds | tokens | tokens/s | vs in-process |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, (started, seconds, tokens) in rows.items():
        load = "-" if started is None else f"{started:.1f}"
        print(f"| {label} | {load} | {seconds:.1f} | {tokens} | {rate[label]:.1f} | {rate[label] / base:.2f}x |")
    one = next(label for label in rows if label.startswith("ray, 1 replica"))
    print(f"\nRay with one replica / in-process engine: {rate[one] / base:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
