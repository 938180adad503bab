"""Quiet by default: the commands print their own output, not TensorFlow's start-up logs.

Importing TensorFlow 2.21 writes about ten lines to stderr before a command says anything
(seen here: `oneDNN custom operations are on`, `cudart_stub.cc ... Could not find cuda
drivers`, `cpu_feature_guard.cc ... rebuild TensorFlow`, then `failed call to cuInit` when
the devices are first listed). Most are written by C++ before `absl::InitializeLog()` is
called, so `TF_CPP_MIN_LOG_LEVEL` does not hide them (port.cc and cudart_stub.cc print even
at level 3). So `quiet()`:

- sets `TF_CPP_MIN_LOG_LEVEL=2` (unless the environment sets it) for the run-time INFO and
  WARNING logs, and the Python loggers "tensorflow" and "absl" to ERROR;
- runs the first `import tensorflow` of the process (whoever imports it: Keras, the gRPC
  stubs, the library) and its first device listing with file descriptor 2 sent to a
  temporary file; log records (`I0000 12:00:00.0 1234 file.cc:12] ...` lines, their
  continuation lines, absl's pre-init notice) are dropped, except errors that are not about
  the missing CUDA; everything else (Python warnings, tracebacks) goes back to stderr.

`keras-gans --verbose COMMAND` skips all of it. Nothing here runs unless a command does
import TensorFlow, so `--help` and the REST client stay fast.
"""

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile

# absl / glog line prefix: severity, MMDD, time, thread id, file:line]
_RECORD = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]\s]+:\d+\] ")
_ABSL_PREINIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# Errors every CPU-only machine logs at start-up: not worth a user's attention.
_EXPECTED_ERRORS = re.compile(r"cuInit|cuda|CUDA")
# Python's own stderr text (a warning, a traceback) ends a record's continuation lines.
_PYTHON_TEXT = re.compile(r"Traceback \(most recent call last\)|\S+\.py:\d+: \w+")


def quiet():
    """Hides TensorFlow's start-up and INFO/WARNING logs for the rest of this process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:  # already imported (and logged): nothing left to hide
        return
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def without_logs(text):
    """`text` (what went to stderr) without TensorFlow's log records.

    A record is a log line and the lines after it that are not records themselves (a
    message of several lines); errors stay unless they are about CUDA. Other text stays.
    """
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        record = _RECORD.match(line)
        if record:
            dropping = record.group(1) in "IW" or bool(_EXPECTED_ERRORS.search(line))
        elif line.rstrip("\n") == _ABSL_PREINIT:
            dropping = True
        elif not line.strip() or _PYTHON_TEXT.match(line):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def _stderr_without_logs():
    """Sends file descriptor 2 (C++ writes there) to a file; writes back `without_logs` of it."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = without_logs(capture.read().decode("utf-8", errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` with the other finders, and loads it with `_stderr_without_logs`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the next lookups go to the usual finders
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with _stderr_without_logs():
            self.loader.exec_module(module)
            # The first device listing logs the CUDA errors; do it now, inside the window.
            # (Physical devices only: logical devices and strategies can still be set up.)
            module.config.list_physical_devices()
        # The module keeps its own loader (importlib.resources and pkgutil read it).
        module.__loader__ = module.__spec__.loader = self.loader
        for name in ("tensorflow", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)
