"""`keras-gans evaluate`: measure a generator."""

HELP = "measure a generator (MNIST FID, IS, KID, class balance)"


def main(argv):
    from keras_gans import evaluation

    return evaluation.main(argv)
