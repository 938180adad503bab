"""Canonical error codes shared by the embedded server and the client.

TF Serving reports every failure as a canonical status code (the gRPC codes)
and a message; its REST API maps the code to an HTTP status
(`tensorflow_serving/model_servers/http_server.cc`). Both the server and the
client use the table below, so a code means the same thing on both sides.
"""

# Canonical code name -> HTTP status, as TF Serving's REST server maps them.
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}

# HTTP status -> the most likely canonical code, for clients reading REST errors.
CODE_FOR_HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",  # a body over the embedded server's --rest_api_max_request_bytes
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ServingError(Exception):
    """A request failed with a canonical status code and TF Serving's message.

    Raised by the embedded server's request handling (and turned into a REST
    `{"error": message}` body or a gRPC status), and by
    `keras_gans.serving.Client` when a server answers with an error.

    Args:
        code: canonical code name, e.g. `"INVALID_ARGUMENT"` or `"NOT_FOUND"`.
        message: the server's message, unchanged.
        http_status: the HTTP status of a REST answer (derived from `code`
            when not given).

    Example:
        >>> try:
        ...     client.sample("dcgan_mnist", n=0)
        ... except ServingError as e:
        ...     print(e.code, e.message)
        INVALID_ARGUMENT assertion failed: [num_samples must be between 1 and 1024 ...]
    """

    def __init__(self, code, message, http_status=None):
        if code not in HTTP_STATUS:
            raise ValueError(f"Unknown canonical code {code!r}; expected one of {sorted(HTTP_STATUS)}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status if http_status is not None else HTTP_STATUS[code]


def invalid_argument(message):
    return ServingError("INVALID_ARGUMENT", message)


def not_found(message):
    return ServingError("NOT_FOUND", message)


def failed_precondition(message):
    return ServingError("FAILED_PRECONDITION", message)
