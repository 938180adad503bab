"""Loads, serves and retires model versions the way TF Serving's ServerCore does.

A `ModelManager` watches each model's base path. Integer sub-folders are
versions; the model's version policy (latest N, all, specific) decides which
ones should be served ("aspired"). New aspired versions are loaded with the
TF1 SavedModel loader (`tf.compat.v1.saved_model.loader.load`, the Python
twin of TF Serving's C++ loader: a graph, a session, the `serve` meta graph and
its SignatureDefs). Versions are unloaded under TF Serving's
availability-preserving policy: a version stops being served only once an
aspired version is available, so a version that fails to load (reported as
`END` with its error in the status API) never takes the model down.

A failed version is not reloaded on every poll: it is tried again when its
folder's content changes (TF Serving retries a fixed number of times instead).

Example:
    manager = ModelManager()
    manager.set_config(config.single_model_config("dcgan", "/abs/saved_models/dcgan"))
    manager.poll()
    servable = manager.resolve("dcgan")  # the latest available version
"""

import logging
import os
import threading

import numpy as np

from keras_gans import layout
from keras_gans.contract import SERVE_TAG
from keras_gans.serving.errors import ServingError, invalid_argument, not_found
from keras_gans.serving.server import config as config_lib

log = logging.getLogger("keras_gans.serving")

START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"

# The most feed-and-fetch combinations a servable keeps a `_RunPlan` for (`Servable.run`).
_MAX_PLANS = 64


def _error_code_name(exception):
    """Canonical code name for an exception raised while loading a SavedModel."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    if isinstance(exception, ServingError):
        return exception.code
    if isinstance(exception, tf.errors.OpError):
        return _CODE_NAMES.get(exception.error_code, "UNKNOWN")
    if isinstance(exception, DecodeError):
        return "DATA_LOSS"
    if isinstance(exception, (FileNotFoundError, OSError)):
        return "NOT_FOUND"
    return "UNKNOWN"


_CODE_NAMES = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND", 6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED",
    13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}


class Servable:
    """One loaded version of a model: its session and SignatureDefs.

    Args:
        name: model name.
        version: version number.
        path: the version folder.
        session_config: optional `tf.compat.v1.ConfigProto`.
        tags: meta graph tags to load (TF Serving's `--saved_model_tags`).
    """

    def __init__(self, name, version, path, session_config=None, tags=(SERVE_TAG,)):
        import tensorflow as tf

        self.name = name
        self.version = version
        self.path = path
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=session_config)
        try:
            with self.graph.as_default():
                if not layout.is_saved_model(path):
                    raise FileNotFoundError(
                        "Could not find SavedModel .pb or .pbtxt at supplied export "
                        f"directory path: {path}"
                    )
                meta_graph = tf.compat.v1.saved_model.loader.load(self.session, list(tags), path)
        except BaseException:
            self.session.close()
            raise
        # Requests only run existing tensors by name; a finalized graph makes
        # that safe to do from many threads.
        self.graph.finalize()
        self.signature_defs = dict(meta_graph.signature_def)
        self._plans = {}  # see run()
        self._plans_lock = threading.Lock()
        # `batching.QueueOptions` when requests to this version are batched (set by
        # the manager from its `BatchingConfig`), else None.
        self.batching_options = None

    def run(self, feeds, fetches):
        """Runs the session: `feeds` {tensor name: array}, `fetches` {alias: tensor name}.

        Each combination of fed and fetched tensors gets a `_RunPlan`, made once: the
        graph's tensors, their dtypes and shapes looked up when it is made, so a call
        only converts and checks the fed arrays and runs the session. `Session.run`
        (and `Session.make_callable`, which hands any feed back to it) parses its feeds
        and fetches anew on every call, ~85 % of a 1-sample model call's time here.
        Past `_MAX_PLANS` combinations (output filters of many subsets), the rest
        go through `Session.run`.
        """
        key = (tuple(feeds), tuple(fetches.items()))
        plan = self._plans.get(key)
        if plan is None:
            with self._plans_lock:
                plan = self._plans.get(key)
                if plan is None and len(self._plans) < _MAX_PLANS:
                    plan = self._plans[key] = _RunPlan(self.session, list(feeds), fetches)
        if plan is None:
            return self.session.run(fetches, feed_dict=feeds)
        return plan(feeds.values())

    def __del__(self):
        # In-flight requests hold a reference; the session closes after the last.
        session = getattr(self, "session", None)
        if session is not None:
            try:
                session.close()
            except Exception:
                pass


class _RunPlan:
    """One feed-and-fetch combination of a session, resolved once (see `Servable.run`).

    A call converts each fed value to its tensor's dtype, checks its shape against
    the tensor's as `Session.run` does (the same `ValueError` and message), and runs
    the session's C API wrapper; its errors are `tf.errors.OpError`s, as
    `Session.run`'s are. The graph is finalized, so nothing is added to it after
    the plan's first call.
    """

    def __init__(self, session, feed_names, fetches):
        graph = session.graph
        self._session = session
        self._aliases = list(fetches)
        self._feeds = []
        for name in feed_names:
            tensor = graph.get_tensor_by_name(name)
            if not graph.is_feedable(tensor):
                raise ValueError(f"Tensor {tensor.name} may not be fed.")
            shape = tensor.get_shape()
            self._feeds.append((tensor._as_tf_output(), tensor.dtype.as_numpy_dtype, shape,
                                None if shape.rank is None else shape.as_list(), tensor.name))
        self._fetches = [graph.get_tensor_by_name(name)._as_tf_output() for name in fetches.values()]
        session._extend_graph()  # a no-op once the session has run the finalized graph

    def __call__(self, values):
        feed_dict = {}
        for (output, dtype, shape, dims, name), value in zip(self._feeds, values):
            array = np.asarray(value, dtype)
            if dims is not None and (len(dims) != array.ndim or any(
                    d is not None and d != n for d, n in zip(dims, array.shape))):
                raise ValueError(f"Cannot feed value of shape {array.shape} for Tensor {name}, which has shape {shape}")
            feed_dict[output] = array
        results = self._session._call_tf_sessionrun(None, feed_dict, self._fetches, [], None)
        return dict(zip(self._aliases, results))


class VersionState:
    """The status of one version, as `GetModelStatus` reports it."""

    def __init__(self, version, path):
        self.version = version
        self.path = path
        self.state = START
        self.error_code = "OK"
        self.error_message = ""
        self.servable = None
        self.fingerprint = None

    def copy(self):
        other = VersionState(self.version, self.path)
        other.__dict__.update(self.__dict__)
        return other


def _fingerprint(path):
    """A cheap summary of a version folder's content, to notice it changed."""
    entries = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            entries.append((os.path.relpath(os.path.join(root, name), path), st.st_size, st.st_mtime_ns))
    try:
        entries.append(os.stat(path).st_mtime_ns)
    except OSError:
        pass
    return tuple(entries)


def _aspired_versions(model_config, on_disk):
    """The versions the model's version policy wants served, from those on disk."""
    policy = model_config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return set(on_disk)
    if choice == "specific":
        return set(on_disk) & set(policy.specific.versions)
    num_versions = max(policy.latest.num_versions, 1) if choice == "latest" else 1
    return set(sorted(on_disk)[-num_versions:])


class _Model:
    def __init__(self, model_config):
        self.config = model_config
        self.versions = {}  # version -> VersionState


class ModelManager:
    """Serves the models of a `ModelServerConfig`, polling their base paths.

    Args:
        session_config: optional `tf.compat.v1.ConfigProto` for every session.
        tags: meta graph tags to load.
        batching: optional `config.BatchingConfig` (`--enable_batching`): each
            version loads with its queue options (`Servable.batching_options`), read
            like TF Serving's bundle factory does, and fails to load when they are
            invalid.
    """

    def __init__(self, session_config=None, tags=(SERVE_TAG,), batching=None):
        self._session_config = session_config
        self._tags = tuple(tags)
        self._batching = batching
        self._retire_callbacks = []
        self._stop_callbacks = []
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._models = {}
        self._stop = threading.Event()
        self._thread = None

    # -- configuration -------------------------------------------------------
    def set_config(self, model_server_config):
        """Serves exactly the models of `model_server_config` (a ModelServerConfig)."""
        config_lib.validate_model_server_config(model_server_config)
        with self._lock:
            wanted = {m.name: m for m in model_server_config.model_config_list.config}
            retired = []
            for name in list(self._models):
                if name not in wanted:
                    log.info("Removing model %s", name)
                    retired += [s.servable for s in self._models[name].versions.values() if s.servable is not None]
                    del self._models[name]
            for name, model_config in wanted.items():
                if name in self._models:
                    self._models[name].config = model_config
                else:
                    self._models[name] = _Model(model_config)
        self._retired(retired)

    def add_retire_callback(self, callback):
        """Calls `callback(servable)` whenever a loaded version stops being served."""
        self._retire_callbacks.append(callback)

    def add_stop_callback(self, callback):
        """Calls `callback()` when the manager stops (the server is shutting down)."""
        self._stop_callbacks.append(callback)

    def _retired(self, servables):
        for servable in servables:
            for callback in self._retire_callbacks:
                try:
                    callback(servable)
                except Exception:
                    log.exception("A retire callback failed")

    def model_names(self):
        with self._lock:
            return sorted(self._models)

    # -- polling -------------------------------------------------------------
    def poll(self):
        """Scans every base path once: loads new aspired versions, unloads retired ones."""
        with self._poll_lock:
            with self._lock:
                models = list(self._models.items())
            for name, model in models:
                try:
                    self._poll_model(name, model)
                except Exception:  # One model's trouble must not stop the others.
                    log.exception("Polling model %s failed", name)

    def _poll_model(self, name, model):
        base_path = model.config.base_path
        if not os.path.isdir(base_path):
            log.warning("Could not find base path %s for servable %s", base_path, name)
            return
        # Every child TF Serving reads as a version, loadable or not: like TF Serving, the
        # latest policy aspires the highest one even if it is empty (and it fails to load).
        on_disk = {version: str(path) for version, path in layout.version_dirs(base_path).items()}
        aspired = _aspired_versions(model.config, on_disk)

        # Load new aspired versions, highest first.
        for version in sorted(aspired, reverse=True):
            path = on_disk[version]
            with self._lock:
                state = model.versions.get(version)
                if state is not None and state.state in (AVAILABLE, LOADING):
                    continue
                fingerprint = _fingerprint(path)
                if state is not None and state.state == END and state.fingerprint == fingerprint:
                    continue  # Failed (or was retired) with this very content.
                state = VersionState(version, path)
                state.state = LOADING
                state.fingerprint = fingerprint
                model.versions[version] = state
            log.info("Loading servable version {name: %s version: %d} from %s", name, version, path)
            try:
                servable = Servable(name, version, path, self._session_config, self._tags)
                if self._batching is not None:
                    servable.batching_options = self._batching.options_for(path)
            except Exception as e:  # Reported in the status API, not raised.
                message = (e.message if isinstance(e, ServingError) else str(e).strip()) or type(e).__name__
                with self._lock:
                    state.state = END
                    state.error_code = _error_code_name(e)
                    state.error_message = message
                log.error("Loading servable version {name: %s version: %d} failed: %s", name, version, message)
                continue
            with self._lock:
                state.servable = servable
                state.state = AVAILABLE
            log.info("Successfully loaded servable version {name: %s version: %d}", name, version)

        # Unload under the availability-preserving policy.
        retired_servables = []
        with self._lock:
            while True:
                available = {v for v, s in model.versions.items() if s.state == AVAILABLE}
                unaspired = sorted(available - aspired)
                aspired_serving = bool(available & aspired)
                if unaspired and (not aspired or aspired_serving or len(unaspired) > 1):
                    retired = model.versions[unaspired[0]]
                    retired_servables.append(retired.servable)
                    retired.state = END
                    retired.servable = None
                    retired.fingerprint = None
                    log.info("Unloaded servable version {name: %s version: %d}", name, retired.version)
                    continue
                break
        self._retired(retired_servables)

    def start_polling(self, poll_wait_seconds, config_file=None, config_poll_wait_seconds=0):
        """Polls in a daemon thread every `poll_wait_seconds` (TF Serving's flag semantics).

        Args:
            poll_wait_seconds: seconds between polls of the base paths; 0 or
                less: no polling after the initial one.
            config_file: optional `--model_config_file` to re-read.
            config_poll_wait_seconds: seconds between reads of `config_file`;
                0: read once at startup only.
        """
        if poll_wait_seconds <= 0 and (not config_file or config_poll_wait_seconds <= 0):
            return

        def loop():
            import time

            last_config = time.monotonic()
            config_mtime = os.stat(config_file).st_mtime_ns if config_file else None
            period = min(
                p for p in (poll_wait_seconds, config_poll_wait_seconds) if p and p > 0
            )
            while not self._stop.wait(period):
                now = time.monotonic()
                if config_file and config_poll_wait_seconds > 0 and now - last_config >= config_poll_wait_seconds:
                    last_config = now
                    try:
                        mtime = os.stat(config_file).st_mtime_ns
                        if mtime != config_mtime:
                            self.set_config(config_lib.read_model_config_file(config_file))
                            config_mtime = mtime
                            self.poll()
                    except Exception as e:
                        log.error("Reloading %s failed: %s", config_file, e)
                if poll_wait_seconds > 0:
                    self.poll()

        self._thread = threading.Thread(target=loop, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for callback in self._stop_callbacks:
            try:
                callback()
            except Exception:
                log.exception("A stop callback failed")

    # -- requests ------------------------------------------------------------
    def resolve(self, name, version=None, label=None):
        """The servable a request for (name, version or label) gets.

        Raises:
            ServingError: INVALID_ARGUMENT for an empty name or an unknown
                label (even of an unknown model, as in TF Serving); NOT_FOUND
                for an unknown model or a version that is not available.
        """
        if not name:
            raise invalid_argument("ModelSpec has no name specified.")
        with self._lock:
            model = self._models.get(name)
            if label is not None:
                labels = dict(model.config.version_labels) if model is not None else {}
                if label not in labels:
                    raise invalid_argument(f"Unrecognized servable version label: {label}")
                version = labels[label]
            if version is not None:
                state = model.versions.get(version) if model is not None else None
                if state is None or state.state != AVAILABLE:
                    raise not_found(f"Servable not found for request: Specific({name}, {version})")
                return state.servable
            available = [] if model is None else [
                v for v, s in model.versions.items() if s.state == AVAILABLE
            ]
            if not available:
                raise not_found(f"Servable not found for request: Latest({name})")
            return model.versions[max(available)].servable

    def version_states(self, name):
        """{version: VersionState} of every version of `name` ever seen, newest first."""
        with self._lock:
            model = self._models.get(name)
            if model is None:
                return {}
            return {v: model.versions[v].copy() for v in sorted(model.versions, reverse=True)}

    def is_ready(self):
        """True when every configured model has an available version."""
        with self._lock:
            return all(
                any(s.state == AVAILABLE for s in m.versions.values()) for m in self._models.values()
            )


__all__ = ["ModelManager", "Servable", "VersionState", "ServingError"]
