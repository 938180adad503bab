"""Serving speed over REST and gRPC (embedded server): latency, throughput, batching, memory.

Three tables, measured side by side in one run on loopback:

1. **Latency** of one client for each signature and protocol, beside the same SavedModel
   run in process (the floor), for each `--num-samples` (p50, p90, p99, mean); the rows'
   requests are taken in turns, so the ratios to the floor compare like with like.
2. **Throughput**: 1 and 16 concurrent clients sending 1-sample `serving_default`
   requests for `--seconds`, over REST and gRPC, with batching off and on
   (`--enable_batching` with the parameters below): requests/s, p50 and p99 latency, the
   server's CPU time per request and, with batching, the mean merged batch size the server
   reports. Each client has its own connection (a keep-alive HTTP/1.1 one, or a gRPC
   channel) and sends the request `Client.predict` encodes, encoded once: the clients run
   as asyncio tasks in `--load-processes` processes, so the load generator's own CPU time,
   reported beside the server's, leaves the two cores to the server as far as it can.
3. **Model-call ceiling**: the server's own session call (`Servable.run`) in this
   process, no request handling: as many threads as clients each running 1-row calls
   (what the unbatched server runs), beside `--num-batch-threads` threads running
   `--max-batch-size`-row calls (what batching runs when every batch fills). Their
   ratio is the most batching can lift the throughput table's requests/s, were
   request handling free: on a CPU the generator's cost grows almost in proportion
   to its batch, so merging saves only the per-call part.
4. **Memory**: the server's RSS with the whole zoo loaded (generators and translators),
   idle and after a load run.

The generator is an MNIST-sized DCGAN (untrained: speed does not depend on the weights).

Example (from the project root):
    python benchmarks/serving_latency.py                       # everything (a few minutes)
    python benchmarks/serving_latency.py --num-samples 256 --requests 30 --skip-throughput
"""

import argparse
import json
import multiprocessing
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TF Serving's batching parameters of the throughput table: a batch closes when it holds
# --max-batch-size requests, or after --batch-timeout-micros, when a batch thread is free.
BATCHING = """\
max_batch_size {{ value: {size} }}
batch_timeout_micros {{ value: {timeout} }}
max_enqueued_batches {{ value: 256 }}
num_batch_threads {{ value: {threads} }}
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _interleaved_times(fns, requests, warmup=3):
    """Milliseconds of `requests` calls of each of `fns`, taken in turns (one call of
    each per round), so a change of the machine's speed falls on every row alike and
    their ratios hold."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    out = [[] for _ in fns]
    for _ in range(requests):
        for fn, times in zip(fns, out):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    return [np.asarray(times) for times in out]


def _cpu_seconds(pid):
    """User + system CPU time of process `pid` so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """`keras-gans serve --embedded` on loopback ports, as its own process."""

    def __init__(self, *flags):
        self.rest_port, self.grpc_port = _free_port(), _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "keras_gans.cli", "serve", "--embedded", "--host=127.0.0.1",
             f"--port={self.grpc_port}", f"--rest_api_port={self.rest_port}", *flags],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.rest = f"http://127.0.0.1:{self.rest_port}"
        self.grpc = f"grpc://127.0.0.1:{self.grpc_port}"

    def wait(self, model):
        from keras_gans.serving import Client

        Client(self.rest).wait_until_available(model, timeout=300)

    def cpu_seconds(self):
        """User + system CPU time of the server process so far."""
        return _cpu_seconds(self.process.pid)

    def rss_mib(self):
        status = open(f"/proc/{self.process.pid}/status").read()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def batch_size_totals(self):
        """(sum, count) of merged batch sizes from the server's Prometheus metrics, or None."""
        import requests

        try:
            text = requests.get(f"{self.rest}/monitoring/prometheus/metrics", timeout=5).text
        except requests.RequestException:
            return None
        sums, counts = {}, {}
        for line in text.splitlines():
            match = re.match(r"^(\S*batch_size\S*?)_(sum|count)(\{[^}]*\})?\s+([0-9.eE+-]+)$", line)
            if match:
                target = sums if match.group(2) == "sum" else counts
                target[match.group(1)] = target.get(match.group(1), 0.0) + float(match.group(4))
        # The rows merged per model call, without padding (ours), else with it (TF Serving's).
        for wanted in ("merged_batch_size", "processed_batch_size"):
            for name, count in counts.items():
                if name.endswith(wanted) and name in sums:
                    return sums[name], count
        return None

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def _predict_bodies(model, z):
    """(REST body, serialized gRPC PredictRequest) of a `serving_default` request for `z`,
    encoded by the client's own encoders (what `Client.predict` sends)."""
    from keras_gans.serving import client as client_lib

    rest = client_lib._Rest.predict_body("serving_default", {"z": z})
    request = client_lib._Grpc.predict_request(model, None, "serving_default", {"z": z}, {"z": "DT_FLOAT"})
    return rest, request.SerializeToString()


async def _rest_client(host, port, request, end, latencies):
    """One keep-alive HTTP/1.1 connection sending `request` until `end`; checks every answer."""
    import asyncio

    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.time() < end:
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            body = await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200") or not body.startswith(b'{"outputs"'):
                raise RuntimeError(f"unexpected answer: {head[:40]!r} {body[:80]!r}")
            latencies.append((time.perf_counter() - t) * 1000)
    finally:
        writer.close()


async def _grpc_client(target, request, end, latencies):
    """One gRPC channel of its own sending the serialized `request` until `end`."""
    import grpc

    # Its own connection, as a separate client would have.
    async with grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")  # bytes in, bytes out
        await predict(request)  # connect before the clock starts
        while time.time() < end:
            t = time.perf_counter()
            if not await predict(request):
                raise RuntimeError("empty PredictResponse")
            latencies.append((time.perf_counter() - t) * 1000)


def _load_worker(url, model, latent_dim, clients, start, seconds, ready, queue):
    """`clients` concurrent clients in one process (asyncio), sending pre-encoded 1-sample
    `serving_default` requests from `start` for `seconds`; puts their latencies (ms)."""
    import asyncio

    z = np.random.default_rng(os.getpid()).standard_normal([1, latent_dim]).astype(np.float32)
    rest_body, grpc_request = _predict_bodies(model, z)
    host_port = url.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    rest_request = (f"POST /v1/models/{model}:predict HTTP/1.1\r\nHost: {host_port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(rest_body)}\r\n\r\n").encode() + rest_body

    async def run():
        ready.put(True)
        while start.value == 0.0 or time.time() < start.value:
            await asyncio.sleep(0.001)
        latencies, end = [], start.value + seconds
        if url.startswith("grpc://"):
            jobs = [_grpc_client(host_port, grpc_request, end, latencies) for _ in range(clients)]
        else:
            jobs = [_rest_client(host, int(port), rest_request, end, latencies) for _ in range(clients)]
        await asyncio.gather(*jobs)
        return latencies

    queue.put(asyncio.run(run()))


def throughput(server, url, model, clients, seconds, latent_dim, processes=2):
    """One load run: {"latencies": ms array, "rate": requests/s, "server_cpu": server CPU
    ms per request, "load_cpu": the load processes' CPU ms per request} for `clients`
    concurrent clients spread over `processes` load processes."""
    context = multiprocessing.get_context("spawn")
    queue, ready = context.Queue(), context.Queue()
    start = context.Value("d", 0.0)
    shares = [len(range(i, clients, processes)) for i in range(min(processes, clients))]
    workers = [
        context.Process(target=_load_worker, args=(url, model, latent_dim, n, start, seconds, ready, queue))
        for n in shares
    ]
    for w in workers:
        w.start()
    for _ in workers:  # every load process ready: then start them together
        ready.get(timeout=300)
    start_at = start.value = time.time() + 1.0
    while time.time() < start_at:
        time.sleep(0.001)
    cpu_before = server.cpu_seconds()
    load_before = sum(_cpu_seconds(w.pid) for w in workers)
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    cpu = server.cpu_seconds() - cpu_before
    load = sum(_cpu_seconds(w.pid) for w in workers) - load_before
    for w in workers:
        w.join()
    latencies = np.concatenate([np.asarray(r) for r in results])
    n = max(len(latencies), 1)
    return {"latencies": latencies, "rate": len(latencies) / seconds,
            "server_cpu": 1000 * cpu / n, "load_cpu": 1000 * load / n}


def latency_table(work, version, args):
    import requests
    import tensorflow as tf

    from keras_gans.serving import Client

    server = Server("--model_name=dcgan", f"--model_base_path={os.path.join(work, 'dcgan')}")
    try:
        server.wait("dcgan")
        rest, grpc_client = Client(server.rest), Client(server.grpc)
        loaded = tf.saved_model.load(os.path.join(work, "dcgan", str(version)))
        sample_fn, default_fn = loaded.signatures["sample"], loaded.signatures["serving_default"]
        session = requests.Session()
        url = f"{server.rest}/v1/models/dcgan:predict"
        print("| samples | path | signature | p50 ms | p90 ms | p99 ms | mean ms | p50 / in process |")
        print("|---|---|---|---|---|---|---|---|")
        for n in args.num_samples:
            z = np.random.default_rng(0).standard_normal([n, args.latent_dim]).astype(np.float32)
            body = json.dumps({"signature_name": "sample", "inputs": {"num_samples": n, "seed": 7}}).encode()
            rows = [
                ("in process (TF2 signature)", "sample",
                 lambda: sample_fn(num_samples=tf.constant(n), seed=tf.constant(7, tf.int64))),
                ("REST, raw request", "sample", lambda: session.post(url, data=body).content),
                ("REST, Client.sample", "sample", lambda: rest.sample("dcgan", n, seed=7)),
                ("gRPC, Client.sample", "sample", lambda: grpc_client.sample("dcgan", n, seed=7)),
                ("REST, Client.sample_png", "sample_png", lambda: rest.sample_png("dcgan", n, seed=7)),
                ("gRPC, Client.sample_png", "sample_png", lambda: grpc_client.sample_png("dcgan", n, seed=7)),
                ("in process (TF2 signature)", "serving_default", lambda: default_fn(z=tf.constant(z))),
                ("REST, Client.predict", "serving_default", lambda: rest.predict("dcgan", z)),
                ("gRPC, Client.predict", "serving_default", lambda: grpc_client.predict("dcgan", z)),
            ]
            floor = {}
            for (name, signature, _), t in zip(rows, _interleaved_times([r[2] for r in rows], args.requests)):
                p50 = np.percentile(t, 50)
                if name.startswith("in process"):
                    floor[signature] = p50
                ratio = f"{p50 / floor[signature]:.2f}x" if signature in floor else ""
                print(f"| {n} | {name} | {signature} | {p50:.1f} | {np.percentile(t, 90):.1f} | "
                      f"{np.percentile(t, 99):.1f} | {t.mean():.1f} | {ratio} |")
    finally:
        server.stop()


def _batching(args):
    return BATCHING.format(size=args.max_batch_size, timeout=args.batch_timeout_micros, threads=args.num_batch_threads)


def throughput_table(work, args):
    """Batching off and on, each its own server, both running: for each protocol and
    client count, `--rounds` load runs alternate off, on, off, on... so a change of the
    machine's speed during the run falls on both; each row pools its rounds."""
    params = os.path.join(work, "batching_parameters.txt")
    with open(params, "w") as f:
        f.write(_batching(args))
    base = ["--model_name=dcgan", f"--model_base_path={os.path.join(work, 'dcgan')}", *args.server_flag]
    servers = {
        "off": Server(*base),
        "on": Server(*base, "--enable_batching", f"--batching_parameters_file={params}"),
    }
    try:
        for server in servers.values():
            server.wait("dcgan")
        print("| batching | protocol | clients | requests/s (median of rounds) | p50 ms | p99 ms "
              "| server CPU ms / request | load generator CPU ms / request | mean merged batch |")
        print("|---|---|---|---|---|---|---|---|---|")
        ratios = []
        for protocol in ("REST", "gRPC"):
            for clients in args.clients:
                runs = {"off": [], "on": []}
                merged = [0.0, 0.0]
                for _ in range(args.rounds):
                    for batching, server in servers.items():
                        url = server.rest if protocol == "REST" else server.grpc
                        before = server.batch_size_totals() or (0.0, 0.0)
                        runs[batching].append(throughput(server, url, "dcgan", clients, args.seconds,
                                                         args.latent_dim, args.load_processes))
                        if batching == "on":
                            after = server.batch_size_totals() or (0.0, 0.0)
                            merged = [merged[0] + after[0] - before[0], merged[1] + after[1] - before[1]]
                for batching, rounds in runs.items():
                    latencies = np.concatenate([r["latencies"] for r in rounds])
                    shown = f"{merged[0] / merged[1]:.1f}" if batching == "on" and merged[1] else ""
                    print(f"| {batching} | {protocol} | {clients} | {np.median([r['rate'] for r in rounds]):,.0f} | "
                          f"{np.percentile(latencies, 50):.1f} | {np.percentile(latencies, 99):.1f} | "
                          f"{np.mean([r['server_cpu'] for r in rounds]):.2f} | "
                          f"{np.mean([r['load_cpu'] for r in rounds]):.2f} | {shown} |")
                paired = [on["rate"] / off["rate"] for off, on in zip(runs["off"], runs["on"])]
                p99 = [np.percentile(np.concatenate([r["latencies"] for r in runs[b]]), 99) for b in ("off", "on")]
                ratios.append((protocol, clients, paired, p99))
    finally:
        for server in servers.values():
            server.stop()
    print(f"\nbatching parameters: {' '.join(_batching(args).split())}"
          + (f"; server flags: {' '.join(args.server_flag)}" if args.server_flag else "") + "\n")
    print("| protocol | clients | requests/s on / off (median of paired rounds) | rounds | p99 on / off |")
    print("|---|---|---|---|---|")
    for protocol, clients, paired, (p99_off, p99_on) in ratios:
        print(f"| {protocol} | {clients} | {np.median(paired):.2f}x | "
              f"{', '.join(f'{r:.2f}' for r in paired)} | {p99_on / p99_off:.2f} |")


def ceiling_table(work, args):
    """Rows/s of the server's session call alone: 1-row calls from `clients` threads, and
    `--max-batch-size`-row calls from `--num-batch-threads` threads; `--rounds` runs
    of `--seconds` each, taken in turns."""
    import threading

    import tensorflow as tf

    from keras_gans.serving.server import config as config_lib
    from keras_gans.serving.server.manager import ModelManager

    manager = ModelManager(tf.compat.v1.ConfigProto())
    manager.set_config(config_lib.single_model_config("dcgan", os.path.join(work, "dcgan")))
    manager.poll()
    servable = manager.resolve("dcgan")
    signature = servable.signature_defs["serving_default"]
    fetches = {alias: info.name for alias, info in signature.outputs.items()}
    rng = np.random.default_rng(0)

    def run(threads, rows):
        feeds = {signature.inputs["z"].name: rng.standard_normal([rows, args.latent_dim]).astype(np.float32)}
        servable.run(feeds, fetches)  # warm
        calls, end = [0] * threads, time.perf_counter() + args.seconds

        def loop(i):
            while time.perf_counter() < end:
                servable.run(feeds, fetches)
                calls[i] += 1

        cpu = time.process_time()
        workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        cpu = time.process_time() - cpu
        done = sum(calls) * rows
        return done / args.seconds, 1000 * cpu / max(done, 1)

    shapes = [(c, 1) for c in args.clients if c > 1] + [(args.num_batch_threads, args.max_batch_size)]
    results = {shape: [] for shape in shapes}
    try:
        for _ in range(args.rounds):
            for shape in shapes:
                results[shape].append(run(*shape))
    finally:
        manager.stop()
    print("| threads | rows per call | rows/s (median of rounds) | CPU ms / row | rows/s / 1-row calls |")
    print("|---|---|---|---|---|")
    base = np.median([r for r, _ in results[shapes[0]]])
    for shape in shapes:
        rate = np.median([r for r, _ in results[shape]])
        print(f"| {shape[0]} | {shape[1]} | {rate:,.0f} | {np.median([c for _, c in results[shape]]):.3f} | "
              f"{rate / base:.2f}x |")


def memory_table(args):
    import json

    from keras_gans import pretrained

    zoo = os.path.join(ROOT, "saved_models")
    generators = pretrained.list(zoo)
    names = pretrained.list(zoo, kind="all")  # the generators and the translators
    config = tempfile.NamedTemporaryFile("w", suffix=".config", delete=False)
    config.write("model_config_list {\n" + "".join(
        f'  config {{ name: "{n}" base_path: "{os.path.join(zoo, n)}" model_platform: "tensorflow" }}\n'
        for n in names) + "}\n")
    config.close()
    server = Server(f"--model_config_file={config.name}")
    try:
        for name in names:
            server.wait(name)
        time.sleep(2)
        idle = server.rss_mib()
        cards = {n: json.loads((pretrained.path(n, zoo) / "card.json").read_text()) for n in generators}
        unconditional = next(n for n in generators if cards[n]["num_classes"] is None)
        throughput(server, server.rest, unconditional, 4, min(args.seconds, 5), cards[unconditional]["latent_dim"],
                   args.load_processes)
        loaded = server.rss_mib()
    finally:
        server.stop()
        os.unlink(config.name)
    print("| models loaded | RSS idle MiB | RSS after a load run MiB |")
    print("|---|---|---|")
    print(f"| {len(names)}: {len(generators)} generators and {len(names) - len(generators)} translators "
          f"({', '.join(names)}; each model's latest version) | {idle:.0f} | {loaded:.0f} |")
    print(f"\n(the load run: {unconditional}, 4 clients of 1-sample serving_default requests)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-samples", type=int, nargs="+", default=[1, 256])
    parser.add_argument("--requests", type=int, default=30, help="timed requests per latency row")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--batch-timeout-micros", type=int, default=10000)
    parser.add_argument("--num-batch-threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3,
                        help="throughput runs per row, batching off and on alternating")
    parser.add_argument("--load-processes", type=int, default=2,
                        help="processes the throughput rows' clients are spread over")
    parser.add_argument("--server-flag", action="append", default=[],
                        help="a flag for both throughput servers, e.g. --server-flag=--tensorflow_intra_op_parallelism=1")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--width", type=int, default=64, help="DCGAN g_width/d_width")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    import keras_gans as kg
    from keras_gans import export

    work = tempfile.mkdtemp(prefix="serving-latency-")
    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=args.latent_dim, g_width=args.width, d_width=args.width)
    version = export.export_generator(gan, os.path.join(work, "dcgan"))
    print(f"keras-gans serving speed: {platform.node()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; TensorFlow {tf.__version__}; DCGAN 28x28x1, latent {args.latent_dim}, "
          f"width {args.width}; embedded server on loopback.\n")
    if not args.skip_latency:
        print(f"## Latency (one client, {args.requests} requests per row, the rows taken in turns)\n")
        latency_table(work, version, args)
    if not args.skip_throughput:
        print(f"\n## Throughput (1-sample serving_default requests, {args.rounds} rounds of {args.seconds:.0f} s per row)\n")
        throughput_table(work, args)
    if not args.skip_ceiling:
        print(f"\n## Model-call ceiling (in process, the server's session call, {args.rounds} rounds of "
              f"{args.seconds:.0f} s per row)\n")
        ceiling_table(work, args)
    if not args.skip_memory:
        print("\n## Memory (the shipped zoo)\n")
        memory_table(args)


if __name__ == "__main__":
    main()
