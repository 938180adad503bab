"""`keras-gans serve`: TF Serving's binary when on PATH, else the embedded server (its flags)."""

HELP = "serve SavedModels over TF Serving's REST and gRPC APIs (its flags)"


def main(argv):
    from keras_gans.serving import server

    return server.main(argv)
