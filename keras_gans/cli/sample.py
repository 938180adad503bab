"""`keras-gans sample`: samples from a server or a local model, as a grid PNG."""

HELP = "request samples from a server and write a grid PNG"


def main(argv):
    from keras_gans.serving import client

    return client.main(argv)
