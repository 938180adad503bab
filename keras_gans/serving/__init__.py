"""Serving generators: a TF Serving client and an embedded TF-Serving-compatible server.

`client.Client` talks to TensorFlow Serving (or the embedded server) over REST or gRPC
and loads neither TensorFlow nor grpc for REST; `errors` holds the canonical error codes
both sides share. The embedded server is the `server` subpackage: `server.run_embedded`
runs it for `keras-gans serve`, `server.config.write_models_config` is
`keras-gans serving-config`.

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
