"""Request batching with TF Serving's semantics (`--enable_batching`).

Two layers. The scheduler and the batching session alone, with a fake model call whose
threads the test holds and releases (`Gate`): merging, queue limits, splitting, padding,
TF Serving's error messages, shutdown. Then the real thing: generators exported by the
project, the real model manager and core, and the real gRPC and REST front ends on
loopback (in this process, so a test can hold the model calls of a servable and make
merging deterministic), spoken to with TF Serving's stubs and `requests`; and one run
of `keras-gans serve --embedded --enable_batching` as a subprocess.

Batched float outputs are compared two ways: bit for bit with the same merged batch run
in this process, and within 1e-6 of each caller's own unbatched call (oneDNN's kernels
round a row differently in batches of different sizes, by ~1e-10, in TF Serving too);
rows of different latents differ by far more, so a caller given another's rows fails.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_service_pb2_grpc

import keras_gans as kg
from keras_gans import export
from keras_gans.models.sampling import latent_from_seed
from keras_gans.serving.errors import ServingError
from keras_gans.serving.server import config as config_lib
from keras_gans.serving.server.batching import (
    BatchingSession,
    QueueOptions,
    SharedBatchScheduler,
    round_to_allowed_batch_size,
    split_task_sizes,
)
from tests.test_serving import ROOT, TINY, Tf1Model, _free_port, _predict_request

LIMIT = 16  # max_num_samples of the exports
METRICS = "/monitoring/prometheus/metrics"
TASK_TOO_LARGE = "Task size 5 is larger than maximum input batch size 4"
NOT_BATCHABLE = "Batching Run() input tensors must have at least one dimension"


def _wait_until(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}")
        time.sleep(0.005)


class Gate:
    """Wraps a model call: records what each call was fed, and holds calls while closed."""

    def __init__(self, run):
        self._run = run
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.feeds = []

    def __call__(self, feeds, fetches):
        with self._lock:
            self.feeds.append(feeds)
        assert self._open.wait(60), "the gate was never opened"
        return self._run(feeds, fetches)

    @property
    def calls(self):
        with self._lock:
            return len(self.feeds)

    def close(self):
        self._open.clear()

    def open(self):
        self._open.set()


def _double(feeds, fetches):
    return {alias: feeds["x"] * 2 for alias in fetches}


def _rows(i, n=1, width=3):
    return np.arange(i * 100, i * 100 + n * width, dtype=np.float32).reshape(n, width)


@contextlib.contextmanager
def _session(run=_double, threads=1, **options):
    scheduler = SharedBatchScheduler(threads)
    try:
        yield BatchingSession(run, scheduler, QueueOptions(**options)), scheduler
    finally:
        scheduler.stop()


def _error(fn, *args):
    with pytest.raises(ServingError) as info:
        fn(*args)
    return info.value


# ----------------------------------------------------------------------------------
# Options and parameters (bundle_factory_util.{h,cc}, shared_batch_scheduler.h).
# ----------------------------------------------------------------------------------
def _params(text):
    return text_format.Parse(text, config_lib.batching_parameters_class()())


def test_parameters_take_tf_servings_defaults_and_checks():
    options = config_lib.queue_options(_params(""))
    assert options == QueueOptions(max_batch_size=1000, batch_timeout_micros=0, max_enqueued_batches=10)
    assert not options.enable_large_batch_splitting and options.execution_batch_size == 1000
    split = config_lib.queue_options(_params("max_batch_size { value: 64 } enable_large_batch_splitting { value: true }"))
    assert split.execution_batch_size == 64  # max_execution_batch_size defaults to max_batch_size
    split = config_lib.queue_options(_params(
        "max_batch_size { value: 64 } enable_large_batch_splitting { value: true } max_execution_batch_size { value: 8 }"
    ))
    assert (split.max_batch_size, split.execution_batch_size) == (64, 8)
    # max_enqueued_batches 0 is rewritten to 1 without splitting (SharedBatchScheduler::AddQueue).
    assert config_lib.queue_options(_params("max_enqueued_batches { value: 0 }")).max_enqueued_batches == 1

    refusals = [
        ("max_batch_size { value: 8 } allowed_batch_sizes: 2 allowed_batch_sizes: 4",
         "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; expected 8"),
        ("allowed_batch_sizes: 4", "Last entry in allowed_batch_sizes must match max_batch_size; last entry was 4; "
                                   "expected 1000"),
        ("max_batch_size { value: 0 }", "input_batch_size_limit must be positive; was 0"),
        ("batch_timeout_micros { value: -1 }", "batch_timeout_micros must be non-negative; was -1"),
        ("max_enqueued_batches { value: 0 } enable_large_batch_splitting { value: true }",
         "max_enqueued_batches must be positive; was 0"),
        ("max_batch_size { value: 4 } enable_large_batch_splitting { value: true } max_execution_batch_size { value: 8 }",
         "When enable_large_batch_splitting is true, input_batch_size_limit must be greater than or equal to "
         "max_execution_batch_size."),
    ]
    for text, message in refusals:
        e = _error(config_lib.queue_options, _params(text))
        assert e.code == "INVALID_ARGUMENT" and e.message.startswith(message), (text, e.message)

    # --enable_batching alone: every default, TF Serving's thread pool name (server.cc).
    default = config_lib.batching_config(True)
    assert default.thread_pool_name == "model_server_batch_threads" and default.num_batch_threads is None
    assert default.options_for("/anywhere") == QueueOptions()
    assert config_lib.batching_config(False) is None
    e = _error(config_lib.batching_config, False, "/some/batching.txt")
    assert e.message == (
        "server_options.batching_parameters_file is set without setting server_options.enable_batching to true."
    )
    e = _error(config_lib.BatchingConfig, _params("num_batch_threads { value: 0 }"))
    assert e.message == "num_batch_threads must be positive; was 0"


def test_per_model_parameters_come_from_the_version_folder(tmp_path):
    batching = config_lib.BatchingConfig(_params("max_batch_size { value: 32 } num_batch_threads { value: 3 }"),
                                         per_model=True)
    assert batching.num_batch_threads == 3  # the server's threads, whatever a model's file says
    assert batching.options_for(str(tmp_path)) is None  # no batching_params.pbtxt: unbatched
    (tmp_path / "batching_params.pbtxt").write_text("max_batch_size { value: 4 } batch_timeout_micros { value: 7 }")
    assert batching.options_for(str(tmp_path)) == QueueOptions(max_batch_size=4, batch_timeout_micros=7)
    (tmp_path / "batching_params.pbtxt").write_text("max_batch_size: 4")
    e = _error(batching.options_for, str(tmp_path))
    assert e.message == f"Invalid protobuf file: '{tmp_path / 'batching_params.pbtxt'}'"
    shipped = config_lib.BatchingConfig(config_lib.read_batching_parameters(os.path.join(ROOT, "serving",
                                                                                          "batching_parameters.txt")))
    assert shipped.options_for("/models/dcgan/1").max_batch_size == 1024


def test_split_sizes_and_allowed_sizes():
    # InputSplitMetadata: the head fills the open batch, then whole batches, then the rest.
    assert split_task_sizes(10, 0, 4) == [4, 4, 2]
    assert split_task_sizes(10, 3, 4) == [3, 4, 3]
    assert split_task_sizes(8, 0, 4) == [4, 4]
    assert split_task_sizes(5, 1, 4) == [1, 4]
    assert split_task_sizes(2, 3, 4) == [2]
    assert [round_to_allowed_batch_size([2, 4, 8], n) for n in (1, 2, 3, 5, 8, 9)] == [2, 2, 4, 8, 8, 9]
    assert round_to_allowed_batch_size([], 3) == 3


# ----------------------------------------------------------------------------------
# The scheduler and the batching session, with a fake model call.
# ----------------------------------------------------------------------------------
def _start(session, x, fetches=None):
    """Runs `session.run` in a thread; returns a function giving its result (or error)."""
    box = {}

    def target():
        try:
            box["out"] = session.run({"x": x}, fetches or {"y": "y:0"})
        except ServingError as e:
            box["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def result():
        thread.join(60)
        assert not thread.is_alive(), "a caller was left hanging"
        return box.get("out"), box.get("error")

    return result


def _hold_first_call(session, scheduler, gate):
    """Occupies the only batch thread with a call the gate holds."""
    gate.close()
    first = _start(session, _rows(99))
    _wait_until(lambda: gate.calls == 1, "the first call")
    return first


def test_concurrent_calls_merge_into_one_model_call_and_each_gets_its_rows():
    gate = Gate(_double)
    with _session(gate, threads=1, max_batch_size=8, batch_timeout_micros=0) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        sizes = [1, 2, 1, 3]
        results = [_start(session, _rows(i, n)) for i, n in enumerate(sizes)]
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 4, "four queued calls")
        gate.open()
        assert first()[1] is None
        for i, (n, result) in enumerate(zip(sizes, results)):
            out, error = result()
            assert error is None and set(out) == {"y"}
            np.testing.assert_array_equal(out["y"], _rows(i, n) * 2)
        assert gate.calls == 2 and gate.feeds[1]["x"].shape == (7, 3)  # one call for the four
        assert scheduler.stats() == {"batches": 2, "tasks": 5, "rows": 8, "padded_rows": 8,
                                     "mean_batch_size": 4.0, "wrapped_run_count": 2}


def test_a_batch_closes_when_full_or_when_its_oldest_task_times_out():
    gate = Gate(_double)
    with _session(gate, threads=1, max_batch_size=2, batch_timeout_micros=60_000_000) as (session, scheduler):
        # A lone task waits for company (here: a minute); a second one fills the batch.
        one = _start(session, _rows(1))
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 1, "a queued call")
        assert gate.calls == 0
        two = _start(session, _rows(2))
        assert one()[1] is None and two()[1] is None
        assert gate.calls == 1 and len(gate.feeds[0]["x"]) == 2
    with _session(gate, threads=1, max_batch_size=8, batch_timeout_micros=1000) as (session, scheduler):
        out, error = _start(session, _rows(3))()  # timed out after 1 ms, alone
        np.testing.assert_array_equal(out["y"], _rows(3) * 2)


def test_a_full_queue_refuses_at_once_with_unavailable_and_then_serves_again():
    gate = Gate(_double)
    with _session(gate, threads=1, max_batch_size=2, max_enqueued_batches=2) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        queued = [_start(session, _rows(i)) for i in range(4)]  # two batches of two
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 4, "two full batches")
        started = time.monotonic()
        e = _error(session.run, {"x": _rows(7)}, {"y": "y:0"})
        assert time.monotonic() - started < 5  # at once, not after the held call
        assert e.code == "UNAVAILABLE" and e.http_status == 503
        assert e.message == ("The batch scheduling queue to which this task was submitted is full; "
                             "currently 2 batches enqueued and max_enqueued_batches is 2")
        gate.open()
        assert first()[1] is None and all(result()[1] is None for result in queued)
        np.testing.assert_array_equal(session.run({"x": _rows(8)}, {"y": "y:0"})["y"], _rows(8) * 2)

    gate = Gate(_double)
    options = dict(max_batch_size=4, max_enqueued_batches=1, enable_large_batch_splitting=True)
    with _session(gate, threads=1, **options) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        queued = _start(session, _rows(1, 3))
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 1, "a queued call")
        e = _error(session.run, {"x": _rows(2, 2)}, {"y": "y:0"})
        assert e.code == "UNAVAILABLE" and e.message == (
            "The batch scheduling queue to which this task was submitted is full; task size is 2 but scheduling "
            "capacity is only 1 (num_enqueued_batches=1, max_enqueued_batches=1, open_batch_size=3, "
            "max_execution_batch_size=4)"
        )
        gate.open()
        assert first()[1] is None and queued()[1] is None


def test_a_task_above_max_batch_size_is_refused_and_large_tasks_are_split():
    for splitting in (False, True):
        with _session(max_batch_size=4, enable_large_batch_splitting=splitting) as (session, _):
            e = _error(session.run, {"x": _rows(0, 5)}, {"y": "y:0"})
            assert (e.code, e.message) == ("INVALID_ARGUMENT", TASK_TOO_LARGE)

    # max_execution_batch_size bounds a merged batch; a task that does not fit the open
    # batch fills it and goes on in the next ones.
    gate = Gate(_double)
    options = dict(max_batch_size=16, max_execution_batch_size=4, enable_large_batch_splitting=True)
    with _session(gate, threads=1, **options) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        small = _start(session, _rows(1, 1))
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 1, "a queued call")
        large = _start(session, _rows(2, 10))
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 4, "the large call split in three")
        gate.open()
        assert first()[1] is None
        np.testing.assert_array_equal(small()[0]["y"], _rows(1, 1) * 2)
        out, error = large()
        assert error is None
        np.testing.assert_array_equal(out["y"], _rows(2, 10) * 2)  # its parts, put back in order
        assert [len(f["x"]) for f in gate.feeds] == [1, 4, 4, 3]  # 1 + 3 of its rows, 4, the last 3

    # Without splitting, a task that does not fit the open batch starts the next one.
    gate = Gate(_double)
    with _session(gate, threads=1, max_batch_size=4) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        parts = [_start(session, _rows(1, 3))]
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 1, "a queued call")
        parts.append(_start(session, _rows(2, 2)))
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 2, "two queued calls")
        gate.open()
        assert first()[1] is None and all(p()[1] is None for p in parts)
        assert [len(f["x"]) for f in gate.feeds] == [1, 3, 2]


def test_padding_to_allowed_batch_sizes_drops_the_padding_rows():
    gate = Gate(_double)
    with _session(gate, threads=1, max_batch_size=8, allowed_batch_sizes=(2, 4, 8)) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        results = []
        for i, n in ((1, 1), (2, 2)):  # one after the other: the batch's order is known
            results.append(_start(session, _rows(i, n)))
            _wait_until(lambda: scheduler.num_enqueued_tasks() == len(results), "a queued call")
        gate.open()
        assert first()[1] is None
        for (i, n), result in zip(((1, 1), (2, 2)), results):
            np.testing.assert_array_equal(result()[0]["y"], _rows(i, n) * 2)
        fed = gate.feeds[1]["x"]
        assert len(fed) == 4  # 3 rows padded to 4 with the last task's first row
        np.testing.assert_array_equal(fed[3], fed[1])
        stats = scheduler.stats()
        assert (stats["rows"], stats["padded_rows"], stats["mean_batch_size"]) == (4, 6, 2.0)  # (1 + 3) / 2
    assert "padding_size_bucket{execution_batch_size=\"4\"," in scheduler.metrics.prometheus_text()


def test_inner_shapes_must_agree_unless_variable_length_inputs_are_padded():
    gate = Gate(_double)
    with _session(gate, threads=1, max_batch_size=8) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        results = [_start(session, _rows(1, 1, width=3)), _start(session, _rows(2, 1, width=2))]
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 2, "two queued calls")
        gate.open()
        assert first()[1] is None
        for result in results:  # TF Serving fails the whole batch
            error = result()[1]
            assert error.code == "FAILED_PRECONDITION" and error.message == (
                "Tensors with name 'x' from different tasks have different shapes and padding is turned off. "
                "Set pad_variable_length_inputs to true, or ensure that all tensors with the same name have equal "
                "dimensions starting with the first dim."
            )
    gate = Gate(lambda feeds, fetches: {"y": feeds["x"].copy()})
    with _session(gate, threads=1, max_batch_size=8, pad_variable_length_inputs=True) as (session, scheduler):
        first = _hold_first_call(session, scheduler, gate)
        results = [_start(session, _rows(1, 1, width=3)), _start(session, _rows(2, 2, width=2))]
        _wait_until(lambda: scheduler.num_enqueued_tasks() == 2, "two queued calls")
        gate.open()
        assert first()[1] is None
        np.testing.assert_array_equal(results[0]()[0]["y"], _rows(1, 1, width=3))
        # Padded to width 3 with the tensor's first element (batching_util.cc, AddPadding).
        np.testing.assert_array_equal(results[1]()[0]["y"], [[200, 201, 200], [202, 203, 200]])


def test_outputs_without_the_batch_dimension_fail_like_tf_servings_batching_session():
    cases = [
        (lambda feeds, fetches: {"y": np.float32(1)}, "Batched output tensor has 0 dimensions"),
        (lambda feeds, fetches: {"y": feeds["x"][:1]},
         "Batched output tensor's 0th dimension does not equal the sum of the 0th dimension sizes of the input tensors"),
    ]
    for run, message in cases:
        with _session(run) as (session, _):
            e = _error(session.run, {"x": _rows(0, 2)}, {"y": "y:0"})
            assert (e.code, e.message) == ("FAILED_PRECONDITION", message)


def test_input_checks_of_the_batching_session():
    with _session() as (session, _):
        assert _error(session.run, {"x": np.float32(2)}, {}).message == NOT_BATCHABLE
        e = _error(session.run, {"x": _rows(0, 2), "w": _rows(1, 3)}, {})
        assert e.message == "Batching Run() input tensors must have equal 0th-dimension size"
        assert _error(session.run, {}, {}).message == "Batching Run() must have at least one input tensor"

    def failing(feeds, fetches):
        raise ServingError("INVALID_ARGUMENT", "bad z")

    with _session(failing) as (session, _):  # a model error reaches the caller with its code
        e = _error(session.run, {"x": _rows(0)}, {})
        assert (e.code, e.message) == ("INVALID_ARGUMENT", "bad z")


def test_close_lets_queued_calls_finish_and_stop_joins_the_threads():
    gate = Gate(_double)
    scheduler = SharedBatchScheduler(2)
    session = BatchingSession(gate, scheduler, QueueOptions(max_batch_size=4, batch_timeout_micros=60_000_000))
    queued = _start(session, _rows(1))
    _wait_until(lambda: scheduler.num_enqueued_tasks() == 1, "a queued call")
    gate.close()
    session.close()  # the servable is unloaded: its open batch is processed at once
    _wait_until(lambda: gate.calls == 1, "the queued call")
    gate.open()
    np.testing.assert_array_equal(queued()[0]["y"], _rows(1) * 2)
    np.testing.assert_array_equal(session.run({"x": _rows(2)}, {"y": "y:0"})["y"], _rows(2) * 2)  # unbatched
    _wait_until(lambda: scheduler.num_queues() == 0, "the closed queue to be dropped")
    scheduler.stop()
    assert not any(t.is_alive() for t in scheduler._threads)


def test_metrics_in_tf_servings_prometheus_format():
    with _session(max_batch_size=4) as (session, scheduler):
        session.run({"x": _rows(0, 3)}, {"y": "y:0"})
        text = scheduler.metrics.prometheus_text()
    lines = text.splitlines()
    for name in ("input_batch_size", "padding_size", "processed_batch_size", "queuing_latency"):
        assert f"# TYPE :tensorflow:serving:batching_session:{name} histogram" in lines
    assert ":tensorflow:serving:batching_session:processed_batch_size_bucket{le=\"2\"} 0" in lines
    assert ":tensorflow:serving:batching_session:processed_batch_size_bucket{le=\"4\"} 1" in lines  # 3 < 4
    assert ":tensorflow:serving:batching_session:processed_batch_size_bucket{le=\"+Inf\"} 1" in lines
    assert ":tensorflow:serving:batching_session:processed_batch_size_sum{} 3" in lines
    assert ":tensorflow:serving:batching_session:processed_batch_size_count{} 1" in lines
    assert "# TYPE :tensorflow:serving:batching_session:wrapped_run_count counter" in lines
    assert ":tensorflow:serving:batching_session:wrapped_run_count{} 1" in lines
    assert any(line.startswith(':tensorflow:serving:batching_session:queuing_latency_bucket{thread_pool_name="",le="100"}')
               for line in lines)
    assert ":keras_gans:serving:batching_session:merged_batch_size_sum{} 3" in lines


# ----------------------------------------------------------------------------------
# Real exports, the real core and front ends on loopback.
# ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """saved_models/ with a tiny DCGAN and a tiny conditional GAN, and their TF1 references."""
    root = tmp_path_factory.mktemp("batching") / "saved_models"
    gans = {"dcgan": kg.models.DCGAN(**TINY, seed=2), "cgan": kg.models.ConditionalGAN(**TINY, num_classes=3, seed=3)}
    reference = {}
    for name, gan in gans.items():
        version = export.export_generator(gan, root / name, max_num_samples=LIMIT)
        reference[name] = Tf1Model(root / name / str(version))
    return root, reference


class LocalServer:
    """The embedded server's parts, as `run_embedded` assembles them, in this process.

    Args:
        models: folder of models to serve (every sub-folder).
        batching: a `config.BatchingConfig`, given to the manager and the core.
    """

    def __init__(self, models, batching):
        import uvicorn

        from keras_gans.serving.server.core import ServingCore
        from keras_gans.serving.server.grpc_api import create_grpc_server
        from keras_gans.serving.server.manager import ModelManager
        from keras_gans.serving.server.rest import create_app

        self.manager = ModelManager(batching=batching)
        self.manager.set_config(config_lib.write_models_config(models, models.parent / "models.config",
                                                               base_path_prefix=None))
        self.manager.poll()
        self.core = ServingCore(self.manager, batching=batching)
        grpc_port, rest_port = _free_port(), _free_port()
        self.grpc_server = create_grpc_server(self.core, grpc_port, host="127.0.0.1")
        self.grpc_server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.rest = f"http://127.0.0.1:{rest_port}"
        self.http = uvicorn.Server(uvicorn.Config(create_app(self.core), host="127.0.0.1", port=rest_port,
                                                  log_level="warning", lifespan="off", http="h11", loop="asyncio"))
        self.http_thread = threading.Thread(target=self.http.run, daemon=True)
        self.http_thread.start()
        _wait_until(lambda: self.http.started, "the REST server")

    def gate(self, model):
        """Puts a `Gate` on the model calls of the served version of `model`."""
        servable = self.manager.resolve(model)
        servable.run = Gate(servable.run)
        return servable.run

    def post(self, model, body):
        return requests.post(f"{self.rest}/v1/models/{model}:predict", json=body, timeout=60)

    def metrics(self):
        answer = requests.get(self.rest + METRICS, timeout=60)
        assert answer.status_code == 200 and answer.headers["content-type"] == "text/plain"
        values = {}
        for line in answer.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def close(self):
        self.http.should_exit = True
        self.http_thread.join(30)
        self.grpc_server.stop(0).wait()
        self.channel.close()
        self.manager.stop()  # stops the core's batch threads too


@contextlib.contextmanager
def _serving(exports, params, per_model=False):
    server = LocalServer(exports[0], config_lib.BatchingConfig(_params(params), per_model=per_model))
    try:
        yield server
    finally:
        server.close()
    assert not any(t.is_alive() for t in server.core.scheduler._threads)  # a clean shutdown


def _z(seed, n=1):
    return latent_from_seed(n, TINY["latent_dim"], seed).numpy()


def _rest_images(answer):
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return np.asarray(body["predictions"] if "predictions" in body else body["outputs"], np.float32)


def _grpc_images(response):
    return tf.make_ndarray(response.outputs["images"])


def _own_rows(caller_z, fed_z, merged_images):
    """The rows of `merged_images` that the merged call computed for `caller_z`."""
    for start in range(len(fed_z) - len(caller_z) + 1):
        if np.array_equal(fed_z[start:start + len(caller_z)], caller_z):
            return merged_images[start:start + len(caller_z)]
    pytest.fail("the caller's latents are not in the merged batch")


def test_rest_and_grpc_requests_merge_into_one_call_and_get_exactly_their_rows(exports):
    reference = exports[1]["cgan"]
    params = "max_batch_size { value: 16 } batch_timeout_micros { value: 0 } num_batch_threads { value: 1 }"
    with _serving(exports, params) as server, ThreadPoolExecutor(8) as pool:
        gate = server.gate("cgan")
        gate.close()
        first = server.predictions.Predict.future(_predict_request("cgan", "", z=_z(1), labels=[0]), timeout=60)
        _wait_until(lambda: gate.calls == 1, "the first call")
        asks = {  # seed -> (rows, protocol)
            2: (1, "rest"), 3: (2, "grpc"), 4: (1, "grpc"), 5: (3, "rest"),
        }
        futures = {}
        for seed, (n, protocol) in asks.items():
            z, labels = _z(seed, n), [int(x) for x in np.arange(n) % 3]
            if protocol == "rest":
                body = {"instances": [{"z": zi.astype(np.float64).tolist(), "labels": li} for zi, li in zip(z, labels)]}
                futures[seed] = pool.submit(lambda b=body: _rest_images(server.post("cgan", b)))
            else:
                request = _predict_request("cgan", "", z=z, labels=labels)
                futures[seed] = pool.submit(lambda r=request: _grpc_images(server.predictions.Predict(r, timeout=60)))
        _wait_until(lambda: server.core.scheduler.num_enqueued_tasks() == 4, "the four requests to queue")
        gate.open()
        first.result()
        assert gate.calls == 2  # one model call for the four requests
        fed = gate.feeds[1]
        fed_z, fed_labels = fed["serving_default_z:0"], fed["serving_default_labels:0"]
        assert fed_z.shape == (7, TINY["latent_dim"])
        merged = reference.run("serving_default", z=fed_z, labels=fed_labels)
        for seed, (n, protocol) in asks.items():
            images = futures[seed].result()
            np.testing.assert_array_equal(images, _own_rows(_z(seed, n), fed_z, merged))
            alone = reference.run("serving_default", z=_z(seed, n), labels=np.int32(np.arange(n) % 3))
            np.testing.assert_allclose(images, alone, rtol=0, atol=1e-6)
        metrics = server.metrics()
    assert metrics[":tensorflow:serving:batching_session:wrapped_run_count{}"] == 2
    assert metrics[":keras_gans:serving:batching_session:merged_batch_size_sum{}"] == 8  # 1 + 7
    assert metrics[":keras_gans:serving:batching_session:merged_batch_size_count{}"] == 2


def test_sixteen_concurrent_one_sample_clients_share_model_calls(exports):
    reference = exports[1]["dcgan"]
    params = ("max_batch_size { value: 16 } batch_timeout_micros { value: 100000 } num_batch_threads { value: 2 } "
              "max_enqueued_batches { value: 16 }")
    with _serving(exports, params) as server, ThreadPoolExecutor(16) as pool:
        def ask(seed):
            if seed % 2:
                return _rest_images(server.post("dcgan", {"instances": _z(seed).astype(np.float64).tolist()}))
            return _grpc_images(server.predictions.Predict(_predict_request("dcgan", "", z=_z(seed)), timeout=60))

        for seed, images in zip(range(16), pool.map(ask, range(16))):
            np.testing.assert_allclose(images, reference.run("serving_default", z=_z(seed)), rtol=0, atol=1e-6)
        metrics, stats = server.metrics(), server.core.scheduler.stats()
    batches = metrics[":tensorflow:serving:batching_session:processed_batch_size_count{}"]
    mean = metrics[":tensorflow:serving:batching_session:processed_batch_size_sum{}"] / batches
    assert stats["rows"] == 16 and stats["mean_batch_size"] == mean
    assert mean > 1 and metrics[":tensorflow:serving:batching_session:wrapped_run_count{}"] < 16  # generous


def test_padding_to_allowed_sizes_end_to_end(exports):
    reference = exports[1]["dcgan"]
    params = ("max_batch_size { value: 16 } allowed_batch_sizes: 4 allowed_batch_sizes: 8 allowed_batch_sizes: 16 "
              "num_batch_threads { value: 1 }")
    with _serving(exports, params) as server, ThreadPoolExecutor(4) as pool:
        gate = server.gate("dcgan")
        gate.close()
        first = pool.submit(server.post, "dcgan", {"instances": _z(1).tolist()})
        _wait_until(lambda: gate.calls == 1, "the first call")
        futures = []
        for seed in (2, 3):  # 2 rows, then 1 row, one after the other
            request = _predict_request("dcgan", "", z=_z(seed, 2 - seed % 2))
            futures.append(pool.submit(server.predictions.Predict, request, timeout=60))
            _wait_until(lambda: server.core.scheduler.num_enqueued_tasks() == len(futures), "a queued request")
        gate.open()
        assert len(_rest_images(first.result())) == 1  # padded to 4 rows and cut back to 1
        fed_z = gate.feeds[1]["serving_default_z:0"]
        assert len(fed_z) == 4  # 3 rows padded up to 4 with the last request's first row
        np.testing.assert_array_equal(fed_z[3], _z(3)[0])
        merged = reference.run("serving_default", z=fed_z)
        for seed, future in zip((2, 3), futures):
            images = _grpc_images(future.result())
            assert len(images) == 2 - seed % 2
            np.testing.assert_array_equal(images, _own_rows(_z(seed, 2 - seed % 2), fed_z, merged))
        assert server.metrics()[':tensorflow:serving:batching_session:padding_size_sum{execution_batch_size="4"}'] == 4


def test_large_requests_are_split_or_refused_as_tf_serving_does(exports):
    reference = exports[1]["dcgan"]
    z = _z(7, 10)
    params = ("max_batch_size { value: 16 } enable_large_batch_splitting { value: true } "
              "max_execution_batch_size { value: 4 } num_batch_threads { value: 1 }")
    with _serving(exports, params) as server:
        gate = server.gate("dcgan")
        images = _rest_images(server.post("dcgan", {"inputs": z.astype(np.float64).tolist()}))
        assert [len(f["serving_default_z:0"]) for f in gate.feeds] == [4, 4, 2]
        pieces = [reference.run("serving_default", z=f["serving_default_z:0"]) for f in gate.feeds]
        np.testing.assert_array_equal(images, np.concatenate(pieces))
        np.testing.assert_allclose(images, reference.run("serving_default", z=z), rtol=0, atol=1e-6)

    for splitting in ("false", "true"):
        params = f"max_batch_size {{ value: 4 }} enable_large_batch_splitting {{ value: {splitting} }}"
        with _serving(exports, params) as server:
            answer = server.post("dcgan", {"inputs": _z(1, 5).tolist()})
            assert answer.status_code == 400 and answer.json() == {"error": TASK_TOO_LARGE}
            with pytest.raises(grpc.RpcError) as info:
                server.predictions.Predict(_predict_request("dcgan", "", z=_z(1, 5)), timeout=60)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and info.value.details() == TASK_TOO_LARGE
            assert len(_rest_images(server.post("dcgan", {"inputs": _z(1, 4).tolist()}))) == 4


def test_a_full_queue_answers_unavailable_and_503_at_once_and_the_server_goes_on(exports):
    params = ("max_batch_size { value: 1 } max_enqueued_batches { value: 1 } num_batch_threads { value: 1 } "
              "batch_timeout_micros { value: 0 }")
    full = "The batch scheduling queue to which this task was submitted is full; currently 1 batches enqueued " \
           "and max_enqueued_batches is 1"
    with _serving(exports, params) as server:
        gate = server.gate("dcgan")
        gate.close()
        held = server.predictions.Predict.future(_predict_request("dcgan", "", z=_z(1)), timeout=60)
        _wait_until(lambda: gate.calls == 1, "the first call")
        queued = server.predictions.Predict.future(_predict_request("dcgan", "", z=_z(2)), timeout=60)
        _wait_until(lambda: server.core.scheduler.num_enqueued_tasks() == 1, "a queued request")
        started = time.monotonic()
        answer = server.post("dcgan", {"instances": _z(3).tolist()})
        assert answer.status_code == 503 and answer.json() == {"error": full}
        with pytest.raises(grpc.RpcError) as info:
            server.predictions.Predict(_predict_request("dcgan", "", z=_z(3)), timeout=60)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE and info.value.details() == full
        assert time.monotonic() - started < 20  # at once: the held call is still held
        gate.open()
        assert len(_grpc_images(held.result())) == 1 and len(_grpc_images(queued.result())) == 1
        assert len(_rest_images(server.post("dcgan", {"instances": _z(4).tolist()}))) == 1


def test_the_sample_signature_is_refused_as_by_tf_servings_batching_session(exports):
    with _serving(exports, "max_batch_size { value: 16 }") as server:
        answer = server.post("dcgan", {"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 1}})
        assert answer.status_code == 400 and answer.json() == {"error": NOT_BATCHABLE}
        with pytest.raises(grpc.RpcError) as info:
            server.predictions.Predict(_predict_request("dcgan", "sample", num_samples=2, seed=1), timeout=60)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and info.value.details() == NOT_BATCHABLE


def test_per_model_batching_params_batch_only_the_models_that_have_them(exports, tmp_path):
    models = tmp_path / "saved_models"
    shutil.copytree(exports[0], models)
    (models / "dcgan" / "1" / "batching_params.pbtxt").write_text("max_batch_size { value: 16 }\n")
    shutil.copytree(exports[0] / "dcgan", models / "broken")
    (models / "broken" / "1" / "batching_params.pbtxt").write_text("max_batch_size: [\n")
    with _serving((models, exports[1]), "num_batch_threads { value: 1 }", per_model=True) as server:
        # dcgan is batched: its scalar inputs are refused, its latents batched.
        answer = server.post("dcgan", {"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 1}})
        assert answer.status_code == 400 and answer.json() == {"error": NOT_BATCHABLE}
        assert len(_rest_images(server.post("dcgan", {"instances": _z(1).tolist()}))) == 1
        assert server.core.scheduler.stats()["batches"] == 1
        # cgan has no batching_params.pbtxt: served unbatched, `sample` included.
        answer = server.post("cgan", {"signature_name": "sample", "inputs": {"num_samples": 2, "seed": 1, "labels": []}})
        assert answer.status_code == 200, answer.text
        assert len(_rest_images(server.post("cgan", {"instances": [{"z": [0] * 4, "labels": 1}]}))) == 1
        assert server.core.scheduler.stats()["batches"] == 1
        # A per-model file that does not parse fails the version's load, as in TF Serving.
        (status,) = requests.get(f"{server.rest}/v1/models/broken", timeout=60).json()["model_version_status"]
        assert status["state"] == "END" and status["status"]["error_code"] == "INVALID_ARGUMENT"
        assert status["status"]["error_message"] == f"Invalid protobuf file: '{models / 'broken' / '1' / 'batching_params.pbtxt'}'"


def test_an_unloaded_version_leaves_no_stale_queue_and_no_caller_waiting(exports, tmp_path):
    models = tmp_path / "saved_models"
    (models / "dcgan").mkdir(parents=True)
    shutil.copytree(exports[0] / "dcgan" / "1", models / "dcgan" / "1")
    params = "max_batch_size { value: 16 } batch_timeout_micros { value: 0 } num_batch_threads { value: 1 }"
    with _serving((models, exports[1]), params) as server:
        gate = server.gate("dcgan")
        gate.close()
        held = server.predictions.Predict.future(_predict_request("dcgan", "", z=_z(1)), timeout=60)
        _wait_until(lambda: gate.calls == 1, "the first call")
        queued = server.predictions.Predict.future(_predict_request("dcgan", "", z=_z(2)), timeout=60)
        _wait_until(lambda: server.core.scheduler.num_enqueued_tasks() == 1, "a queued request")
        shutil.copytree(models / "dcgan" / "1", models / "dcgan" / "2")
        server.manager.poll()  # version 2 loads, version 1 is retired with a request queued
        assert server.manager.resolve("dcgan").version == 2
        gate.open()
        for future in (held, queued):
            assert future.result().model_spec.version.value == 1  # answered by the version it asked
        answer = server.predictions.Predict(_predict_request("dcgan", "", z=_z(3)), timeout=60)
        assert answer.model_spec.version.value == 2
        assert [s.version for s in server.core._sessions] == [2]
        _wait_until(lambda: server.core.scheduler.num_queues() == 1, "version 1's queue to be dropped")


# ----------------------------------------------------------------------------------
# The whole server: `keras-gans serve --embedded --enable_batching`.
# ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_serve_embedded_batches_concurrent_clients(exports, tmp_path):
    models = exports[0]
    config_path = tmp_path / "models.config"
    config_lib.write_models_config(models, config_path, base_path_prefix=None)
    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 50000 }\n"
                      "num_batch_threads { value: 2 }\nmax_enqueued_batches { value: 16 }\n")
    grpc_port, rest_port = _free_port(), _free_port()
    command = [sys.executable, "-m", "keras_gans.cli", "serve", "--embedded", "--host=127.0.0.1",
               f"--port={grpc_port}", f"--rest_api_port={rest_port}", f"--model_config_file={config_path}",
               "--file_system_poll_wait_seconds=0", "--enable_batching", f"--batching_parameters_file={params}"]
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    with open(tmp_path / "server.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    rest = f"http://127.0.0.1:{rest_port}"
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        def ready():
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                return requests.get(rest + "/v1/models/dcgan", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        _wait_until(ready, "the server", timeout=180)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        reference = exports[1]["dcgan"]

        def ask(seed):
            if seed % 2:
                answer = requests.post(f"{rest}/v1/models/dcgan:predict",
                                       json={"instances": _z(seed).astype(np.float64).tolist()}, timeout=60)
                return _rest_images(answer)
            return _grpc_images(stub.Predict(_predict_request("dcgan", "", z=_z(seed)), timeout=60))

        with ThreadPoolExecutor(16) as pool:
            for seed, images in zip(range(16), pool.map(ask, range(16))):
                np.testing.assert_allclose(images, reference.run("serving_default", z=_z(seed)), rtol=0, atol=1e-6)
        answer = requests.post(f"{rest}/v1/models/dcgan:predict",
                               json={"signature_name": "sample", "inputs": {"num_samples": 1, "seed": 1}}, timeout=60)
        assert answer.status_code == 400 and answer.json() == {"error": NOT_BATCHABLE}
        page = requests.get(rest + METRICS, timeout=60).text.splitlines()
        values = dict(line.rsplit(" ", 1) for line in page if line and not line.startswith("#"))
        batches = float(values[":keras_gans:serving:batching_session:merged_batch_size_count{}"])
        rows = float(values[":keras_gans:serving:batching_session:merged_batch_size_sum{}"])
        assert rows == 16 and rows / batches > 1  # generous: the benchmark asks for >= 8
    finally:
        channel.close()
        process.send_signal(signal.SIGTERM)
        try:
            # uvicorn (0.29+) re-raises the SIGTERM it handled once it has shut down.
            assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
