"""The REST client's reading of a columnar answer: exact values, every path."""

import json

import numpy as np
import orjson
import pytest

from keras_gans.serving.client import _decode_outputs


def _answer(value, dtype, shape):
    meta = {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d)} for d in shape]}}
    return orjson.dumps({"outputs": value}, option=orjson.OPT_SERIALIZE_NUMPY), meta


@pytest.mark.parametrize("dtype, meta", [(np.float32, "DT_FLOAT"), (np.uint8, "DT_UINT8"), (np.int64, "DT_INT64")])
def test_numeric_tensors_read_back_exactly(dtype, meta):
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        x = rng.uniform(-1, 1, (5, 4, 3, 1)).astype(np.float32)
        text = x.astype(np.float64)  # the server writes float32 values as their shortest float64 text
    else:
        x = rng.integers(0, 255, (5, 4, 3, 1)).astype(dtype)
        text = x
    content, output = _answer(text, meta, (-1, 4, 3, 1))
    got = _decode_outputs(content, output)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, x)


def test_non_finite_values_and_empty_batches():
    content = b'{"outputs": [[NaN, Infinity], [-Infinity, 0.5]]}'
    _, output = _answer([], "DT_FLOAT", (-1, 2))
    got = _decode_outputs(content, output)
    assert np.isnan(got[0, 0]) and got[0, 1] == np.inf and got[1, 0] == -np.inf and got[1, 1] == 0.5
    content, output = _answer([], "DT_FLOAT", (-1, 2))
    assert _decode_outputs(content, output).shape == (0, 2)


def test_strings_and_several_outputs_are_read_whole():
    content = json.dumps({"outputs": [{"b64": "AAE="}, {"b64": "Ag=="}]}).encode()
    _, output = _answer([], "DT_STRING", (-1,))
    assert _decode_outputs(content, output) == [{"b64": "AAE="}, {"b64": "Ag=="}]
    # A ragged answer is not flattened into a wrong shape.
    content = b'{"outputs": [[1, 2], [3]]}'
    _, output = _answer([], "DT_INT64", (-1, 2))
    with pytest.raises(ValueError):
        _decode_outputs(content, output)
