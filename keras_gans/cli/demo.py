"""`keras-gans demo` (`make demo`): serve a generator, sample it over REST and gRPC, write a grid.

    keras-gans demo                                        # the shipped saved_models/dcgan_mnist
    keras-gans demo --mnist ../shared/data/mnist --train   # train a DCGAN briefly first

The steps are `keras_gans.demo.run`.
"""


def add_parser(subparsers):
    p = subparsers.add_parser("demo", help="the main job end to end: serve, sample over REST and gRPC, write a grid",
                              description="Serve a generator (the shipped one, or a DCGAN trained briefly), "
                                          "request the same samples over REST and gRPC, and write a grid PNG.")
    p.add_argument("--mnist", default=None, help="folder of MNIST IDX files (for training)")
    p.add_argument("--saved-models", default="saved_models")
    p.add_argument("--model", default="dcgan_mnist", help="shipped generator to serve")
    p.add_argument("--train", action="store_true", help="train a fresh DCGAN even if one ships")
    p.add_argument("--steps", type=int, default=300, help="training steps when training")
    p.add_argument("--out", default="demo_out")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=run)


def run(args):
    from keras_gans import demo

    return demo.run(mnist=args.mnist, saved_models=args.saved_models, model=args.model, train=args.train,
                    steps=args.steps, out=args.out, n=args.n, seed=args.seed, verbose=args.show_logs)
