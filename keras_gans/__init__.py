"""keras-gans: generative adversarial networks as Keras models, exported for TensorFlow Serving.

Example:
    import keras
    import keras_gans as kg

    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=100)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    gan.fit(kg.data.load("mnist", batch_size=128), epochs=20)
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "callbacks",
    "data",
    "distribute",
    "evaluation",
    "export",
    "images",
    "latent",
    "losses",
    "metrics",
    "models",
    "pretrained",
    "serving",
)


# The model classes register themselves with Keras' serialization on import, so that
# `keras.models.load_model("gan.keras")` works after a plain `import keras_gans`.
from keras_gans import models  # noqa: E402,F401


def __getattr__(name):
    # The other submodules load on first use.
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'keras_gans' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
