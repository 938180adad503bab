"""The `keras-gans` command: train, progress, export, serve, sample, translate, evaluate, serving-config, demo.

    keras-gans train dcgan --dataset ../shared/data/mnist --epochs 5 --out runs/dcgan
    keras-gans progress runs/dcgan
    keras-gans export runs/dcgan --to saved_models/dcgan_mnist
    keras-gans serve --model_config_file serving/models.config --port 8500 --rest_api_port 8501
    keras-gans sample --server http://localhost:8501 --model dcgan_mnist -n 64 --seed 7 --out grid.png
    keras-gans translate --server localhost:8501 --model pix2pix_mnist_edges edges.png digit.png
    keras-gans evaluate dcgan_mnist --dataset ../shared/data/mnist
    keras-gans demo

TensorFlow's start-up and INFO/WARNING logs are hidden unless `keras-gans --verbose COMMAND`.
"""

# One module per command, each with `add_parser(subparsers)` and `run(args)`. This package is
# the only place with argparse: a command turns its flags into calls of library functions
# (keras_gans.training.runs, evaluation, latent, serving.server, demo) that tests call
# directly. Modules load nothing heavy until a command runs, so `--help` imports no TensorFlow.

import argparse
import shlex
import sys

from keras_gans.cli import _logs, demo, evaluate, export, progress, sample, serve, serving_config, train, translate

COMMANDS = (train, progress, export, serve, serving_config, sample, translate, evaluate, demo)


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-gans", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", dest="show_logs", action="store_true",
                        help="also show TensorFlow's start-up and run-time logs (hidden by default)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    """Runs `keras-gans ARGV` (default `sys.argv[1:]`); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if not args.show_logs:
        _logs.quiet()
    args.command_line = "keras-gans " + " ".join(shlex.quote(a) for a in argv)
    try:
        result = args.run(args)
    except ValueError as error:  # the project's bad-input errors: one clear line
        raise SystemExit(f"error: {error}") from None
    return result if isinstance(result, int) else 0
