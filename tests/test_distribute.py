"""Tests for keras_gans.training.distribute: strategy names, TF_CONFIG checks, batch sizes.

Device splitting must happen before TensorFlow initialises, which conftest has already done
in this process, so the logical-CPU and multi-worker checks run in a fresh interpreter.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from keras_gans.training import distribute

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = not tf.config.list_physical_devices("GPU")


def test_strategy_names():
    assert distribute.strategy_names() == (
        "auto", "one_device", "mirrored", "multi_worker", "tpu"
    )


@pytest.mark.skipif(not NO_GPU, reason="checks the CPU-only choice")
def test_auto_and_one_device_on_cpu():
    auto = distribute.get_strategy("auto")
    assert auto is tf.distribute.get_strategy()  # the default strategy
    assert auto.num_replicas_in_sync == 1
    one = distribute.get_strategy("One-Device")
    assert isinstance(one, tf.distribute.OneDeviceStrategy)
    assert "CPU" in one.extended.worker_devices[0].upper()
    assert distribute.get_strategy(one) is one


def test_unknown_name():
    with pytest.raises(ValueError) as e:
        distribute.get_strategy("mirored")
    assert "'mirored'" in str(e.value)
    assert "auto, one_device, mirrored, multi_worker, tpu" in str(e.value)
    with pytest.raises(ValueError, match="Unknown strategy 3"):
        distribute.get_strategy(3)


def test_tpu_missing():
    with pytest.raises(ValueError, match="No TPU found"):
        distribute.get_strategy("tpu")


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG environment variable, which is not set"):
        distribute.get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        distribute.get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1"]}}))
    with pytest.raises(ValueError, match="no 'task'"):
        distribute.get_strategy("multi_worker")


def test_read_tf_config():
    good = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    assert distribute.read_tf_config(json.dumps(good)) == good
    bad_index = dict(good, task={"type": "worker", "index": 2})
    with pytest.raises(ValueError, match="index 2 is out of range for 2 'worker'"):
        distribute.read_tf_config(json.dumps(bad_index))
    bad_job = dict(good, task={"type": "chief", "index": 0})
    with pytest.raises(ValueError, match="'chief' is not a job of the cluster"):
        distribute.read_tf_config(json.dumps(bad_job))
    with pytest.raises(ValueError, match="no 'cluster'"):
        distribute.read_tf_config('{"task": {"type": "worker", "index": 0}}')


def test_batch_sizes():
    assert distribute.global_batch_size(128, 2) == 128
    assert distribute.global_batch_size(64, 4, per_replica=True) == 256
    assert distribute.per_replica_batch_size(128, 4) == 32
    assert distribute.global_batch_size(10, tf.distribute.get_strategy()) == 10
    with pytest.raises(ValueError) as e:
        distribute.global_batch_size(100, 3)
    assert "100" in str(e.value) and "3 replicas" in str(e.value) and "99" in str(e.value)
    with pytest.raises(ValueError, match="not divisible by the 8 replicas"):
        distribute.per_replica_batch_size(12, 8)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        distribute.global_batch_size(0, 1)


def test_use_logical_cpus_after_start():
    current = len(tf.config.list_logical_devices("CPU"))  # TensorFlow is initialised now
    assert len(distribute.use_logical_cpus(current)) == current  # no change: fine
    with pytest.raises(RuntimeError, match="program start"):
        distribute.use_logical_cpus(current + 1)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        distribute.use_logical_cpus(0)


_FRESH_PROCESS = """
import json, os, socket
sock = socket.socket(); sock.bind(("localhost", 0)); port = sock.getsockname()[1]; sock.close()
os.environ["TF_CONFIG"] = json.dumps(
    {"cluster": {"worker": [f"localhost:{port}"]}, "task": {"type": "worker", "index": 0}})
from keras_gans.training import distribute
names = distribute.use_logical_cpus(3)
multi = distribute.get_strategy("multi_worker")
mirrored = distribute.get_strategy("mirrored")
print(json.dumps({
    "names": names,
    "multi": [type(multi).__name__, multi.num_replicas_in_sync],
    "mirrored": [type(mirrored).__name__, mirrored.num_replicas_in_sync],
    "auto": distribute.get_strategy("auto").num_replicas_in_sync,
    "global": distribute.global_batch_size(16, mirrored, per_replica=True),
}))
"""


def test_logical_cpus_mirrored_and_multi_worker_in_fresh_process():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["names"] == ["/device:CPU:0", "/device:CPU:1", "/device:CPU:2"]
    assert result["multi"] == ["CollectiveAllReduceStrategy", 1]  # one worker, one CPU
    assert result["mirrored"] == ["MirroredStrategy", 3]
    assert result["auto"] == 1
    assert result["global"] == 48
