"""`keras-gans train pix2pix|cyclegan`: the image-to-image families' part of `keras-gans train`.

    keras-gans train pix2pix --dataset mnist_edges --mnist ../shared/data/mnist --epochs 5 --out runs/p2p
    keras-gans train cyclegan --dataset mnist_invert --mnist ../shared/data/mnist --out runs/cg \\
        --export saved_models/cyclegan_mnist_invert
    keras-gans train cyclegan --dataset cycle_gan/horse2zebra --image-size 128 --batch-size 1 --out runs/h2z

The same run folder as the other families (`keras_gans.training.runs`: run.json, resume,
history.csv, history_steps.csv, model.keras, backup/, logs/), with translation grids in samples/ instead of
sample grids, and `--export` through `kg.export.export_translator`. `--dataset` is what
`kg.data.load_paired` (pix2pix) or `kg.data.load_unpaired` (CycleGAN) reads: an MNIST task,
an .npz with `a` and `b`, `dirA:dirB`, or a TFDS name.
"""

from pathlib import Path

from keras_gans.training import runs

FAMILIES = ("pix2pix", "cyclegan")
# Flags of the noise-to-image families that mean nothing here, with their unset values: every
# setting that shapes a noise-to-image GAN but the width (a translator's too), and the average.
_NOT_FOR_TRANSLATION = {k: unset for k, unset in runs.ARCHITECTURE_DEFAULTS.items() if k != "width"} | {
    "ema_decay": None,
}


def check_flags(args):
    """Refuses, naming them, the flags of `keras-gans train` that do not apply to translators."""
    given = ["--" + k.replace("_", "-") for k, unset in _NOT_FOR_TRANSLATION.items() if getattr(args, k, unset) != unset]
    if given:
        verb = "does" if len(given) == 1 else "do"
        raise SystemExit(f"error: {', '.join(given)} {verb} not apply to {args.model} (an image-to-image model).")


def dataset(args, batch_size, shuffle=True, seed=None):
    """The (a, b) batches of `--dataset` for the family: paired for pix2pix, unpaired for CycleGAN."""
    import keras_gans as kg

    load = kg.data.load_paired if args.model == "pix2pix" else kg.data.load_unpaired
    return load(args.dataset, split=args.split, batch_size=batch_size, shuffle=shuffle, seed=seed,
                mnist=args.mnist, data_dir=args.data_dir, image_size=args.image_size)


def shapes(args):
    """(A image shape, B image shape) of `--dataset`, from its element spec."""
    spec_a, spec_b = dataset(args, None, shuffle=False).element_spec
    out = []
    for spec in (spec_a, spec_b):
        if not spec.shape.is_fully_defined():
            raise SystemExit(
                f"error: the images of {args.dataset} have no fixed shape ({spec.shape}); pass --image-size."
            )
        out.append(tuple(int(d) for d in spec.shape))
    return tuple(out)


def _build(args, image_shape, target_shape):
    import keras_gans as kg

    kwargs = {"image_shape": image_shape, "target_channels": target_shape[-1], "seed": args.seed}
    if args.width:
        kwargs.update(g_width=args.width, d_width=args.width)
    return kg.models.get(args.model)(**kwargs)


def _compile(model, args):
    d_opt, g_opt = model.default_optimizers()
    if args.lr is not None:
        d_opt.learning_rate.assign(args.lr)
        g_opt.learning_rate.assign(args.lr)
    model.compile(d_optimizer=d_opt, g_optimizer=g_opt)


def _load_init(args, image_shape, target_shape):
    import keras

    import keras_gans.models  # noqa: F401  (registers the model classes)
    from keras_gans.training import runs

    model = keras.models.load_model(args.init)
    if model.family != args.model:
        raise runs.RunFolderError(f"--init {args.init} holds a {model.family} model, not {args.model}")
    if (tuple(model.image_shape), tuple(model.target_shape)) != (image_shape, target_shape):
        raise runs.RunFolderError(
            f"--init {args.init} translates {tuple(model.image_shape)} into {tuple(model.target_shape)}; "
            f"{args.dataset} has {image_shape} and {target_shape}."
        )
    if model.precision != args.precision:
        model = model.with_precision(args.precision)
    if model.d_optimizer is None or model.g_optimizer is None:
        _compile(model, args)
    elif args.lr is not None:
        for optimizer in (model.d_optimizer, model.g_optimizer):
            optimizer.learning_rate.assign(args.lr)
    return model


def train(args, previous, started, is_chief):
    """Trains (or resumes) a translator into the run folder `args.out`; `--export` at the end."""
    import keras
    import numpy as np

    import keras_gans as kg
    from keras_gans.cli._run_fit import fit_in_run_folder
    from keras_gans.training import callbacks as run_callbacks, distribute, runs

    check_flags(args)
    strategy = distribute.get_strategy(args.strategy)
    image_shape, target_shape = shapes(args)
    out = Path(args.out)
    chief = is_chief(strategy)
    work = out if chief else out / f"worker_{strategy.cluster_resolver.task_id}"

    resume_from_model = runs.resumes_from_model(out, previous)
    with strategy.scope():
        if resume_from_model:
            model = keras.models.load_model(out / "model.keras")
        elif args.init is not None:
            model = _load_init(args, image_shape, target_shape)
        else:
            model = _build(args, image_shape, target_shape)
            _compile(model, args)
    batch = distribute.global_batch_size(args.batch_size, strategy)
    work.mkdir(parents=True, exist_ok=True)  # only once the model and the batch are known good
    data = dataset(args, batch, seed=args.seed)
    if args.steps_per_epoch:
        data = data.repeat()
    # The grid's images: the first examples of the split, the same in every epoch and sitting.
    shown_a, shown_b = (np.asarray(t) for t in next(iter(dataset(args, max(1, min(args.samples, 16)), shuffle=False))))

    # pix2pix's B images are the targets of its A images; CycleGAN's are unrelated.
    grid = run_callbacks.TranslationGrid(work / "samples", shown_a, shown_b if args.model == "pix2pix" else None,
                                         log_dir=work / "logs" / "train", every_steps=args.grid_every)
    fit_in_run_folder(args, previous, started, model, data, work, chief, grid,
                      kg.export.export_translator, "translator",
                      from_model=resume_from_model)
