"""Multi-worker training: two processes on loopback with MultiWorkerMirroredStrategy.

Each worker (tests/multiworker_worker.py) gets its own TF_CONFIG, trains the same tiny
GAN with `fit` and saves its weights; a third process trains on one device, on the same
global batches. The workers must end identical (trainable weights, BatchNorm moving
statistics and optimizer state alike), and equal to the one-device run up to float
rounding: the noise is drawn replica-consistently and BatchNorm is synchronized, so a
step on 2 workers is the same update as on one device.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 180  # seconds for all three processes; the machine may be shared and busy
STEPS, BATCH = 3, 64


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _env(tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _run_all(jobs, tmp_path):
    """Start every (name, env, args) job, wait for all; kill all on a failure or timeout."""
    procs = {}
    for name, env, args in jobs:
        log = open(tmp_path / f"{name}.log", "w")
        procs[name] = (
            subprocess.Popen(
                [sys.executable, "-m", "tests.multiworker_worker", *args],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            ),
            log,
        )
    deadline = time.monotonic() + TIMEOUT
    failure = None
    try:
        while failure is None:
            codes = {n: p.poll() for n, (p, _) in procs.items()}
            failed = [n for n, code in codes.items() if code not in (None, 0)]
            if failed:
                failure = f"{failed[0]} exited with {codes[failed[0]]}"
            elif all(code == 0 for code in codes.values()):
                break
            elif time.monotonic() > deadline:
                failure = f"timed out after {TIMEOUT} s"
            else:
                time.sleep(0.5)
    finally:
        for p, log in procs.values():
            if p.poll() is None:
                p.kill()  # a worker whose peer died waits on its collectives forever
            p.wait()
            log.close()
    if failure:
        logs = "\n".join(
            f"--- {n}:\n" + (tmp_path / f"{n}.log").read_text()[-2000:] for n in procs
        )
        pytest.fail(f"{failure}\n{logs}")


def _results(path):
    """(weights by "index path", optimizer variables in order, history, replicas)."""
    data = np.load(path)
    names = [f"{i} {name}" for i, name in enumerate(data["weight_names"])]
    weights = {name: data[f"weight_{i}"] for i, name in enumerate(names)}
    count = sum(k.startswith("optimizer_") for k in data.files)
    optimizer = [data[f"optimizer_{i}"] for i in range(count)]
    history = {k[len("history_"):]: data[k] for k in data.files if k.startswith("history_")}
    return weights, optimizer, history, int(data["replicas"])


@pytest.mark.slow
@pytest.mark.parametrize("family", ["vanilla", "dcgan"])
def test_two_workers_end_identical_and_match_one_device(family, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    args = ["--family", family, "--steps", str(STEPS), "--batch", str(BATCH)]
    jobs = [
        (
            f"worker{i}",
            _env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            [str(tmp_path / f"worker{i}.npz"), *args],
        )
        for i in range(2)
    ]
    jobs.append(("single", _env(), [str(tmp_path / "single.npz"), *args]))
    _run_all(jobs, tmp_path)

    w0, opt0, hist0, replicas0 = _results(tmp_path / "worker0.npz")
    w1, opt1, hist1, replicas1 = _results(tmp_path / "worker1.npz")
    single, opt_single, hist_single, replicas_single = _results(tmp_path / "single.npz")
    assert (replicas0, replicas1, replicas_single) == (2, 2, 1)

    # The two workers: bit for bit the same model, BatchNorm statistics included.
    assert w0.keys() == w1.keys() == single.keys()
    for name in w0:
        np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)
    assert len(opt0) == len(opt1) == len(opt_single) > 0
    for a, b in zip(opt0, opt1):
        np.testing.assert_array_equal(a, b)
    assert hist0.keys() == {"d_loss", "g_loss", "d_real", "d_fake"}
    for name in hist0:
        np.testing.assert_array_equal(hist0[name], hist1[name])

    # The same update as one device on the same global batches. A bias followed by
    # BatchNorm has a zero gradient, which Adam turns into steps of up to lr from float
    # rounding: no reference value to compare it with.
    normalised_bias = "conv_1/bias" if family == "dcgan" else None
    for name in w0:
        if normalised_bias is None or not name.endswith(normalised_bias):
            np.testing.assert_allclose(w0[name], single[name], atol=2e-5, rtol=0, err_msg=name)
    for a, b in zip(opt0, opt_single):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)
    for name in hist0:
        np.testing.assert_allclose(hist0[name], hist_single[name], atol=1e-5, rtol=0)

    assert int(opt0[0]) == STEPS  # the discriminator optimizer's iterations: every step ran


@pytest.mark.slow
@pytest.mark.parametrize("worker", [0, 1])
def test_a_float16_overflow_on_one_worker_skips_the_step_on_both(worker, tmp_path):
    # Keras' LossScaleOptimizer decides from the first replica's own gradients; without a
    # shared verdict, the worker whose data overflows would apply inf/NaN (worker 1) or
    # the other would apply a step its peer skipped.
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    args = ["--steps", "2", "--batch", "32", "--overflow-worker", str(worker)]
    jobs = [
        (
            f"worker{i}",
            _env({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            [str(tmp_path / f"worker{i}.npz"), *args],
        )
        for i in range(2)
    ]
    _run_all(jobs, tmp_path)
    results = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    for data in results:
        assert int(data["d_iterations"]) == 0  # both steps skipped, on both workers
        for key in data.files:
            if key.startswith("weight_") and key != "weight_names":
                assert np.all(np.isfinite(data[key])), key
    names = [k for k in results[0].files if k.startswith(("weight_", "optimizer_")) and k != "weight_names"]
    for key in names:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)
