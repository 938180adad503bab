"""The demo (`make demo`, `keras-gans demo`): the main job end to end, in a minute or less.

1. A generator: the shipped `saved_models/dcgan_mnist` when present (no data needed),
   otherwise a DCGAN trained briefly on MNIST with `keras-gans train` and exported.
2. `keras-gans serve` on free loopback ports (TF Serving's binary when on PATH, the
   embedded server otherwise).
3. Samples requested over REST and over gRPC with the same seed: identical images.
4. A grid PNG, then the server stops.

Example:
    from keras_gans import demo

    demo.run(out="demo_out")                  # serves saved_models/dcgan_mnist
    demo.run(mnist="../shared/data/mnist", train=True, steps=300)
"""

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keras_gans(verbose):
    """The `keras-gans` command as a child process (quiet unless `verbose`)."""
    return [sys.executable, "-m", "keras_gans.cli", *(["--verbose"] if verbose else [])]


def _train(mnist, out, steps, verbose=False):
    """Trains a small DCGAN briefly and exports it; returns the model base path."""
    dataset = mnist if mnist and (Path(mnist) / "train-images-idx3-ubyte.gz").exists() else "mnist"
    if dataset == "mnist":
        print("no MNIST folder given or found: using TFDS 'mnist' (downloads it once)")
    run = Path(out) / "run"
    base = Path(out) / "models" / "dcgan_demo"
    command = [
        *_keras_gans(verbose), "train", "dcgan", "--dataset", str(dataset),
        "--epochs", "1", "--steps-per-epoch", str(steps), "--batch-size", "64", "--width", "32",
        "--seed", "0", "--out", str(run), "--export", str(base), "--verbose", "2",
    ]
    if (run / "run.json").exists():
        command.append("--resume")
    print("$ " + " ".join(command[2:]).replace("keras_gans.cli", "keras-gans"), flush=True)
    subprocess.run(command, check=True)
    return base


@contextlib.contextmanager
def _server(name, base_path, verbose=False):
    grpc_port, rest_port = _free_port(), _free_port()
    command = [
        *_keras_gans(verbose), "serve", f"--model_name={name}",
        f"--model_base_path={Path(base_path).resolve()}", f"--port={grpc_port}",
        f"--rest_api_port={rest_port}", "--host=127.0.0.1",
    ]
    print(f"starting the server: REST on 127.0.0.1:{rest_port}, gRPC on 127.0.0.1:{grpc_port}", flush=True)
    process = subprocess.Popen(command)
    try:
        yield process, f"http://127.0.0.1:{rest_port}", f"grpc://127.0.0.1:{grpc_port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        print("server stopped")


def run(mnist=None, saved_models="saved_models", model="dcgan_mnist", train=False, steps=300,
        out="demo_out", n=64, seed=7, verbose=False):
    """Runs the demo; returns 0 (raises SystemExit when the server fails or disagrees).

    Args:
        mnist: folder of MNIST IDX files, to train on (TFDS "mnist" when missing).
        saved_models: where the shipped generators are.
        model: the shipped generator to serve.
        train: train a fresh DCGAN even if `model` ships.
        steps: training steps when training.
        out: folder for the run, the export and the samples PNG.
        n, seed: samples requested over each protocol, and their seed.
        verbose: the child commands show TensorFlow's logs too.
    """
    from keras_gans import images, layout
    from keras_gans.serving import Client

    base = Path(saved_models) / model
    if train or not layout.is_model_dir(base):
        base = _train(mnist, out, steps, verbose)
    else:
        print(f"serving the shipped generator {base}")
    name = base.name
    with _server(name, base, verbose) as (process, rest_url, grpc_url):
        with Client(rest_url) as rest, Client(grpc_url) as grpc:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"error: the server exited with code {process.returncode}")
                try:
                    rest.wait_until_available(name, timeout=1)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
            print("status:", rest.status(name))
            rest.sample(name, 1, seed=0)  # the first request of each kind pays for warm-up
            grpc.sample(name, 1, seed=0)
            start = time.perf_counter()
            over_rest = rest.sample(name, n, seed=seed)
            rest_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            over_grpc = grpc.sample(name, n, seed=seed)
            grpc_ms = (time.perf_counter() - start) * 1000
    print(f"{n} samples, seed {seed}: REST {rest_ms:.0f} ms, gRPC {grpc_ms:.0f} ms, "
          f"shape {over_rest.shape} {over_rest.dtype}")
    if not (over_rest == over_grpc).all():
        raise SystemExit("error: REST and gRPC returned different images for the same seed")
    print("REST and gRPC gave identical images for the same seed")
    path = images.save_png(Path(out) / f"{name}_samples.png", images.grid(over_rest))
    print(f"wrote {path}")
    return 0
