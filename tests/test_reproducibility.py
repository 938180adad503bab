"""Reproducibility: the same seed, with op determinism, gives the same model twice.

Two separate processes (tests/reproducibility_worker.py; op determinism is process-wide,
so it stays out of this one) each train a tiny DCGAN and a tiny WGAN-GP for a few steps
on CPU; weights, optimizer state and logged metrics must match bit for bit.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 180  # seconds for both runs; the machine may be shared and busy
FAMILIES = ("dcgan", "wgan_gp")


def _run_twice(tmp_path, seed=7, steps=3):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    runs = []
    for name in ("first", "second"):
        log = open(tmp_path / f"{name}.log", "w")
        command = [
            sys.executable, "-m", "tests.reproducibility_worker", str(tmp_path / f"{name}.npz"),
            "--seed", str(seed), "--steps", str(steps),
        ]
        runs.append((name, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    deadline = time.monotonic() + TIMEOUT
    try:
        while any(p.poll() is None for _, p, _ in runs) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for _, p, log in runs:
            if p.poll() is None:
                p.kill()
            p.wait()
            log.close()
    failed = [(name, p.returncode) for name, p, _ in runs if p.returncode != 0]
    if failed:
        logs = "\n".join(f"--- {n}:\n" + (tmp_path / f"{n}.log").read_text()[-2000:] for n, _, _ in runs)
        pytest.fail(f"runs {failed} failed or timed out after {TIMEOUT} s\n{logs}")
    return [np.load(tmp_path / f"{name}.npz") for name in ("first", "second")]


@pytest.mark.slow
def test_same_seed_same_weights_with_op_determinism(tmp_path):
    first, second = _run_twice(tmp_path)
    assert sorted(first.files) == sorted(second.files)
    for family in FAMILIES:
        keys = [k for k in first.files if k.startswith(f"{family}/")]
        kinds = {k.split("/")[1].split("_")[0] for k in keys}
        assert kinds == {"initial", "weight", "optimizer", "history"}, (family, kinds)
        for key in keys:
            np.testing.assert_array_equal(first[key], second[key], err_msg=key)
        # Not vacuous: the runs trained, every history entry is finite.
        initial = [first[k] for k in keys if "/initial_" in k]
        trained = [first[k.replace("/initial_", "/weight_")] for k in keys if "/initial_" in k]
        assert any(not np.array_equal(a, b) for a, b in zip(initial, trained)), family
        for key in keys:
            if "/history_" in key:
                assert np.all(np.isfinite(first[key])), key
