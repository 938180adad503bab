"""The serving contract: the signatures every exported generator and translator carries.

The names, dtypes and shapes of the SavedModel signatures, defined once. The exporter
(`keras_gans.export`) builds them, the embedded server (`keras_gans.serving.server`) serves
them like any other SavedModel, and the client (`keras_gans.serving.Client`) builds its
requests from them. This module imports neither TensorFlow nor Keras, so the REST
client reads it without loading either.

Signatures of a generator's export (`L` = latent size, `[H, W, C]` = image shape):

| signature         | inputs                                          | outputs                          |
|-------------------|-------------------------------------------------|----------------------------------|
| `serving_default` | `z` float32 `[None, L]` (+ `labels` int32 `[None]`) | `images` float32 `[None, H, W, C]` in [-1, 1] |
| `sample`          | `num_samples` int32 `[]`, `seed` int64 `[]` (+ `labels` int32 `[None]`) | `images` uint8 `[None, H, W, C]` |
| `sample_png`      | as `sample`                                     | `images_bytes` string `[None]`, one PNG each |

`labels` exists only for conditional generators: one class id per sample, or `[]` for
the classes in turn (0, 1, ..., as `GAN.sample` does with `labels=None`). Generators of
1-D data (the 2-D toy mixtures, `image_shape=(2,)`) are not images: their `sample`
returns the float32 points unquantized and they have no `sample_png`.

Signatures of a translator (the image-to-image families, pix2pix and CycleGAN; `[H, W, C_a]`
= the A images, `[H, W, C_b]` = the B images):

| signature              | inputs                                   | outputs                            |
|------------------------|------------------------------------------|------------------------------------|
| `translate`            | `images` float32 `[None, H, W, C_a]` in [-1, 1] | `images` float32 `[None, H, W, C_b]` in [-1, 1] |
| `translate_png`        | `images_bytes` string `[None]`, one PNG or JPEG file each | `images_bytes` string `[None]`, one PNG each |
| `serving_default`      | as `translate` (the same function)       | as `translate`                     |
| `translate_b_to_a`     | `images` float32 `[None, H, W, C_b]`     | `images` float32 `[None, H, W, C_a]` |
| `translate_b_to_a_png` | as `translate_png`, B images in          | A images out, one PNG each         |

The last two exist for translators with a B -> A generator (CycleGAN), in the same model
folder as the A -> B ones. An image sent to a `*_png` signature must decode to exactly
`[H, W, C]` of its direction's input (channels as stored in the file: 1 grayscale, 3 RGB,
...): anything else fails with INVALID_ARGUMENT naming what was sent and what was expected.
Both input aliases end in `_bytes`, like the outputs, so TF Serving's REST API carries them
as `{"b64": ...}` both ways.

Example:
    from keras_gans import contract

    sigs = contract.serving_signatures(latent_dim=100, image_shape=(28, 28, 1))
    [s.name for s in sigs[contract.SAMPLE].inputs]   # ['num_samples', 'seed']
    sigs = contract.translator_signatures((28, 28, 1), directions=("a_to_b", "b_to_a"))
    sorted(sigs)   # ['serving_default', 'translate', 'translate_b_to_a', 'translate_b_to_a_png', 'translate_png']
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

# Translators (pix2pix, CycleGAN): signature names by direction, A -> B first.
TRANSLATE = "translate"
TRANSLATE_PNG = "translate_png"
TRANSLATE_B_TO_A = "translate_b_to_a"
TRANSLATE_B_TO_A_PNG = "translate_b_to_a_png"
A_TO_B, B_TO_A = "a_to_b", "b_to_a"
DIRECTIONS = (A_TO_B, B_TO_A)
_TRANSLATE_NAMES = {
    (A_TO_B, False): TRANSLATE,
    (A_TO_B, True): TRANSLATE_PNG,
    (B_TO_A, False): TRANSLATE_B_TO_A,
    (B_TO_A, True): TRANSLATE_B_TO_A_PNG,
}


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


def translate_signature_name(direction: str = A_TO_B, png: bool = False) -> str:
    """The signature translating in `direction` ("a_to_b" or "b_to_a"), PNG bytes or floats.

    Example:
        >>> translate_signature_name("b_to_a", png=True)
        'translate_b_to_a_png'
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(map(repr, DIRECTIONS))}; got {direction!r}")
    return _TRANSLATE_NAMES[(direction, bool(png))]


def translator_signatures(image_shape, target_shape=None, directions=(A_TO_B,)) -> dict:
    """The serving contract of a translator, as {signature name: `Signature`}.

    Args:
        image_shape: `[H, W, C_a]`, one A image (the input of A -> B).
        target_shape: `[H, W, C_b]`, one B image; None for the same as `image_shape`.
        directions: the directions exported: `("a_to_b",)` (pix2pix) or
            `("a_to_b", "b_to_a")` (CycleGAN).

    Returns:
        A dict with `translate`, `translate_png`, `serving_default` (= `translate`) and,
        with "b_to_a", `translate_b_to_a` and `translate_b_to_a_png`.

    Example:
        >>> sigs = translator_signatures((28, 28, 1), (28, 28, 3))
        >>> sigs["translate"].outputs[0].shape
        (None, 28, 28, 3)
    """
    image_shape = tuple(int(d) for d in image_shape)
    target_shape = image_shape if target_shape is None else tuple(int(d) for d in target_shape)
    for what, shape in (("image_shape", image_shape), ("target_shape", target_shape)):
        if not is_image_shape(shape):
            raise ValueError(f"{what} must be [H, W, C] of an image; got {list(shape)}")
    directions = tuple(directions)
    if not directions or directions[0] != A_TO_B or any(d not in DIRECTIONS for d in directions):
        raise ValueError(f"directions must be ('a_to_b',) or ('a_to_b', 'b_to_a'); got {directions}")
    shapes = {A_TO_B: (image_shape, target_shape), B_TO_A: (target_shape, image_shape)}
    signatures = {}
    for direction in dict.fromkeys(directions):
        source, target = shapes[direction]
        name = translate_signature_name(direction)
        signatures[name] = Signature(
            name,
            (TensorSpec(IMAGES, "float32", (None,) + source),),
            (TensorSpec(IMAGES, "float32", (None,) + target),),
        )
        png_name = translate_signature_name(direction, png=True)
        signatures[png_name] = Signature(
            png_name,
            (TensorSpec(IMAGES_BYTES, "string", (None,)),),
            (TensorSpec(IMAGES_BYTES, "string", (None,)),),
        )
    signatures[SERVING_DEFAULT] = dataclasses.replace(signatures[TRANSLATE], name=SERVING_DEFAULT)
    return signatures
