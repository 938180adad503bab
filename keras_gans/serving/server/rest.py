"""TF Serving's REST API as an ASGI application (uvicorn runs it).

Routing follows `tensorflow_serving/model_servers/http_rest_api_util.cc`: the
request path (with its query string, as TF Serving's HTTP library reports it)
must fully match one of two case-insensitive patterns; everything else under
`/v1/` is a 400 `Malformed request`, and paths outside `/v1/` get a plain 404.

    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict    (also :classify, :regress)
    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata   model metadata

Every API answer is `application/json`; errors are `{"error": "<message>"}`
with the HTTP status of the canonical code (see `errors.HTTP_STATUS`).

Limits (see `RestApi`): a body over `max_request_bytes` is answered 413 before it
is read (from its Content-Length) or as soon as a chunked body grows past it; a
POST finding every request slot taken is answered 503 before its body is read.
Both close the connection, so the rest of the body is never read. Request bodies
are parsed, run and their answers encoded on a pool of worker threads
(`--rest_api_num_threads`), never on the event loop, so one large request does
not hold up the others.

The application speaks ASGI directly, with no web framework between uvicorn and
TF Serving's routing: every request goes through the same two patterns anyway, and
a framework's routing, middleware and request objects cost more server CPU per
1-sample request than the model call does (benchmarks/serving_latency.py).

Example:
    app = create_app(ServingCore(manager))
    uvicorn.run(app, host="0.0.0.0", port=8501, proxy_headers=False)
"""

import asyncio
import logging
import os
import re
import threading
import urllib.parse
from concurrent import futures

from keras_gans import contract
from keras_gans.serving.errors import ServingError, invalid_argument
from keras_gans.serving.server import json_tensor
from keras_gans.serving.server.options import ServerOptions

_API_RE = re.compile(r"/v1/.*", re.IGNORECASE | re.ASCII)
_PREDICT_RE = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE | re.ASCII,
)
_STATUS_RE = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/([0-9]+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE | re.ASCII,
)
_INT64_MAX = 2**63 - 1
_JSON = "application/json"
_CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"POST, GET"),
    (b"access-control-allow-headers", b"Content-Type"),
]

log = logging.getLogger("keras_gans.serving")


def _decode(component):
    """Percent-decodes a path component as curl does ('+' stays '+')."""
    return urllib.parse.unquote_to_bytes(component.encode("latin-1")).decode("utf-8", errors="replace")


def _json_dict(message):
    from google.protobuf import json_format

    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )


class RestApi:
    """The REST front end of a `ServingCore`.

    Args:
        core: the `ServingCore` answering requests.
        enable_cors: add CORS headers to every answer
            (`--rest_api_enable_cors_support`).
        max_request_bytes: the largest request body read
            (`--rest_api_max_request_bytes`, 32 MiB; 0: no limit). A larger one gets 413
            `{"error": ...}` (canonical code RESOURCE_EXHAUSTED) and the connection
            is closed, before the body is parsed.
        max_concurrent_requests: POST requests in flight at once
            (`--max_concurrent_requests`, 32; 0: no limit); one more gets 503
            `{"error": ...}` (UNAVAILABLE) at once, never a queue.
        slots: a `threading.Semaphore` holding those requests' slots, to share
            them with the gRPC front end; made from `max_concurrent_requests`
            when None.
        num_threads: worker threads parsing, running and encoding requests
            (`--rest_api_num_threads`; 0: one per request in flight, at least
            four per CPU, TF Serving's default).
    """

    def __init__(self, core, enable_cors=False, max_request_bytes=ServerOptions.rest_api_max_request_bytes,
                 max_concurrent_requests=ServerOptions.max_concurrent_requests, slots=None, num_threads=0):
        self.core = core
        self.enable_cors = enable_cors
        self.max_request_bytes = max_request_bytes
        self.max_concurrent_requests = max_concurrent_requests
        if slots is None and max_concurrent_requests:
            slots = threading.BoundedSemaphore(max_concurrent_requests)
        self.slots = slots
        self.executor = futures.ThreadPoolExecutor(
            max_workers=num_threads or max(max_concurrent_requests, 4 * (os.cpu_count() or 1)),
            thread_name_prefix="rest",
        )

    def _response(self, status, body=b"", content_type=_JSON, close=False):
        """An answer: `(status, headers, body)`, as `__call__` sends it."""
        headers = list(_CORS_HEADERS) if self.enable_cors else []
        if content_type:
            headers.append((b"content-type", content_type.encode("latin-1")))
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        if close:
            headers.append((b"connection", b"close"))  # uvicorn then closes it after the answer
        return status, headers, body

    def _error(self, error, close=False):
        return self._response(error.http_status, json_tensor.dumps({"error": error.message}), close=close)

    async def __call__(self, scope, receive, send):
        """The ASGI application: answers one HTTP request (other scopes are not served)."""
        if scope["type"] != "http":
            return
        try:
            status, headers, body = await self._answer(scope, receive)
        except _Disconnected:
            return  # The client went before its body was read: nobody to answer.
        except Exception as e:  # A bug, not a bad request: say so and keep serving.
            log.exception("REST request %s %s failed", scope.get("method"), scope.get("path"))
            status, headers, body = self._error(ServingError("INTERNAL", f"Internal error: {e}"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope, receive):
        if scope["path"] == self.PROMETHEUS_PATH:
            return self._response(200, self.core.prometheus_metrics().encode("utf-8"), content_type="text/plain")
        path = (scope.get("raw_path") or scope["path"].encode("utf-8")).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        if query and "?" not in path:
            path = f"{path}?{query}"
        if not _API_RE.fullmatch(path):
            return self._response(404, b"Not Found", content_type="text/plain; charset=utf-8")
        method = scope["method"]
        if method == "OPTIONS":
            origin = _header(scope, b"origin")
            status = 200 if re.search(r"https?://", origin) else 400
            return self._response(status, content_type=None)
        try:
            self._check_declared_length(scope)
            if method != "POST":  # Status and metadata: quick, answered on the loop.
                return self._dispatch(method, path, await self._read_body(receive))
            if self.slots is not None and not self.slots.acquire(blocking=False):
                raise _Refused(ServingError(
                    "UNAVAILABLE",
                    f"The server already has {self.max_concurrent_requests} requests in flight "
                    "(--max_concurrent_requests); try again later",
                ))
            try:
                body = await self._read_body(receive)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.executor, self._dispatch, method, path, body)
            finally:
                if self.slots is not None:
                    self.slots.release()
        except _Refused as e:
            return self._error(e.error, close=True)
        except ServingError as e:
            return self._error(e)

    def _too_large(self, size):
        # libevent (TF Serving's HTTP library) answers an over-long body with
        # 413 Request Entity Too Large (net_http's ENTITY_TOO_BIG).
        what = f"Request body of {size} bytes" if size is not None else "Request body"
        return _Refused(ServingError(
            "RESOURCE_EXHAUSTED",
            f"{what} exceeds the limit of {self.max_request_bytes} bytes (--rest_api_max_request_bytes)",
            http_status=413,
        ))

    def _check_declared_length(self, scope):
        declared = _header(scope, b"content-length")
        if self.max_request_bytes and declared.isdigit() and int(declared) > self.max_request_bytes:
            raise self._too_large(int(declared))

    async def _read_body(self, receive):
        """The body, read until done or past `max_request_bytes` (then refused)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if self.max_request_bytes and size > self.max_request_bytes:
                raise self._too_large(None)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _dispatch(self, method, path, body):
        malformed = invalid_argument(f"Malformed request: {method} {path}")
        if method == "POST":
            match = _PREDICT_RE.fullmatch(path)
        elif method == "GET":
            match = _STATUS_RE.fullmatch(path)
        else:
            raise malformed
        if not match:
            raise malformed
        name, version, label, verb = match.groups()
        name = _decode(name) if name else ""
        if version is not None:
            if int(version) > _INT64_MAX:
                # TF Serving's ParseModelInfo fails with this message, but its handler
                # returns before MakeJsonFromStatus, so TF Serving's 400 has an empty
                # body. Here the 400 carries the message, in TF Serving's error form:
                # a client learns what was wrong, and nothing that reads TF Serving's
                # answer reads this one differently.
                raise invalid_argument(f"Failed to convert version: {version} to numeric.")
            version = int(version)
        label = _decode(label) if label is not None else None
        spec = _model_spec(name, version, label)
        if method == "POST":
            if verb == "predict":
                return self._predict(spec, body)
            if verb in ("classify", "regress"):
                return self._classify_or_regress(spec, verb, body)
            raise malformed  # The verb is compared case-sensitively.
        if not name:
            raise invalid_argument("Missing model name in request.")
        if verb == "metadata":
            return self._metadata(spec)
        return self._status(spec)

    def _status(self, spec):
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        response = self.core.get_model_status(request)
        # Status keys use the protos' json_name (snake_case for these messages).
        body = json_format.MessageToDict(response, always_print_fields_with_no_presence=True)
        return self._response(200, json_tensor.dumps(body))

    def _metadata(self, spec):
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec=spec)
        request.metadata_field.append("signature_def")
        response = self.core.get_model_metadata(request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        body = {
            "model_spec": _json_dict(response.model_spec),
            "metadata": {"signature_def": _json_dict(signature_map)},
        }
        return self._response(200, json_tensor.dumps(body))

    def _predict(self, spec, body):
        from tensorflow_serving.apis import predict_pb2

        doc = json_tensor.parse_json(body)
        spec.signature_name = json_tensor.signature_name(doc)
        servable = self.core.servable_for(spec)
        key = spec.signature_name or contract.SERVING_DEFAULT
        signature = servable.signature_defs.get(key)
        if signature is None:
            raise invalid_argument(f'Serving signature name: "{key}" not found in signature def')
        if not signature.inputs:
            raise invalid_argument(
                f"Failed to get input map for signature: {spec.signature_name or 'DEFAULT'}"
            )
        input_types = {alias: info.dtype for alias, info in signature.inputs.items()}
        request_format, inputs = json_tensor.tensors_from_json(doc, input_types)
        request = predict_pb2.PredictRequest(model_spec=spec)
        _, _, outputs = self.core.predict(request, inputs=inputs, servable=servable)
        return self._response(200, json_tensor.json_from_tensors(outputs, request_format))

    def _classify_or_regress(self, spec, verb, body):
        doc = json_tensor.parse_json(body)
        spec.signature_name = json_tensor.signature_name(doc)
        examples = doc.get("examples")
        if examples is None:
            raise json_tensor.format_error(
                doc, "When method is classify, key 'examples' is expected and was not found"
            )
        if not isinstance(examples, list):
            raise json_tensor.format_error(doc, "Expecting 'examples' value to be an list/array")
        if not examples:
            raise json_tensor.format_error(doc, "'examples' value is an empty array")
        servable = self.core.servable_for(spec)
        key = spec.signature_name or contract.SERVING_DEFAULT
        signature = servable.signature_defs.get(key)
        if signature is None:
            raise ServingError("INVALID_ARGUMENT", f"No signature was found with the name: {key}")
        wanted = "tensorflow/serving/classify" if verb == "classify" else "tensorflow/serving/regress"
        kind = "classification" if verb == "classify" else "regression"
        raise ServingError(
            "INVALID_ARGUMENT",
            f"Expected {kind} signature method_name to be {wanted}. Was: {signature.method_name}",
        )

    # TF Serving's Prometheus endpoint (util/prometheus_exporter.cc, model_servers/http_server.cc):
    # text/plain, any method. TF Serving serves it only with --monitoring_config_file; the
    # embedded server always does, and its page holds the batching metrics (ServingCore).
    PROMETHEUS_PATH = "/monitoring/prometheus/metrics"


def _header(scope, name):
    """The first value of header `name` (lower-case bytes) as text, or ''."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


class _Refused(Exception):
    """A request answered before its body is read; the connection is then closed."""

    def __init__(self, error):
        self.error = error


class _Disconnected(Exception):
    """The client closed its connection before its request body was read."""


def _model_spec(name, version, label):
    from tensorflow_serving.apis import model_pb2

    spec = model_pb2.ModelSpec(name=name)
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label
    return spec


def create_app(core, enable_cors=False, **limits):
    """An ASGI app serving TF Serving's REST API for `core` (a `ServingCore`).

    `limits` are `RestApi`'s `max_request_bytes`, `max_concurrent_requests`,
    `slots` and `num_threads`.
    """
    return RestApi(core, enable_cors=enable_cors, **limits)
