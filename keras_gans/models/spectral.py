"""Spectral normalisation (Miyato et al., 2018) as a reparameterisation of a layer's kernel."""

import keras
from keras import ops

from keras_gans import checks


@keras.saving.register_keras_serializable(package="keras_gans")
class SpectralNormalization(keras.layers.Wrapper):
    """Divides a layer's kernel by its largest singular value, differentiably.

    Miyato et al., "Spectral Normalization for Generative Adversarial Networks" (ICLR
    2018): the wrapped layer computes with W_SN = W / sigma(W), where W is the kernel
    reshaped to a matrix [prod(kernel.shape[:-1]), kernel.shape[-1]] and sigma(W) is
    estimated by power iteration from a persistent vector u:

        v = u W^T / ||u W^T||,   u = v W / ||v W||,   sigma = v W u^T,

    with u and v held constant (no gradient), so the gradient reaching W is that of
    f(W / sigma(W)), d sigma / dW = v^T u term included. The stored kernel W stays the
    trainable parameter and is never overwritten; u is assigned only when
    `training=True`, while inference runs the same iteration from the stored u without
    storing the result. `keras.layers.SpectralNormalization` instead overwrites the
    kernel with W / sigma and back-propagates as if W / sigma were the parameter.

    Power iteration and sigma are computed in float32 (the wrapper's own dtype policy is
    the wrapped layer's variable dtype); the wrapped layer keeps its own compute dtype,
    so under `mixed_float16` it receives W_SN cast to float16.

    Args:
        layer: a built or unbuilt layer with a `kernel` (`Dense`, `EinsumDense`,
            `Conv1D/2D/3D`, `Conv1D/2D/3DTranspose`) or `embeddings` (`Embedding`)
            variable. LoRA-enabled and quantized layers are not supported.
        power_iterations: power iteration steps per call (Miyato et al. use 1).
        seed: seed of u's N(0, 1) initialisation.
        **kwargs: base `Layer` arguments (`name`, `trainable`, ...).

    Example:

    >>> import numpy as np
    >>> sn = SpectralNormalization(keras.layers.Dense(3), seed=0)
    >>> y = sn(np.ones((2, 4)), training=True)  # one power iteration, u stored
    >>> tuple(y.shape), tuple(sn.u.shape)
    ((2, 3), (1, 3))
    """

    def __init__(self, layer, power_iterations=1, seed=None, **kwargs):
        checks.integer(power_iterations, "power_iterations")
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"SpectralNormalization wraps a Keras layer; got {layer!r}.")
        # Power iteration and sigma run in the variables' dtype: under a mixed policy
        # the wrapper's own call would read W autocast to float16.
        kwargs.setdefault("dtype", layer.dtype_policy.variable_dtype)
        super().__init__(layer, **kwargs)
        self.power_iterations = power_iterations
        self.seed = seed

    @property
    def kernel(self):
        """The wrapped layer's kernel (or embeddings) variable W."""
        return getattr(self.layer, self._kernel_name)

    def build(self, input_shape):
        super().build(input_shape)
        names = [n for n in ("kernel", "embeddings") if hasattr(self.layer, n)]
        if not names or not isinstance(getattr(self.layer, names[0]), keras.Variable):
            raise ValueError(
                f"SpectralNormalization needs a layer whose `kernel` or `embeddings` is a "
                f"variable (Dense, Conv2D, Conv2DTranspose, Embedding, ...); got "
                f"{type(self.layer).__name__}, which has "
                f"{'neither' if not names else 'a computed (LoRA or quantized) ' + names[0]}."
            )
        self._kernel_name = names[0]
        normal = keras.initializers.RandomNormal(stddev=1.0, seed=self.seed)
        self.u = self.add_weight(
            name="u",
            shape=(1, self.kernel.shape[-1]),
            initializer=lambda shape, dtype: ops.normalize(normal(shape, dtype), axis=-1),
            dtype="float32",
            trainable=False,
            autocast=False,
            # Every replica computes the same u from the same W and u; the first one's is
            # written to all. With "none", TF 2.21 lets each replica keep its own write.
            aggregation="only_first_replica",
        )

    def normalized_kernel(self, training=False):
        """W / sigma(W) (float32, kernel-shaped), as `call` uses it; stores u if training."""
        w = ops.cast(self.kernel, "float32")
        matrix = ops.reshape(w, (-1, w.shape[-1]))
        fixed = ops.stop_gradient(matrix)
        u = self.u.value
        for _ in range(self.power_iterations):
            v = ops.normalize(ops.matmul(u, ops.transpose(fixed)), axis=-1)
            u = ops.normalize(ops.matmul(v, fixed), axis=-1)
        if training:
            self.u.assign(u)
        sigma = ops.matmul(ops.matmul(v, matrix), ops.transpose(u))  # [1, 1], grad via W
        return w / sigma

    def call(self, inputs, training=False):
        kernel = self.normalized_kernel(training=training)
        # The wrapped layer reads W_SN in place of W without any assignment to W. Its
        # other variables are mapped to themselves so that an enclosing StatelessScope
        # (Layer.stateless_call) still provides their values.
        mapping = [(v, v) for v in self.layer.variables if v is not self.kernel]
        with keras.StatelessScope(state_mapping=[(self.kernel, kernel), *mapping]):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, training=False):
        return self.layer.compute_output_spec(inputs)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations, "seed": self.seed}
