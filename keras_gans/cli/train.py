"""`keras-gans train`: train a GAN with `model.fit` into a run folder that can resume.

    keras-gans train dcgan --dataset ../shared/data/mnist --epochs 5 --out runs/dcgan
    keras-gans train dcgan --dataset ../shared/data/mnist --epochs 10 --out runs/dcgan --resume
    keras-gans train dcgan --dataset ../shared/data/mnist --init saved_models/dcgan_mnist/dcgan_mnist.keras \\
        --out runs/dcgan_tuned --export saved_models/dcgan_mnist
    keras-gans train pix2pix --dataset mnist_edges --mnist ../shared/data/mnist --out runs/pix2pix --export saved_models/p2p

The run folder's rules (new run, automatic resume, refusal) are `keras_gans.training.runs`.
"""

import time
from pathlib import Path

from keras_gans.training import runs

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def add_parser(subparsers):
    p = subparsers.add_parser("train", help="train a GAN with model.fit",
                              description="Train a GAN with model.fit into a run folder (checkpoints, "
                                          "history, sample grids) that resumes where it stopped.")
    p.add_argument("model", help="family: vanilla_gan, dcgan, cgan, wgan, wgan_gp, unrolled_gan; "
                   "image-to-image: pix2pix, cyclegan")
    p.add_argument("--dataset", required=True,
                   help="TFDS name (mnist, fashion_mnist, cifar10, celeb_a), ring8, grid25, or a "
                        "path: folder of MNIST IDX .gz files, .npz, or image folder. pix2pix / cyclegan: "
                        "mnist_edges, mnist_inpaint (paired), mnist_invert, mnist_dilate (unpaired), an .npz "
                        "with a and b, dirA:dirB, or a TFDS name (cycle_gan/horse2zebra, ...)")
    p.add_argument("--mnist", default=None, metavar="DIR",
                   help="pix2pix / cyclegan MNIST tasks: folder of MNIST IDX files (default: TFDS mnist)")
    p.add_argument("--image-size", type=int, default=None,
                   help="pix2pix / cyclegan: resize the images to this square size")
    p.add_argument("--split", default="train")
    p.add_argument("--data-dir", default=None, help="TFDS data_dir")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64,
                   help="m: real examples per discriminator update (global, over all replicas); "
                        "each training step reads d_steps * m examples")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--strategy", default="auto",
                   help="auto, one_device, mirrored, multi_worker (TF_CONFIG), tpu")
    p.add_argument("--precision", default="float32", choices=PRECISIONS)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", required=True, help="run folder (checkpoints, history, samples)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (e.g. with more --epochs)")
    p.add_argument("--init", default=None, metavar="MODEL.keras",
                   help="fine-tune: start from this saved GAN (e.g. saved_models/dcgan_mnist/"
                        "dcgan_mnist.keras), its weights and optimizer state, instead of a new model")
    p.add_argument("--export", default=None, metavar="BASE_PATH",
                   help="export the generator as a SavedModel version under BASE_PATH at the end")
    p.add_argument("--latent-dim", type=int, default=None)
    p.add_argument("--width", type=int, default=None, help="DCGAN g_width and d_width")
    p.add_argument("--hidden", type=int, default=None, help="MLP hidden width (2 layers)")
    p.add_argument("--d-steps", type=int, default=None, help="k (family default when omitted)")
    p.add_argument("--loss", default=None, help="GAN loss name (family default when omitted)")
    p.add_argument("--lr", type=float, default=None, help="learning rate of both optimizers")
    p.add_argument("--pack", type=int, default=1, help="PacGAN packing m")
    p.add_argument("--spectral-norm", action="store_true")
    p.add_argument("--label-projection", action="store_true",
                   help="cgan: the discriminator also projects the label on its last features (Miyato & Koyama 2018)")
    p.add_argument("--ema-decay", type=float, default=None, metavar="DECAY",
                   help="keep a moving average of the generator's weights (e.g. 0.999) and sample, "
                        "evaluate and export from it (GAN(ema_decay=...)); with --init, from the "
                        "loaded weights on")
    p.add_argument("--samples", type=int, default=64, help="samples per epoch grid")
    p.add_argument("--log-every", type=int, default=10, metavar="STEPS",
                   help="a row of history_steps.csv (and TensorBoard scalars) every STEPS generator "
                        "steps, averaging them (default 10); loss_curves.png plots it")
    p.add_argument("--grid-every", type=int, default=None, metavar="STEPS",
                   help="also send the sample grid to TensorBoard every STEPS generator steps "
                        "(default: after each epoch only)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="Keras fit's progress output: 0 none, 1 a progress bar, 2 a line per epoch "
                        "(TensorFlow's own logs: `keras-gans --verbose train ...`)")
    p.set_defaults(run=run)


def run(args):
    import keras_gans as kg

    if args.model not in kg.models.FAMILIES:
        raise SystemExit(f"error: unknown model {args.model!r}; valid: {', '.join(sorted(kg.models.FAMILIES))}")
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit(f"error: --epochs and --batch-size must be >= 1; got {args.epochs} and {args.batch_size}")
    if args.log_every < 1 or (args.grid_every is not None and args.grid_every < 1):
        raise SystemExit(f"error: --log-every and --grid-every must be >= 1; got {args.log_every} and {args.grid_every}")
    settings = vars(args)
    if args.init is not None:
        runs.check_init(args.init, settings)
    previous = runs.check_out_folder(args.out, runs.run_config(settings), resume=args.resume)
    args.seed = runs.run_seed(args.seed, previous)
    started = time.time() - (previous or {}).get("wall_time_seconds", 0.0)

    import keras

    keras.utils.set_random_seed(args.seed)
    # The policy is global: set for this run only, so a caller in the same process (a
    # test, a notebook) gets its own back.
    with kg.models.precision_scope(args.precision):
        _train(args, previous, started)


def _build_gan(args, image_shape, num_classes):
    import inspect

    import keras_gans as kg

    cls = kg.models.get(args.model)
    kwargs = {"image_shape": image_shape, "seed": args.seed, "pack": args.pack}
    flags = {}  # constructor argument -> the flag that set it
    if args.latent_dim:
        kwargs["latent_dim"] = args.latent_dim
    if args.spectral_norm:
        kwargs["spectral_norm"] = True
        flags["spectral_norm"] = "--spectral-norm"
        if "norm" in inspect.signature(cls.__init__).parameters:
            kwargs["norm"] = "none"
    if args.label_projection:
        kwargs["label_projection"] = True
        flags["label_projection"] = "--label-projection"
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if args.width and args.model != "vanilla_gan":
        kwargs.update(g_width=args.width, d_width=args.width)
        flags.update(g_width="--width", d_width="--width")
    if args.hidden:
        kwargs.update(g_hidden=(args.hidden, args.hidden), d_hidden=(args.hidden, args.hidden))
        flags.update(g_hidden="--hidden", d_hidden="--hidden")
    if args.ema_decay is not None:
        kwargs["ema_decay"] = args.ema_decay
    taken = inspect.signature(cls.__init__).parameters
    refused = sorted({flag for name, flag in flags.items() if name not in taken})
    if refused:
        raise SystemExit(f"error: {', '.join(refused)} does not apply to {args.model} ({cls.__name__}).")
    # A setting the family refuses (e.g. --ema-decay out of range) raises ValueError, which
    # the CLI reports as one line, before the run folder is made.
    return cls(**kwargs)


def _load_init(args, image_shape, num_classes):
    """The GAN of --init, checked against the family asked for and the data, with --lr applied."""
    import keras

    import keras_gans.models  # noqa: F401  (registers the model classes)

    gan = keras.models.load_model(args.init)
    runs.check_init_model(gan, args.init, args.model, image_shape, num_classes, args.dataset)
    if gan.precision != args.precision:
        # Fine-tuning in another precision: same weights and optimizer state, new layers.
        gan = gan.with_precision(args.precision)
    if args.ema_decay is not None and args.ema_decay != gan.ema_decay:
        # Fine-tuning with a moving average of the generator, from the loaded weights on.
        gan = gan.with_ema(args.ema_decay)
    if gan.d_optimizer is None or gan.g_optimizer is None:
        _compile(gan, args)
    elif args.lr is not None:
        for optimizer in (gan.d_optimizer, gan.g_optimizer):
            optimizer.learning_rate.assign(args.lr)
    return gan


def _compile(gan, args):
    d_opt, g_opt = gan.default_optimizers()
    if args.lr is not None:
        d_opt.learning_rate.assign(args.lr)
        g_opt.learning_rate.assign(args.lr)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, loss=args.loss, d_steps=args.d_steps)


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def _dataset_facts(args, conditional):
    """(sample shape, number of classes or None) of the training data, read cheaply."""
    import keras_gans as kg

    if args.dataset in kg.data.dataset_names("mixture"):
        mixture = kg.data.mixture(args.dataset)
        return (2,), (mixture.num_modes if conditional else None)
    if args.dataset in kg.data.dataset_names("tfds"):
        probe = kg.data.load(args.dataset, split=args.split, batch_size=None, labels=conditional,
                             data_dir=args.data_dir, cache=False, shuffle=False)
        spec = probe.element_spec[0] if conditional else probe.element_spec
        return tuple(int(d) for d in spec.shape), (10 if conditional else None)
    images, labels = kg.data.load_arrays(args.dataset, split=args.split)
    if conditional and labels is None:
        raise ValueError(f"a conditional GAN needs labels, and {args.dataset} has none")
    return images.shape[1:], (int(labels.max()) + 1 if conditional else None)


def _train(args, previous, started):
    from keras_gans.cli import _train_translation

    if args.model in _train_translation.FAMILIES:
        return _train_translation.train(args, previous, started, _is_chief)
    import keras

    import keras_gans as kg
    from keras_gans.training import callbacks as run_callbacks, distribute

    strategy = distribute.get_strategy(args.strategy)
    cls = kg.models.get(args.model)
    conditional = cls is kg.models.ConditionalGAN
    image_shape, num_classes = _dataset_facts(args, conditional)

    out = Path(args.out)
    chief = _is_chief(strategy)
    work = out if chief else out / f"worker_{strategy.cluster_resolver.task_id}"

    resume_from_model = runs.resumes_from_model(out, previous)
    with strategy.scope():
        if resume_from_model:
            gan = keras.models.load_model(out / "model.keras")
        elif args.init is not None:
            gan = _load_init(args, image_shape, num_classes)
        else:
            gan = _build_gan(args, image_shape, num_classes)
            _compile(gan, args)
    k = gan.d_steps
    step_batch = distribute.global_batch_size(args.batch_size * k, strategy)
    per_replica = step_batch // strategy.num_replicas_in_sync
    if per_replica % (k * gan.pack):
        raise SystemExit(
            f"error: each replica gets {per_replica} examples per step, which must split into "
            f"d_steps = {k} minibatches of a multiple of pack = {gan.pack}; change --batch-size."
        )
    work.mkdir(parents=True, exist_ok=True)  # only once the model and the batch are known good
    data = kg.data.load(args.dataset, split=args.split, batch_size=step_batch, labels=conditional,
                        seed=args.seed, data_dir=args.data_dir)
    if args.steps_per_epoch:
        data = data.repeat()

    grid = run_callbacks.SampleGrid(work / "samples", n=args.samples, seed=0, log_dir=work / "logs" / "train",
                                    every_steps=args.grid_every)
    from keras_gans.cli._run_fit import fit_in_run_folder

    fit_in_run_folder(args, previous, started, gan, data, work, chief, grid,
                      kg.export.export_generator, "generator",
                      from_model=resume_from_model)

