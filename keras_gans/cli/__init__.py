"""The `keras-gans` command: train, export, serve, sample, evaluate, serving-config.

    keras-gans train dcgan --dataset ../shared/data/mnist --epochs 5 --out runs/dcgan
    keras-gans export runs/dcgan --to saved_models/dcgan_mnist
    keras-gans serve --model_config_file serving/models.config --port 8500 --rest_api_port 8501
    keras-gans sample --server http://localhost:8501 --model dcgan_mnist -n 64 --seed 7 --out grid.png

TensorFlow's start-up and INFO/WARNING logs are hidden unless `keras-gans --verbose COMMAND`.
"""

import argparse
import shlex
import sys

from keras_gans.cli import _logs, evaluate, export, sample, serve, serving_config, train

COMMANDS = (train, export)
# These commands own their flags (serve takes tensorflow_model_server's).
PASSTHROUGH = {"serve": serve, "serving-config": None, "sample": sample, "evaluate": evaluate}


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-gans", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", dest="show_logs", action="store_true",
                        help="also show TensorFlow's start-up and run-time logs (hidden by default)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    serving_config.add_parser(sub)
    for name, module in PASSTHROUGH.items():
        if module is not None:
            # Listed for `keras-gans --help`; main() hands their arguments on before parsing.
            sub.add_parser(name, help=module.HELP, add_help=False)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    show_logs = bool(argv) and argv[0] == "--verbose"
    if not show_logs:
        _logs.quiet()
    try:
        if argv[show_logs:] and PASSTHROUGH.get(argv[show_logs]) is not None:
            result = PASSTHROUGH[argv[show_logs]].main(argv[show_logs + 1:])
        else:
            args = parser.parse_args(argv)
            args.command_line = "keras-gans " + " ".join(shlex.quote(a) for a in argv)
            result = args.run(args)
    except ValueError as error:  # the project's bad-input errors: one clear line
        raise SystemExit(f"error: {error}") from None
    return result if isinstance(result, int) else 0
