"""The moving average and the live generator of one run, scored side by side (see README.md).

    python training_runs/dcgan_mnist_ema_finetune/ema_vs_live.py runs/dcgan_mnist_ema/model.keras
"""

import sys

import keras

import keras_gans as kg
import keras_gans.models  # noqa: F401  (registers the model classes with Keras)

gan = keras.models.load_model(sys.argv[1])
images, labels = kg.data.load_arrays("../shared/data/mnist", split="test")
for what in ("moving average", "live weights"):
    if what == "live weights":
        gan._ema = None  # generate() then reads the generator's own weights
    scores = kg.evaluation.evaluate_generator(gan, images, labels, num_samples=10000, seed=0)
    print(what, {name: round(float(score.value), 4) for name, score in scores.items()})
