"""The serving contract: the signatures every exported generator carries.

The names, dtypes and shapes of the SavedModel signatures, defined once. The exporter
(`keras_gans.export`) builds them, the embedded server (`keras_gans.serving.server`) serves
them like any other SavedModel, and the client (`keras_gans.serving.Client`) builds its
requests from them. This module imports neither TensorFlow nor Keras, so the REST
client reads it without loading either.

Signatures of an export (`L` = latent size, `[H, W, C]` = image shape):

| signature         | inputs                                          | outputs                          |
|-------------------|-------------------------------------------------|----------------------------------|
| `serving_default` | `z` float32 `[None, L]` (+ `labels` int32 `[None]`) | `images` float32 `[None, H, W, C]` in [-1, 1] |
| `sample`          | `num_samples` int32 `[]`, `seed` int64 `[]` (+ `labels` int32 `[None]`) | `images` uint8 `[None, H, W, C]` |
| `sample_png`      | as `sample`                                     | `images_bytes` string `[None]`, one PNG each |

`labels` exists only for conditional generators: one class id per sample, or `[]` for
the classes in turn (0, 1, ..., as `GAN.sample` does with `labels=None`). Generators of
1-D data (the 2-D toy mixtures, `image_shape=(2,)`) are not images: their `sample`
returns the float32 points unquantized and they have no `sample_png`.

Example:
    from keras_gans import contract

    sigs = contract.serving_signatures(latent_dim=100, image_shape=(28, 28, 1))
    [s.name for s in sigs[contract.SAMPLE].inputs]   # ['num_samples', 'seed']
"""

from __future__ import annotations

import dataclasses

# The meta graph tag TF Serving loads (`--saved_model_tags`, tf.saved_model.SERVING).
SERVE_TAG = "serve"

# Signature names. `serving_default` is also TF Serving's default when a request names
# no signature (tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY).
SERVING_DEFAULT = "serving_default"
SAMPLE = "sample"
SAMPLE_PNG = "sample_png"

# Tensor names (the inputs' and outputs' aliases in the SignatureDefs).
Z = "z"
LABELS = "labels"
NUM_SAMPLES = "num_samples"
SEED = "seed"
IMAGES = "images"
# TF Serving's REST API writes a DT_STRING output as {"b64": ...} when its alias ends in
# "_bytes" (tensorflow_serving/util/json_tensor.cc), raw text otherwise; PNG bytes are
# not valid UTF-8 text, so the PNG output carries the suffix.
BYTES_SUFFIX = "_bytes"
IMAGES_BYTES = IMAGES + BYTES_SUFFIX

# The largest num_samples (and rows of z) an export accepts unless told otherwise.
DEFAULT_MAX_NUM_SAMPLES = 1024


def is_bytes_output(name: str) -> bool:
    """True when TF Serving's REST API base64-encodes a string output of this alias."""
    return name.endswith(BYTES_SUFFIX)


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Name, dtype and shape of one signature input or output.

    Args:
        name: the alias of the tensor in the SignatureDef.
        dtype: a NumPy/TensorFlow dtype name ("float32", "int32", "int64",
            "uint8", "string").
        shape: a tuple with `None` for unknown dimensions; `()` for a scalar.
    """

    name: str
    dtype: str
    shape: tuple

    def to_dict(self) -> dict:
        """`{"dtype": ..., "shape": [...]}`, as model cards record it."""
        return {"dtype": self.dtype, "shape": list(self.shape)}


@dataclasses.dataclass(frozen=True)
class Signature:
    """One serving signature: its name and its input and output specs."""

    name: str
    inputs: tuple
    outputs: tuple

    def input(self, name: str) -> TensorSpec:
        """Returns the input spec called `name`."""
        return {spec.name: spec for spec in self.inputs}[name]

    def to_dict(self) -> dict:
        """`{"inputs": {name: spec}, "outputs": {name: spec}}`, as model cards record it."""
        return {
            "inputs": {s.name: s.to_dict() for s in self.inputs},
            "outputs": {s.name: s.to_dict() for s in self.outputs},
        }


def is_image_shape(image_shape) -> bool:
    """True when `image_shape` is `[H, W, C]` (PNG-encodable samples)."""
    return len(tuple(image_shape)) == 3


def serving_signatures(latent_dim, image_shape, num_classes=None) -> dict:
    """The serving contract of a generator, as {signature name: `Signature`}.

    Args:
        latent_dim: size of the latent vector `z`.
        image_shape: shape of one generated sample, e.g. `(28, 28, 1)` or
            `(2,)` for points of a 2-D toy mixture.
        num_classes: number of classes of a conditional generator, or `None`.

    Returns:
        A dict with `serving_default`, `sample` and, for image generators,
        `sample_png`.

    Example:
        >>> sigs = serving_signatures(100, (28, 28, 1))
        >>> [s.name for s in sigs["sample"].inputs]
        ['num_samples', 'seed']
    """
    image_shape = tuple(int(d) for d in image_shape)
    labels = (TensorSpec(LABELS, "int32", (None,)),) if num_classes else ()
    sample_inputs = (
        TensorSpec(NUM_SAMPLES, "int32", ()),
        TensorSpec(SEED, "int64", ()),
    ) + labels
    sample_dtype = "uint8" if is_image_shape(image_shape) else "float32"
    signatures = {
        SERVING_DEFAULT: Signature(
            SERVING_DEFAULT,
            (TensorSpec(Z, "float32", (None, int(latent_dim))),) + labels,
            (TensorSpec(IMAGES, "float32", (None,) + image_shape),),
        ),
        SAMPLE: Signature(
            SAMPLE,
            sample_inputs,
            (TensorSpec(IMAGES, sample_dtype, (None,) + image_shape),),
        ),
    }
    if is_image_shape(image_shape):
        signatures[SAMPLE_PNG] = Signature(
            SAMPLE_PNG, sample_inputs, (TensorSpec(IMAGES_BYTES, "string", (None,)),)
        )
    return signatures
