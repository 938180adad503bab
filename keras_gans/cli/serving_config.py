"""`keras-gans serving-config`: regenerate models.config (TF Serving's model list) for saved_models/.

    keras-gans serving-config saved_models/ --out serving/models.config
"""


def add_parser(subparsers):
    p = subparsers.add_parser("serving-config", help="write models.config for a saved_models folder",
                              description="Regenerate models.config for saved_models/.")
    p.add_argument("saved_models", nargs="?", default="saved_models")
    p.add_argument("--out", default="serving/models.config")
    p.add_argument("--base-path-prefix", default="/models",
                   help="where the server sees saved_models/ (default /models, as the "
                        "docker-compose and k8s files mount it; \"\" for this machine's absolute paths)")
    p.set_defaults(run=run)


def run(args):
    from keras_gans.serving.server import config

    config.write_models_config(args.saved_models, args.out, base_path_prefix=args.base_path_prefix)
    print(f"wrote {args.out}")
