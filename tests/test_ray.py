"""The ray engine on a real local Ray cluster (`ray start --head`): actors holding the project's vLLM engine on the
embedded model. The same plans as the in-process engine; a lost actor restarted or replaced; a killed driver
resumed with every plan id once; an unreachable cluster named."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from dualalign.alignment.config import AlignmentConfig, GateConfig, GroundingConfig
from dualalign.alignment.gate import QualityGate
from dualalign.alignment.plans import build_note_plans, read_plans
from dualalign.errors import EngineError
from dualalign.generate import EngineConfig, GenerationRequest, SamplingConfig, make_engine
from dualalign.generate.run import generate_plans
from dualalign.generate.server import free_port
from dualalign.io import read_jsonl
from dualalign.runfolder import GENERATIONS
from dualalign.trajectories import demo_profiles, load_pack, sample_trajectories
from dualalign.trajectories.config import TrajectoryConfig

CLI = [sys.executable, "-m", "dualalign.pipeline.cli"]


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # fault injection: `import ray` fails as where it is missing
    with pytest.raises(EngineError, match=r"needs Ray: pip install 'dualalign\[ray\]'"):
        make_engine(EngineConfig(kind="ray"))


def test_an_unreachable_cluster_is_named():
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(EngineError, match=f"no Ray cluster answers at {address}.*ray start --head"):
        make_engine(EngineConfig(kind="ray", address=address))


def actors(cluster) -> list[psutil.Process]:
    """The cluster's engine actors, by the process title Ray gives them."""
    found = []
    for process in psutil.Process(cluster.head.pid).children(recursive=True):
        try:
            if process.cmdline()[:1] and process.cmdline()[0].startswith("ray::EngineActor"):
                found.append(process)
        except psutil.NoSuchProcess:
            pass
    return found


def plans_and_gate(cfg: AlignmentConfig):
    pack = load_pack("alzheimers")
    profiles = demo_profiles(pack, 3, seed=0)
    plans = build_note_plans(profiles, sample_trajectories(profiles, TrajectoryConfig(), seed=0), pack, cfg, seed=0)
    return plans, lambda: QualityGate(pack, GroundingConfig(), cfg.gate)


@pytest.mark.slow
def test_a_run_through_ray_writes_what_the_in_process_engine_writes(tmp_path, vllm_engine, ray_cluster):
    cfg = AlignmentConfig(max_notes_per_patient=1, variants=["guided", "unguided"], gate=GateConfig(candidates=2))
    plans, gate = plans_and_gate(cfg)
    generate_plans(plans, vllm_engine, tmp_path / "local", gate(), cfg, SamplingConfig(), progress=False)
    # one replica with the driver's threads, batches as large as the in-process calls: the same vLLM calls
    config = EngineConfig(kind="ray", address=ray_cluster.address, num_cpus=2, batch_size=1024)
    with make_engine(config) as engine:
        assert engine.describe()["engine"]["kind"] == "vllm"
        generate_plans(plans, engine, tmp_path / "ray", gate(), cfg, SamplingConfig(), progress=False)
    local, remote = read_jsonl(tmp_path / "local" / GENERATIONS), read_jsonl(tmp_path / "ray" / GENERATIONS)
    assert sorted(r["id"] for r in remote) == sorted(r["id"] for r in local) == sorted(p.id for p in plans)
    assert {r["id"]: r["text"] for r in remote} == {r["id"]: r["text"] for r in local}


@pytest.mark.slow
def test_a_lost_actor_s_batches_go_to_the_others(ray_cluster):
    config = EngineConfig(kind="ray", address=ray_cluster.address, replicas=2, batch_size=4, max_restarts=0)
    requests = [GenerationRequest(id=f"r{i}", messages=[{"role": "user", "content": f"Say a fact about {i}."}],
                                  seed=i, sampling=SamplingConfig(max_tokens=24)) for i in range(24)]  # fmt: skip
    killed = []

    def kill_a_busy_actor(result) -> None:
        busy = [p for p in actors(ray_cluster) if p.cmdline()[0].startswith("ray::EngineActor.generate")]
        if busy and not killed:
            busy[0].kill()
            killed.append(busy[0].pid)

    with make_engine(config) as engine:
        results = engine.generate(requests, on_result=kill_a_busy_actor)
        assert killed and len(engine.actors) == 1  # no restarts allowed: the pool goes on with one actor
    assert [r.id for r in results] == [r.id for r in requests]
    assert all(r.ok and r.text.strip() for r in results)


def wait_for_lines(path, n: int, proc: subprocess.Popen, timeout_s: float = 300) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        lines = len(path.read_text().splitlines()) if path.exists() else 0
        if lines >= n:
            return lines
        time.sleep(0.2)
    pytest.fail(f"{path} did not reach {n} lines (driver exit code {proc.poll()})")


@pytest.mark.slow
def test_a_killed_actor_and_a_killed_driver_leave_every_plan_once(tmp_path, ray_cluster):
    config = {
        "seed": 5, "out_dir": str(tmp_path / "run"), "cohort": {"n_profiles": 4, "spec_rows": 1000},
        "alignment": {"max_notes_per_patient": 1, "variants": ["guided", "unguided"], "chunk_size": 4,
                      "gate": {"candidates": 1, "rounds": 0}},
        "engine": {"kind": "ray", "batch_size": 4},  # the address comes from --ray
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    stages = subprocess.run([*CLI, "run", str(tmp_path / "config.yaml"), "--stages", "cohort,trajectories,plans"],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert stages.returncode == 0, stages.stderr[-2000:]
    plans = read_plans(tmp_path / "run" / "plans.jsonl")
    generations = tmp_path / "run" / GENERATIONS
    nowhere = f"127.0.0.1:{free_port()}"
    refused = subprocess.run([*CLI, "generate", str(tmp_path / "run"), "--ray", nowhere], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2 and f"no Ray cluster answers at {nowhere}" in refused.stdout + refused.stderr
    command = [*CLI, "generate", str(tmp_path / "run"), "--ray", ray_cluster.address]

    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    written = wait_for_lines(generations, 4, driver)
    [actor] = actors(ray_cluster)
    actor.kill()  # SIGKILL: Ray restarts the actor (a new model load) and retries its batch
    wait_for_lines(generations, written + 4, driver)
    assert [p.pid for p in actors(ray_cluster)] != [actor.pid]
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    assert len(read_jsonl(generations)) < len(plans)

    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    ids = [r["id"] for r in read_jsonl(generations)]
    assert len(ids) == len(set(ids)) == len(plans)
    assert set(ids) == {p.id for p in plans}
