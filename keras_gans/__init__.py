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
    "contract",
    "data",
    "evaluation",
    "export",
    "generators",
    "images",
    "latent",
    "layout",
    "losses",
    "models",
    "pretrained",
    "serving",
    "training",
)
# Short names for what users reach for most: `kg.callbacks.SampleGrid`, `kg.distribute.get_strategy`.
_ALIASES = {"callbacks": "training.callbacks", "distribute": "training.distribute"}

# Nothing loads until used: `import keras_gans.serving.client` (the REST client) must not
# pull in TensorFlow or Keras. The model classes register with Keras' serialization when
# `keras_gans.models` is imported (any use of `kg.models`, `kg.pretrained`, ... does it);
# import it before a bare `keras.models.load_model("gan.keras")`.


def __getattr__(name):
    # The other submodules load on first use.
    if name in _SUBMODULES or name in _ALIASES:
        module = importlib.import_module(f"{__name__}.{_ALIASES.get(name, name)}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'keras_gans' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_ALIASES))
