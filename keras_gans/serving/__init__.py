"""Serving generators: a TF Serving client and an embedded TF-Serving-compatible server.

`Client` talks to TensorFlow Serving (or the embedded server) over REST or
gRPC; `server.run_embedded` is the embedded server of `keras-gans serve`;
`config.write_models_config` is `keras-gans serving-config`.

Example:
    from keras_gans.serving import Client

    images = Client("http://localhost:8501").sample("dcgan_mnist", n=16, seed=7)
"""

from keras_gans.serving.errors import ServingError


def __getattr__(name):
    # The client loads on first use: `import keras_gans.serving` stays light.
    if name == "Client":
        from keras_gans.serving.client import Client

        return Client
    raise AttributeError(f"module 'keras_gans.serving' has no attribute {name!r}")


__all__ = ["Client", "ServingError"]
