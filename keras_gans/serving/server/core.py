"""The request logic shared by the REST and gRPC front ends.

Predict, GetModelStatus and GetModelMetadata take TF Serving's request protos
(`tensorflow_serving.apis`) and return its response protos or raise a
`ServingError`, with TF Serving's checks in TF Serving's order
(`predict_impl.cc`, `predict_util.cc`, `get_model_status_impl.cc`,
`get_model_metadata_impl.cc`). Nothing here knows about GANs: the server
serves any SavedModel, and the generators' own checks run inside their graphs.
"""

import re
import threading
import weakref

import numpy as np

from keras_gans import contract
from keras_gans.serving.errors import ServingError, failed_precondition, invalid_argument, not_found
from keras_gans.serving.server import manager as manager_lib
from keras_gans.serving.server.json_tensor import dtype_name

DEFAULT_SIGNATURE = contract.SERVING_DEFAULT  # what a request naming no signature gets
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
SIGNATURE_DEF_FIELD = "signature_def"

_CODE_VALUES = {name: value for value, name in manager_lib._CODE_NAMES.items()}


def _apis():
    from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

    return predict_pb2, get_model_status_pb2, get_model_metadata_pb2


def clean_tf_message(message):
    """A TF runtime error message without the Python client's decorations."""
    message = re.sub(r"^Graph execution error:\s*", "", message)
    message = re.sub(r"Detected at node .*?\n(<stack traces unavailable>\n)?", "", message, flags=re.S)
    return message.strip()


class ServingCore:
    """Answers Predict, GetModelStatus and GetModelMetadata for a `ModelManager`.

    Args:
        manager: the `ModelManager` holding the loaded versions.
        batching: `--enable_batching`: a `config.BatchingConfig`, or True for TF
            Serving's defaults, or None / False for none. Concurrent Predict calls to
            one version and signature are then merged into one model call by a
            `batching.BatchingSession` per version, on one `SharedBatchScheduler` for
            the server; as in TF Serving's batching session, inputs without a batch
            dimension (the scalar `num_samples` of the `sample` signature) are
            rejected. A version's queue options are `servable.batching_options`
            when the manager loaded it with the same `BatchingConfig` (per-model
            parameters), else the config's server-wide ones.
    """

    def __init__(self, manager, batching=None):
        from keras_gans.serving.server import config as config_lib
        from keras_gans.serving.server.batching import BatchingMetrics, SharedBatchScheduler

        self.manager = manager
        if batching is True:
            batching = config_lib.BatchingConfig()
        self.batching = batching or None
        self.metrics = BatchingMetrics()
        self.scheduler = None
        if self.batching is not None:
            self.scheduler = SharedBatchScheduler(
                self.batching.num_batch_threads, self.batching.thread_pool_name, metrics=self.metrics
            )
        self._lock = threading.Lock()
        self._sessions = {}  # servable -> BatchingSession
        self._retired = weakref.WeakSet()
        # An unloaded version's queues close (what they hold still runs); the server's
        # stop ends the batch threads.
        manager.add_retire_callback(self._retire)
        manager.add_stop_callback(self.close)

    def close(self):
        """Stops batching: queued requests complete; the batch threads exit."""
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()
        if self.scheduler is not None:
            self.scheduler.stop()

    def prometheus_metrics(self):
        """The batching metrics in Prometheus' text format (TF Serving's names)."""
        return self.metrics.prometheus_text()

    # -- batching ---------------------------------------------------------------
    def _retire(self, servable):
        with self._lock:
            self._retired.add(servable)
            session = self._sessions.pop(servable, None)
        if session is not None:
            session.close()

    def _batching_session(self, servable):
        """The `BatchingSession` of `servable`, or None when its requests run unbatched."""
        if self.batching is None:
            return None
        options = getattr(servable, "batching_options", None)
        if options is None:
            if self.batching.per_model:
                return None  # No batching_params.pbtxt in its version folder.
            options = self.batching.common_options()
        from keras_gans.serving.server.batching import BatchingSession

        with self._lock:
            session = self._sessions.get(servable)
            if session is None:
                if servable in self._retired:
                    return None  # Unloaded while this request held it: run it on its own.
                session = BatchingSession(
                    lambda feeds, fetches: self._run(servable, feeds, fetches), self.scheduler, options
                )
                self._sessions[servable] = session
            return session

    # -- model lookup ---------------------------------------------------------
    def servable_for(self, model_spec):
        """The servable a `ModelSpec` proto designates (see `ModelManager.resolve`)."""
        choice = model_spec.WhichOneof("version_choice")
        return self.manager.resolve(
            model_spec.name,
            version=model_spec.version.value if choice == "version" else None,
            label=model_spec.version_label if choice == "version_label" else None,
        )

    # -- Predict ----------------------------------------------------------------
    def predict(self, request, inputs=None, servable=None):
        """Runs a `PredictRequest`.

        Args:
            request: a `tensorflow.serving.PredictRequest`; its `inputs` are
                used unless `inputs` is given.
            inputs: optional {alias: np.ndarray}, already decoded (REST).
            servable: optional servable already resolved from the model spec.

        Returns:
            `(servable, signature_name, {alias: np.ndarray})`.
        """
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        if servable is None:
            servable = self.servable_for(request.model_spec)
        name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signature_defs.get(name)
        if signature is None:
            raise failed_precondition(f'Serving signature key "{name}" not found.')
        if signature.method_name not in (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD):
            raise ServingError(
                "INTERNAL",
                "Expected prediction signature method_name to be one of "
                f"{{{PREDICT_METHOD}, {CLASSIFY_METHOD}, {REGRESS_METHOD}}}. Was: {signature.method_name}",
            )
        if inputs is None:
            inputs = self._decode_inputs(request.inputs)
        self._check_input_names(signature, inputs)
        feeds = {}
        for index, alias in enumerate(sorted(signature.inputs)):
            info = signature.inputs[alias]
            if alias in inputs:
                array = inputs[alias]
            elif alias in signature.defaults:
                array = self._decode_inputs({alias: signature.defaults[alias]})[alias]
            else:
                raise invalid_argument(f"Missing input {alias!r} of signature {name!r}, which has no default for it")
            expected = _numpy_dtype(info.dtype)
            if array.dtype != expected and not (array.dtype == object and info.dtype == 7):
                raise invalid_argument(
                    f"Expects arg[{index}] to be {dtype_name(info.dtype)} but "
                    f"{_dtype_name_of(array)} is provided"
                )
            feeds[info.name] = array
        fetches = self._fetches(signature, request.output_filter)
        session = self._batching_session(servable)
        if session is None:
            outputs = self._run(servable, feeds, fetches)
        else:
            outputs = session.run(feeds, fetches)
        return servable, name, outputs

    @staticmethod
    def _decode_inputs(tensor_protos):
        import tensorflow as tf

        arrays = {}
        for alias, proto in tensor_protos.items():
            try:
                if any(d.size < 0 for d in proto.tensor_shape.dim):
                    raise ValueError("negative dimension")
                arrays[alias] = tf.make_ndarray(proto)
            except Exception:
                raise invalid_argument(f"tensor parsing error: {alias}") from None
        return arrays

    @staticmethod
    def _check_input_names(signature, inputs):
        expected, sent = set(signature.inputs), set(inputs)
        if len(sent) > len(expected) or (len(sent) < len(expected) and not signature.defaults):
            raise invalid_argument(
                f"input size does not match signature: {len(sent)}!={len(expected)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
                f"Missing but required: {{{','.join(sorted(expected - sent))}}}."
            )
        for alias in sorted(sent - expected):
            raise invalid_argument(
                f"input tensor alias not found in signature: {alias}. "
                f"Inputs expected to be in the set {{{','.join(sorted(expected))}}}."
            )

    @staticmethod
    def _fetches(signature, output_filter):
        fetches = {}
        for alias in output_filter:
            if alias not in signature.outputs:
                raise invalid_argument(
                    f"output tensor alias not found in signature: {alias} Outputs expected to be "
                    f"in the set {{{','.join(sorted(signature.outputs))}}}."
                )
            if alias in fetches:
                raise invalid_argument(f"duplicate output tensor alias: {alias}")
            fetches[alias] = signature.outputs[alias].name
        if not fetches:
            fetches = {alias: info.name for alias, info in signature.outputs.items()}
        return fetches

    @staticmethod
    def _run(servable, feeds, fetches):
        import tensorflow as tf

        try:
            outputs = servable.run(feeds, fetches)
        except tf.errors.OpError as e:
            code = manager_lib._CODE_NAMES.get(e.error_code, "UNKNOWN")
            raise ServingError(code, clean_tf_message(e.message)) from None
        except (ValueError, TypeError) as e:
            # The Python session checks fed shapes before running; TF Serving's
            # C++ session leaves them to the kernels. Both are INVALID_ARGUMENT.
            raise invalid_argument(str(e)) from None
        return {alias: np.asarray(value) for alias, value in outputs.items()}

    # -- GetModelStatus ------------------------------------------------------------
    def get_model_status(self, request):
        """Answers a `GetModelStatusRequest` (a label is ignored: all versions)."""
        _, status_pb2, _ = _apis()
        from tensorflow_serving.apis import status_pb2 as util_status_pb2

        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        spec = request.model_spec
        states = self.manager.version_states(spec.name)
        if spec.WhichOneof("version_choice") == "version":
            version = spec.version.value
            if version not in states:
                raise not_found(f"Could not find version {version} of model {spec.name}")
            states = {version: states[version]}
        elif not states:
            raise not_found(f"Could not find any versions of model {spec.name}")
        response = status_pb2.GetModelStatusResponse()
        for version, state in states.items():
            entry = response.model_version_status.add()
            entry.version = version
            entry.state = status_pb2.ModelVersionStatus.State.Value(state.state)
            entry.status.CopyFrom(
                util_status_pb2.StatusProto(
                    error_code=_CODE_VALUES[state.error_code], error_message=state.error_message
                )
            )
        return response

    # -- GetModelMetadata ----------------------------------------------------------
    def get_model_metadata(self, request):
        """Answers a `GetModelMetadataRequest` (only the `signature_def` field exists)."""
        _, _, metadata_pb2 = _apis()
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        if not request.metadata_field:
            raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise invalid_argument(f"Metadata field {field} is not supported")
        servable = self.servable_for(request.model_spec)
        signature_map = metadata_pb2.SignatureDefMap()
        for key, signature in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        response = metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response


def _numpy_dtype(dtype_enum):
    from keras_gans.serving.server.json_tensor import NUMPY_DTYPES

    if dtype_enum in NUMPY_DTYPES:
        return np.dtype(NUMPY_DTYPES[dtype_enum])
    import tensorflow as tf

    return np.dtype(tf.dtypes.as_dtype(dtype_enum).as_numpy_dtype)


def _dtype_name_of(array):
    if array.dtype == object or array.dtype.kind in ("S", "U"):
        return "string"
    import tensorflow as tf

    return tf.dtypes.as_dtype(array.dtype).name.replace("float32", "float").replace("float64", "double").replace("float16", "half")
