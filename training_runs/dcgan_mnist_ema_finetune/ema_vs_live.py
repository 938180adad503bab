import keras, keras_gans as kg
import keras_gans.models
from keras_gans import data
gan = keras.models.load_model("runs/dcgan_mnist_ema/model.keras")
images, labels = data.load_arrays("../shared/data/mnist", split="test")
for what in ("ema", "live"):
    if what == "live":
        gan._ema = None
    s = kg.evaluation.evaluate_generator(gan, images, labels, num_samples=10000, seed=0)
    print(what, {k: round(float(v.value), 4) for k, v in s.items()})
