"""`keras-gans sample`: samples of a served or a local generator, as a grid PNG.

    keras-gans sample --server http://localhost:8501 --model dcgan_mnist -n 64 --seed 7 --out grid.png
    keras-gans sample --server grpc://localhost:8500 --model cgan_mnist -n 10 --labels 0,1,2,3,4,5,6,7,8,9 --out digits.png
    keras-gans sample --server http://localhost:8501 --model dcgan_mnist --interpolate slerp --steps 8 --seeds 1,2 --out walk.png
    keras-gans sample --model-path saved_models/dcgan_mnist --arithmetic 1+2+3,4+5+6,7+8+9 --out sum.png

Every source is a `keras_gans.generators.Generator`. Plain samples from a server come from its
`sample` signature (`sample_uint8`). A local model (`--model-path`) and the latent-space
exploration of Radford et al. (2016), interpolation and vector arithmetic (`keras_gans.latent`),
go through the generator's z input.
"""

import secrets


def add_parser(subparsers):
    from keras_gans import latent  # NumPy only

    p = subparsers.add_parser("sample", help="request samples from a server and write a grid PNG",
                              description="Request samples from TF Serving (or `keras-gans serve`), or "
                                          "generate them from a local model, and write a grid PNG.")
    p.add_argument("--server", default=None, help="http://host:8501 (REST) or grpc://host:8500 (gRPC)")
    p.add_argument("--model", default=None, help="model name, e.g. dcgan_mnist")
    p.add_argument("-n", "--num-samples", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=None, help="seed of the latent draw (random when omitted)")
    p.add_argument("--labels", type=_labels, default=None,
                   help="conditional models: comma-separated class ids, one per sample (default: classes in turn)")
    p.add_argument("--version", type=int, default=None, help="a specific version (default: the latest)")
    p.add_argument("--out", default="samples.png", help="PNG file to write (default samples.png)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    group = p.add_argument_group("latent-space exploration (Radford et al., 2016)")
    group.add_argument("--interpolate", choices=latent.METHODS, default=None,
                       help="write a grid of interpolations between the latent points of --seeds (pairs, one row each)")
    group.add_argument("--steps", type=int, default=8, help="images per interpolation, end points included (default 8)")
    group.add_argument("--seeds", default="0,1", help="comma-separated seeds, taken in pairs (default 0,1)")
    group.add_argument("--arithmetic", default=None, metavar="A,B,C",
                       help="write G(A), G(B), G(C), G(A - B + C); each operand a seed or seeds joined by + (averaged)")
    group.add_argument("--variations", type=int, default=0,
                       help="with --arithmetic: extra images of the result plus uniform noise of +-0.25")
    group.add_argument("--model-path", default=None,
                       help="generate locally from a SavedModel (version folder or base path) or a .keras file, "
                            "instead of --server and --model")
    p.set_defaults(run=run, parser=p)


def _labels(text):
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise ValueError(f"--labels must be comma-separated class ids, e.g. 0,1,2; got {text!r}") from None


def _seeds(text, what):
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise ValueError(f"{what} must be comma-separated integer seeds, e.g. 1,2; got {text!r}") from None


def _operands(text):
    """'1+2+3,4,5' -> [[1, 2, 3], [4], [5]]: three operands, '+' joins seeds to average."""
    parts = text.replace(" ", "").split(",")
    try:
        operands = [[int(s) for s in part.split("+")] for part in parts]
    except ValueError:
        operands = None
    if operands is None or len(operands) != 3:
        raise ValueError(
            f"--arithmetic takes three operands A,B,C, each a seed or seeds joined by + "
            f"(averaged), e.g. 1+2+3,4+5+6,7+8+9; got {text!r}"
        )
    return operands


def run(args):
    if args.interpolate or args.arithmetic or args.model_path:
        return _through_latents(args)
    if args.server is None or args.model is None:
        args.parser.error("the following arguments are required: --server, --model (or --model-path)")

    from keras_gans import generators
    from keras_gans import images as images_lib
    from keras_gans.serving.client import Client
    from keras_gans.serving.errors import ServingError

    seed = secrets.randbelow(2**31) if args.seed is None else args.seed
    try:
        with Client(args.server, timeout=args.timeout) as client:
            gen = generators.as_generator(client, model=args.model, version=args.version)
            samples = gen.sample_uint8(args.num_samples, seed=seed, labels=args.labels)
    except ServingError as e:
        raise SystemExit(f"error: {args.server} answered {e.code}: {e.message}") from None
    if samples.ndim == 4:
        images_lib.save_png(args.out, images_lib.grid(samples))
    elif samples.ndim == 2 and samples.shape[1] == 2:
        images_lib.scatter_png(args.out, samples)
    else:
        raise SystemExit(f"error: cannot draw samples of shape {samples.shape[1:]} as a PNG")
    print(f"wrote {args.out}: {len(samples)} samples of {args.model} (seed {seed}) from {args.server}")
    return 0


def _through_latents(args):
    """Samples, an interpolation or an arithmetic row from z: a local model, or a server's z input."""
    from keras_gans import generators
    from keras_gans import images as images_lib
    from keras_gans import latent
    from keras_gans.serving.errors import ServingError

    if args.interpolate and args.arithmetic:
        raise SystemExit("error: --interpolate and --arithmetic write different grids; pick one.")
    if args.model_path is None and (args.server is None or args.model is None):
        raise SystemExit("error: give --server and --model (a served generator), or --model-path (a local one).")
    try:
        seeds = _seeds(args.seeds, "--seeds") if args.interpolate else None
        operands = _operands(args.arithmetic) if args.arithmetic else None
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None

    client = None
    if args.model_path is not None:
        source, where = args.model_path, args.model_path
    else:
        from keras_gans.serving.client import Client

        client = Client(args.server, timeout=args.timeout)
        source, where = client, f"{args.model} at {args.server}"
    try:
        gen = generators.as_generator(source, model=args.model, version=args.version)
        if args.interpolate:
            samples = latent.interpolation_images(gen, seeds, args.steps, args.interpolate, labels=args.labels)
            cols, what = args.steps, f"{len(seeds) // 2} {args.interpolate} interpolation(s) of {args.steps} steps"
        elif args.arithmetic:
            a, b, c = operands
            samples = latent.arithmetic_images(gen, a, b, c, labels=args.labels, variations=args.variations)
            cols, what = len(samples), f"A, B, C, A - B + C ({args.arithmetic})"
        else:
            seed = secrets.randbelow(2**31) if args.seed is None else args.seed
            samples = gen.sample(args.num_samples, seed=seed, labels=args.labels)
            cols, what = None, f"{len(samples)} samples (seed {seed})"
    except ServingError as e:
        raise SystemExit(f"error: {args.server} answered {e.code}: {e.message}") from None
    finally:
        if client is not None:
            client.close()
    if samples.ndim != 4:
        raise SystemExit(f"error: cannot draw samples of shape {samples.shape[1:]} as an image grid")
    images_lib.save_png(args.out, images_lib.grid(samples, cols=cols))
    print(f"wrote {args.out}: {what} from {where}")
    return 0
