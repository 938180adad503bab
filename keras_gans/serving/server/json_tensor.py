"""TF Serving's REST JSON formats: request bodies to tensors, tensors to responses.

Follows `tensorflow_serving/util/json_tensor.cc`: the row (`instances`) and
columnar (`inputs`) request formats, the `{"b64": ...}` encoding of binary
strings, the dtype rules for JSON values, the `predictions` / `outputs`
response formats, and the error messages, so a client sees the same answers
here as from `tensorflow_model_server`.

Request values are checked and converted a whole tensor at a time (one pass of
type checks over the leaves, one NumPy conversion); a request the fast path cannot
take (a ragged list, a wrong type, a string input) goes through the element-wise
reader, which gives TF Serving's error for it. Responses are written by orjson
from a flat array, the nesting brackets put in place around its commas with NumPy:
orjson writes nested arrays with a trailing dimension of 1 (28x28x1 images) as one
tiny list per value, ~15 times slower. Floats are written as the shortest text
that reads back to the same float32 (TF Serving writes `%g`/`%.9g`; both parse to
the same value).

Example:
    doc = parse_json(b'{"inputs": {"num_samples": 4, "seed": 7}}')
    fmt, tensors = tensors_from_json(doc, {"num_samples": DT_INT32, "seed": DT_INT64})
    body = json_from_tensors({"images": images}, fmt)
"""

import base64
import binascii
import itertools
import json
import math

import numpy as np
import orjson

from keras_gans import contract
from keras_gans.serving.errors import ServingError, invalid_argument

ROW, COLUMNAR = "row", "columnar"

# tensorflow.DataType enum values used by SignatureDefs (types.proto).
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8, DT_STRING = 1, 2, 3, 4, 5, 6, 7
DT_INT64, DT_BOOL, DT_UINT16, DT_HALF, DT_UINT32, DT_UINT64 = 9, 10, 17, 19, 22, 23

NUMPY_DTYPES = {
    DT_FLOAT: np.float32,
    DT_DOUBLE: np.float64,
    DT_INT32: np.int32,
    DT_UINT8: np.uint8,
    DT_INT16: np.int16,
    DT_INT8: np.int8,
    DT_STRING: np.object_,
    DT_INT64: np.int64,
    DT_BOOL: np.bool_,
    DT_UINT16: np.uint16,
    DT_HALF: np.float16,
    DT_UINT32: np.uint32,
    DT_UINT64: np.uint64,
}

_DTYPE_NAMES = {
    DT_FLOAT: "float", DT_DOUBLE: "double", DT_INT32: "int32", DT_UINT8: "uint8",
    DT_INT16: "int16", DT_INT8: "int8", DT_STRING: "string", DT_INT64: "int64",
    DT_BOOL: "bool", DT_UINT16: "uint16", DT_HALF: "half", DT_UINT32: "uint32",
    DT_UINT64: "uint64",
}

_INT_RANGES = {
    # dtype: (low, high) of the JSON integer accepted (rapidjson IsInt, IsInt64, ...).
    DT_INT32: (-(2**31), 2**31 - 1),
    DT_INT16: (-(2**31), 2**31 - 1),
    DT_INT8: (-(2**31), 2**31 - 1),
    DT_UINT8: (-(2**31), 2**31 - 1),
    DT_INT64: (-(2**63), 2**63 - 1),
    DT_UINT32: (0, 2**32 - 1),
    DT_UINT64: (0, 2**64 - 1),
}

_MAX_DEBUG_BYTES = 256


def dtype_name(dtype):
    """TensorFlow's `DataTypeString` of a DataType enum value ("float", "int32", ...)."""
    if dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(dtype)[3:].lower()


# ---------------------------------------------------------------------------
# JSON values in error messages.
# ---------------------------------------------------------------------------
def json_type(value):
    """rapidjson's type name of a parsed JSON value."""
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _number_text(value):
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return str(value)


def debug_string(value):
    """A JSON value as TF Serving prints it in errors: pretty objects, one-line arrays, ~256 bytes."""
    out = []
    size = [0]

    def emit(text):
        if size[0] >= _MAX_DEBUG_BYTES:
            return False
        out.append(text)
        size[0] += len(text)
        return True

    def write(v, depth):
        if isinstance(v, dict):
            if not emit("{"):
                return False
            for i, (k, item) in enumerate(v.items()):
                if not emit(("," if i else "") + "\n" + "    " * (depth + 1) + json.dumps(k, ensure_ascii=False) + ": "):
                    return False
                if not write(item, depth + 1):
                    return False
            return emit(("\n" + "    " * depth if v else "") + "}")
        if isinstance(v, list):
            if not emit("["):
                return False
            for i, item in enumerate(v):
                if i and not emit(", "):
                    return False
                if not write(item, depth + 1):
                    return False
            return emit("]")
        if v is None:
            return emit("null")
        if isinstance(v, bool):
            return emit("true" if v else "false")
        if isinstance(v, str):
            return emit(json.dumps(v, ensure_ascii=False))
        return emit(_number_text(v))

    write(value, 0)
    return "".join(out)


def format_error(doc, *parts):
    """INVALID_ARGUMENT `JSON Value: <doc> <parts>`, TF Serving's form for a badly shaped request."""
    return invalid_argument(f"JSON Value: {debug_string(doc)} " + "".join(str(p) for p in parts))


def _type_error(value, dtype):
    return invalid_argument(
        f"JSON Value: {debug_string(value)} Type: {json_type(value)} "
        f"is not of expected type: {dtype_name(dtype)}"
    )


# ---------------------------------------------------------------------------
# Parsing request bodies.
# ---------------------------------------------------------------------------
def _lenient_loads(text):
    """rapidjson's reading with kParseNanAndInfFlag | kParseStopWhenDoneFlag.

    Accepts NaN, Inf, -Inf, Infinity, -Infinity, stops after the first
    complete value (trailing bytes ignored).
    """
    decoder = json.JSONDecoder()
    for _ in range(10000):
        start = len(text) - len(text.lstrip(" \t\n\r"))
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except json.JSONDecodeError as e:
            rest = text[e.pos:]
            for short, full in (("-Inf", "-Infinity"), ("Inf", "Infinity")):
                if rest.startswith(short) and not rest.startswith(full):
                    text = text[: e.pos] + full + rest[len(short):]
                    break
            else:
                message = "The document is empty" if not text.strip() else e.msg
                raise invalid_argument(f"JSON Parse error: {message} at offset: {e.pos}") from None
    raise invalid_argument("JSON Parse error: too many Inf tokens")


def parse_json(body):
    """Parses a request body as TF Serving does; the top level must be an object.

    Args:
        body: the raw request bytes.

    Returns:
        The parsed JSON object (a dict).

    Raises:
        ServingError: INVALID_ARGUMENT `JSON Parse error: ...` or `... Is not object`.
    """
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        # Not strict JSON: NaN/Infinity tokens, trailing bytes, invalid UTF-8 or
        # integers beyond 64 bits; rapidjson accepts all of these.
        doc = _lenient_loads(body.decode("utf-8", errors="surrogateescape"))
    if not isinstance(doc, dict):
        raise format_error(doc, "Is not object")
    return doc


def signature_name(doc):
    """The request's `signature_name` ("" when absent); it must be a string."""
    if "signature_name" not in doc:
        return ""
    value = doc["signature_name"]
    if not isinstance(value, str):
        raise invalid_argument(
            f"JSON Value: {debug_string(doc)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return value


def _is_b64_object(value):
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _decode_b64(value):
    if not _is_b64_object(value):
        raise invalid_argument(f"JSON Value: {debug_string(value)} not formatted correctly for base64 data")
    text = value["b64"].strip()
    try:
        text += "=" * (-len(text) % 4)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


def _convert_leaf(value, dtype):
    """One JSON scalar (or b64 object) as a Python value of `dtype`."""
    if isinstance(value, dict):
        if dtype == DT_STRING:
            return _decode_b64(value)
        raise _type_error(value, dtype)
    if dtype in (DT_FLOAT, DT_DOUBLE, DT_HALF):
        if type(value) not in (int, float):
            raise _type_error(value, dtype)
        return float(value)
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if type(value) is not int or not low <= value <= high:
            raise _type_error(value, dtype)
        return value
    if dtype == DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8", errors="surrogateescape")
    if dtype == DT_BOOL:
        if type(value) is not bool:
            raise _type_error(value, dtype)
        return value
    raise ServingError(
        "UNIMPLEMENTED", f"Conversion of JSON Value: {debug_string(value)} to type: {dtype_name(dtype)}"
    )


def _dense_shape(value):
    """The shape TF Serving infers: the lengths along the chain of first elements."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _shape_text(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def _fill(value, dtype, shape):
    """Flattens a (nested) JSON value of `shape` into a list of `dtype` values."""
    rank = len(shape)
    flat = []

    def visit(v, level):
        if not isinstance(v, list):
            if level != rank:
                raise invalid_argument(
                    f"JSON Value: {debug_string(v)} found at incorrect level: {level + 1} "
                    f"in the JSON DOM. Expected at level: {rank}"
                )
            flat.append(_convert_leaf(v, dtype))
            return
        if level >= rank:
            raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
        if len(v) != shape[level]:
            raise invalid_argument(
                f"Encountered list at unexpected size: {len(v)} at level: {level} "
                f"expected size: {shape[level]}"
            )
        if level == rank - 1:
            for item in v:
                if isinstance(item, list):
                    raise invalid_argument(
                        f"Encountered list at unexpected level: {level + 1} expected < {rank}"
                    )
                flat.append(_convert_leaf(item, dtype))
        else:
            for item in v:
                visit(item, level + 1)

    visit(value, 0)
    return flat


def _to_array(flat, dtype, shape):
    np_dtype = NUMPY_DTYPES[dtype]
    if dtype == DT_STRING:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    if dtype in _INT_RANGES and dtype not in (DT_INT64, DT_UINT64, DT_UINT32):
        # Integers in int32 range, narrowed like TensorProto.int_val is.
        return np.asarray(flat, dtype=np.int64).astype(np_dtype).reshape(shape)
    with np.errstate(over="ignore"):
        return np.asarray(flat, dtype=np_dtype).reshape(shape)


def _leaves(value, shape):
    """The scalars of a nested list that is exactly `shape`, in order; None if it is not."""
    items = [value]
    for size in shape:
        if set(map(type, items)) != {list} or set(map(len, items)) != {size}:
            return None
        items = list(itertools.chain.from_iterable(items))
    return items


_FLOATS = (DT_FLOAT, DT_DOUBLE, DT_HALF)
_FAST_INTS = {dtype: limits for dtype, limits in _INT_RANGES.items() if limits[1] < 2**63}


def _fast_array(value, dtype, shape):
    """`value` as an array of `dtype` and `shape` in one conversion, or None.

    None whenever the element-wise reader (`_fill`) could find anything to object
    to (ragged lists, a value of the wrong JSON type, an integer out of range, an
    empty tensor, strings): that reader then runs and gives TF Serving's error. What
    it returns otherwise is the array `_fill` + `_to_array` give, value for value.
    """
    if dtype not in _FLOATS and dtype not in _FAST_INTS and dtype != DT_BOOL:
        return None
    leaves = _leaves(value, shape)
    if not leaves:
        return None
    types = set(map(type, leaves))
    try:
        if dtype in _FLOATS:
            if not types <= {int, float}:
                return None
            # Through float64, as float(value) then the dtype's cast does.
            array = np.array(leaves, dtype=np.float64)
            if dtype != DT_DOUBLE:
                with np.errstate(over="ignore"):
                    array = array.astype(NUMPY_DTYPES[dtype])
        elif dtype == DT_BOOL:
            if types != {bool}:
                return None
            array = np.array(leaves, dtype=np.bool_)
        else:
            if types != {int}:
                return None
            array = np.array(leaves, dtype=np.int64)
            low, high = _FAST_INTS[dtype]
            if array.min() < low or array.max() > high:
                return None
            # Narrowed like TensorProto.int_val is (int8, int16, uint8 wrap around).
            array = array.astype(NUMPY_DTYPES[dtype])
    except (OverflowError, TypeError, ValueError):
        return None
    return array.reshape(shape)


def _tensor_from_value(value, dtype):
    shape = _dense_shape(value)
    array = _fast_array(value, dtype, shape)
    if array is not None:
        return array
    flat = _fill(value, dtype, shape)
    return _to_array(flat, dtype, shape)


def _fast_instances(instances, inputs, objects):
    """The row format's tensors in one conversion per input, or None (see `_fast_array`)."""
    if not objects:
        if len(inputs) != 1:
            return None
        (name,) = inputs
        array = _fast_array(instances, inputs[name], [len(instances)] + _dense_shape(instances[0]))
        return None if array is None else {name: array}
    names = set(inputs)
    for element in instances:
        if type(element) is not dict or element.keys() != names or _is_b64_object(element):
            return None
    tensors = {}
    for name, dtype in inputs.items():
        column = [element[name] for element in instances]
        array = _fast_array(column, dtype, [len(column)] + _dense_shape(column[0]))
        if array is None:
            return None
        tensors[name] = array
    return tensors


def _tensors_from_instances(doc, inputs):
    instances = doc["instances"]
    if not isinstance(instances, list):
        raise format_error(doc, "Expecting 'instances' to be an list/array")
    if not instances:
        raise format_error(doc, "No values in 'instances' array")
    if not isinstance(instances[0], dict) and len(inputs) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map"
        )

    def is_element_object(v):
        return isinstance(v, dict) and not _is_b64_object(v)

    objects = is_element_object(instances[0])
    fast = _fast_instances(instances, inputs, objects)
    if fast is not None:
        return fast
    names = sorted(inputs)
    values = {}  # name -> list of flat value lists
    shapes = {}

    def add_item(item, name):
        if name not in inputs:
            raise invalid_argument(f"JSON object: does not have named input: {name}")
        shape = _dense_shape(item)
        flat = _fill(item, inputs[name], shape)
        if name not in shapes:
            shapes[name] = shape
            values[name] = []
        elif len(values[name][0]) != len(flat):
            raise invalid_argument(f"Expecting tensor size: {len(values[name][0])} but got: {len(flat)}")
        elif shapes[name] != shape:
            raise invalid_argument(f"Expecting shape {_shape_text(shapes[name])} but got: {_shape_text(shape)}")
        values[name].append(flat)

    for index, element in enumerate(instances):
        if objects:
            if not is_element_object(element):
                raise invalid_argument(f"Expecting object but got list at item {index} of input list")
            for key, item in element.items():
                try:
                    add_item(item, key)
                except ServingError as e:
                    raise ServingError(
                        e.code,
                        f"Failed to process element: {index} key: {key} of 'instances' list. "
                        f"Error: {e.code}: {e.message}",
                    ) from None
            if set(element) != set(inputs):
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{debug_string(element)} keys must be equal to: {','.join(names)}"
                )
        else:
            if is_element_object(element):
                raise invalid_argument(f"Expecting value/list but got object at item {index} of input list")
            try:
                add_item(element, names[0])
            except ServingError as e:
                raise ServingError(
                    e.code,
                    f"Failed to process element: {index} of 'instances' list. Error: {e.code}: {e.message}",
                ) from None
    count = len(instances)
    return {
        name: _to_array([v for flat in values[name] for v in flat], inputs[name], [count] + shapes[name])
        for name in values
    }


def _tensors_from_inputs(doc, inputs):
    value = doc["inputs"]
    if not isinstance(value, dict) or _is_b64_object(value):
        if len(inputs) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        (name,) = inputs
        return {name: _tensor_from_value(value, inputs[name])}
    tensors = {}
    for name in sorted(inputs):
        if name not in value:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        tensors[name] = _tensor_from_value(value[name], inputs[name])
    return tensors


def tensors_from_json(doc, inputs):
    """The request's tensors, in the row or columnar format.

    Args:
        doc: the parsed request (see `parse_json`).
        inputs: {input alias: DataType enum} of the signature.

    Returns:
        `(format, {alias: np.ndarray})` with format `ROW` or `COLUMNAR`.

    Raises:
        ServingError: INVALID_ARGUMENT with TF Serving's message.
    """
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances and has_inputs:
        raise format_error(doc, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ")
    if has_instances:
        return ROW, _tensors_from_instances(doc, inputs)
    if has_inputs:
        return COLUMNAR, _tensors_from_inputs(doc, inputs)
    raise invalid_argument("Missing 'inputs' or 'instances' key")


# ---------------------------------------------------------------------------
# Writing responses.
# ---------------------------------------------------------------------------
def _jsonable(name, array):
    """An output tensor as something orjson writes the way TF Serving does."""
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind in ("S", "U"):
        as_bytes = contract.is_bytes_output(name)

        def convert(item):
            if isinstance(item, list):
                return [convert(i) for i in item]
            if isinstance(item, str):
                item = item.encode("utf-8")
            if as_bytes:
                return {"b64": base64.b64encode(item).decode("ascii")}
            return item.decode("utf-8", errors="replace")

        return convert(array.tolist())
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        return _NonFinite(array)
    if array.ndim == 0:
        return array[()]  # A scalar is a bare value (orjson writes no 0-d arrays).
    return _contiguous(array)


def _contiguous(array):
    # Not np.ascontiguousarray: it turns a scalar into a one-element vector.
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


class _NonFinite:
    """A float tensor with NaN or infinities, written with TF Serving's bare tokens."""

    def __init__(self, array):
        self.array = array


def _array_json(array):
    """A numeric tensor's JSON text, as orjson writes it nested, fast.

    orjson writes each innermost list on its own: a trailing dimension of 1 (28x28x1
    images) costs one tiny list per value, ~15 times slower than the same values
    with that dimension dropped. So the trailing 1s are dropped and put back in the
    text: each value gains u brackets on both sides, i.e. u `[` at the start, u `]`
    at the end, and `]`*u + `,` + `[`*u for each comma (every comma stands between
    two values' brackets).
    """
    array = _contiguous(array)
    shape = array.shape
    unit = 0
    while len(shape) - unit > 1 and shape[len(shape) - 1 - unit] == 1:
        unit += 1
    if not unit or array.size == 0:
        return orjson.dumps(array, option=orjson.OPT_SERIALIZE_NUMPY)
    text = orjson.dumps(array.reshape(shape[: len(shape) - unit]), option=orjson.OPT_SERIALIZE_NUMPY)
    return b"[" * unit + text.replace(b",", b"]" * unit + b"," + b"[" * unit) + b"]" * unit


def _tensor_json(name, array):
    """One whole output tensor for `dumps`: numeric arrays pre-written by `_array_json`."""
    value = _jsonable(name, array)
    if isinstance(value, np.ndarray) and value.ndim >= 2 and value.shape[-1] == 1:
        return orjson.Fragment(_array_json(value))
    return value


def _default(value):
    if isinstance(value, _NonFinite):
        return orjson.Fragment(json.dumps(value.array.astype(np.float64).tolist(), allow_nan=True))
    raise TypeError(f"Cannot write {type(value).__name__} as JSON")


def dumps(value):
    """orjson with NumPy support, used for every REST body."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


def json_from_tensors(outputs, request_format):
    """The REST response body for the output tensors of a predict call.

    Args:
        outputs: {output alias: np.ndarray}.
        request_format: `ROW` (gives `{"predictions": ...}`) or `COLUMNAR`
            (gives `{"outputs": ...}`). With one output its name is dropped.

    Returns:
        The JSON body as bytes.
    """
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    if request_format == COLUMNAR:
        if len(outputs) == 1:
            ((name, array),) = outputs.items()
            return dumps({"outputs": _tensor_json(name, array)})
        return dumps({"outputs": {name: _tensor_json(name, array) for name, array in outputs.items()}})
    batch_size = None
    for name, array in outputs.items():
        if np.ndim(array) == 0:
            raise invalid_argument(f"Tensor name: {name} has no shape information ")
        if batch_size is not None and np.shape(array)[0] != batch_size:
            raise invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: {np.shape(array)[0]} "
                f"expecting: {batch_size}"
            )
        batch_size = np.shape(array)[0]
    if len(outputs) == 1:
        ((name, array),) = outputs.items()
        # A list of per-example values is the batch tensor's own JSON.
        return dumps({"predictions": _tensor_json(name, array)})
    columns = {name: _jsonable(name, array) for name, array in outputs.items()}
    rows = [
        {name: (_NonFinite(col.array[i]) if isinstance(col, _NonFinite) else col[i]) for name, col in columns.items()}
        for i in range(batch_size)
    ]
    return dumps({"predictions": rows})
