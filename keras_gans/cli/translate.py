"""`keras-gans translate`: translate an image file with a served pix2pix or CycleGAN.

    keras-gans translate --server localhost:8501 --model pix2pix_mnist_edges edges.png digit.png
    keras-gans translate --server localhost:8500 --grpc --model cyclegan_mnist_invert --direction b_to_a in.png out.png

The file's bytes go to the model's `translate_png` signature (`translate_b_to_a_png` for
`--direction b_to_a`) as they are, a PNG or JPEG of the model's image size and channels; the
PNG the server returns is written to the output file. Over REST (the default) this needs no
TensorFlow; `--grpc` uses TF Serving's gRPC stubs.
"""

from pathlib import Path


def add_parser(subparsers):
    p = subparsers.add_parser("translate", help="translate an image file with a served pix2pix / CycleGAN",
                              description="Send a PNG or JPEG file to a served translator (TF Serving or "
                                          "`keras-gans serve`) and write the translated PNG.")
    p.add_argument("--server", required=True,
                   help="HOST:PORT of the server (REST, 8501 by convention; gRPC with --grpc, 8500), "
                        "or a URL http://host:port / grpc://host:port")
    p.add_argument("--model", required=True, help="model name, e.g. pix2pix_mnist_edges")
    p.add_argument("--direction", choices=("a_to_b", "b_to_a"), default="a_to_b",
                   help="a_to_b (default) or b_to_a (CycleGAN's B -> A generator)")
    p.add_argument("--grpc", action="store_true", help="use TF Serving's gRPC API instead of REST")
    p.add_argument("--version", type=int, default=None, help="a specific version (default: the latest)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    p.add_argument("input", help="the image to translate (PNG or JPEG)")
    p.add_argument("output", help="the PNG file to write")
    p.set_defaults(run=run)


def server_url(server, grpc=False):
    """The client URL of `--server`: a URL as given, HOST:PORT as http:// or grpc:// (`--grpc`)."""
    if "://" in server:
        scheme = server.split("://", 1)[0]
        if grpc and scheme != "grpc":
            raise ValueError(f"--grpc asks for gRPC, but --server {server} is a {scheme} URL")
        return server
    return ("grpc://" if grpc else "http://") + server


def run(args):
    from keras_gans.serving.client import Client
    from keras_gans.serving.errors import ServingError

    url = server_url(args.server, args.grpc)
    try:
        data = Path(args.input).read_bytes()
    except OSError as e:
        raise SystemExit(f"error: cannot read {args.input}: {e.strerror or e}") from None
    try:
        with Client(url, timeout=args.timeout) as client:
            (png,) = client.translate(args.model, [data], direction=args.direction, png=True, version=args.version)
    except ServingError as e:
        raise SystemExit(f"error: {url} answered {e.code}: {e.message}") from None
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png)
    print(f"wrote {out}: {args.input} translated {args.direction} by {args.model} at {url}")
    return 0
