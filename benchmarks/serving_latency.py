"""Serving latency of a generator over REST and gRPC (embedded server), as a table.

Exports an MNIST-sized DCGAN (untrained: latency does not depend on the weights),
starts `keras-gans serve --embedded` on loopback ports, and times requests for
`--num-samples` images through each signature and protocol, plus the time to run the
same SavedModel in process (the floor).

Example:
    python benchmarks/serving_latency.py --num-samples 64 --requests 30
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _times(fn, requests, warmup=3):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(requests):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return np.asarray(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--width", type=int, default=64, help="DCGAN g_width/d_width")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import requests
    import tensorflow as tf

    import keras_gans as kg
    from keras_gans import export
    from keras_gans.serving import Client

    work = tempfile.mkdtemp(prefix="serving-latency-")
    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=args.latent_dim, g_width=args.width, d_width=args.width)
    version = export.export_generator(gan, os.path.join(work, "dcgan"))
    rest_port, grpc_port = _free_port(), _free_port()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    server = subprocess.Popen(
        [sys.executable, "-m", "keras_gans.cli", "serve", "--embedded", "--host=127.0.0.1",
         f"--port={grpc_port}", f"--rest_api_port={rest_port}", "--model_name=dcgan",
         f"--model_base_path={os.path.join(work, 'dcgan')}"],
        cwd=root, env=dict(os.environ, PYTHONPATH=root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        rest, grpc_client = Client(f"http://127.0.0.1:{rest_port}"), Client(f"grpc://127.0.0.1:{grpc_port}")
        rest.wait_until_available("dcgan", timeout=180)
        n = args.num_samples
        z = np.random.default_rng(0).standard_normal([n, args.latent_dim]).astype(np.float32)
        loaded = tf.saved_model.load(os.path.join(work, "dcgan", str(version)))
        sample_fn = loaded.signatures["sample"]
        body = json.dumps({"signature_name": "sample", "inputs": {"num_samples": n, "seed": 7}}).encode()
        session = requests.Session()
        url = f"http://127.0.0.1:{rest_port}/v1/models/dcgan:predict"
        rows = [
            ("in process (TF2 signature)", "sample", lambda: sample_fn(num_samples=tf.constant(n), seed=tf.constant(7, tf.int64))),
            ("REST, raw request", "sample", lambda: session.post(url, data=body).content),
            ("REST, Client.sample", "sample", lambda: rest.sample("dcgan", n, seed=7)),
            ("gRPC, Client.sample", "sample", lambda: grpc_client.sample("dcgan", n, seed=7)),
            ("REST, Client.sample_png", "sample_png", lambda: rest.sample_png("dcgan", n, seed=7)),
            ("gRPC, Client.sample_png", "sample_png", lambda: grpc_client.sample_png("dcgan", n, seed=7)),
            ("REST, Client.predict", "serving_default", lambda: rest.predict("dcgan", z)),
            ("gRPC, Client.predict", "serving_default", lambda: grpc_client.predict("dcgan", z)),
        ]
        size = len(session.post(url, data=body).content)
        print(f"DCGAN 28x28x1, latent {args.latent_dim}, width {args.width}; {n} samples per request, "
              f"{args.requests} requests each; REST `sample` body {size / 1024:.0f} KiB\n")
        print(f"| {'path':<27} | {'signature':<15} | p50 ms | p90 ms | mean ms |")
        print(f"|{'-' * 29}|{'-' * 17}|--------|--------|---------|")
        for name, signature, fn in rows:
            t = _times(fn, args.requests)
            print(f"| {name:<27} | {signature:<15} | {np.percentile(t, 50):6.1f} | {np.percentile(t, 90):6.1f} | {t.mean():7.1f} |")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
