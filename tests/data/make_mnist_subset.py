"""Write the first N MNIST test images and labels as IDX .gz files, for tests without ../shared.

The output keeps the original IDX layout (big-endian header with the count set to N) so the
same loader reads it as it reads the full files.

Args (command line):
    source: folder with the original t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
    --out: output folder (default: tests/data/mnist beside this script).
    --count: number of examples to keep (default 1000).

Example:
    python tests/data/make_mnist_subset.py ../shared/data/mnist
"""

import argparse
import gzip
import struct
from pathlib import Path

# (file name, magic number, number of header dimensions after the count)
FILES = (
    ("t10k-images-idx3-ubyte.gz", 0x00000803, 2),
    ("t10k-labels-idx1-ubyte.gz", 0x00000801, 0),
)


def subset(src: Path, dst: Path, magic: int, extra_dims: int, count: int) -> None:
    """Copy the first `count` examples of the IDX file `src` to `dst` (gzipped, reproducible)."""
    with gzip.open(src, "rb") as f:
        raw = f.read()
    got_magic, total = struct.unpack(">II", raw[:8])
    if got_magic != magic:
        raise ValueError(f"{src}: magic 0x{got_magic:08x}, expected 0x{magic:08x}.")
    if count > total:
        raise ValueError(f"{src} has {total} examples; asked for {count}.")
    dims = struct.unpack(f">{extra_dims}I", raw[8 : 8 + 4 * extra_dims])
    header = 8 + 4 * extra_dims
    per_example = 1
    for d in dims:
        per_example *= d
    body = raw[header : header + count * per_example]
    out = struct.pack(">II", magic, count) + raw[8:header] + body
    # mtime=0 and no file name in the gzip header: the same input gives the same bytes.
    with open(dst, "wb") as raw_out, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw_out, compresslevel=9, mtime=0
    ) as f:
        f.write(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "mnist")
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, magic, extra_dims in FILES:
        subset(args.source / name, args.out / name, magic, extra_dims, args.count)
        print(f"wrote {args.out / name} ({(args.out / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
