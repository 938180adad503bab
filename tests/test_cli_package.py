"""The CLI package: the only place with argparse, light until a command runs, quiet by default."""

import ast
import json
import subprocess
import sys

from keras_gans.cli import _logs
from tests.conftest import ROOT

NOISE = ("oneDNN", "cuda", "cpu_feature_guard", "absl::InitializeLog")
COMMANDS = ("train", "export", "serve", "serving-config", "sample", "evaluate", "demo")


def keras_gans(*args):
    return subprocess.run([sys.executable, "-m", "keras_gans.cli", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def test_without_logs_drops_log_records_and_keeps_everything_else():
    # What TensorFlow 2.21 writes on import and first device listing here, around other text.
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796169246.097134   20533 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796169246.097468   20533 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
        "I0000 00:00:1796169246.150404   20533 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
        "/x/site-packages/tf/foo.py:12: DeprecationWarning: kept\n"
        "  warnings.warn('kept')\n"
        "W0000 00:00:1796169249.0 20533 rendezvous.cc:404] Local rendezvous is aborting\n"
        "E0000 00:00:1796169259.429975   20642 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
        "E0000 00:00:1796169259.5 20642 op_kernel.cc:1] a real error, kept\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "ImportError: kept\n"
    )
    assert _logs.without_logs(text) == (
        "/x/site-packages/tf/foo.py:12: DeprecationWarning: kept\n"
        "  warnings.warn('kept')\n"
        "E0000 00:00:1796169259.5 20642 op_kernel.cc:1] a real error, kept\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "ImportError: kept\n"
    )
    assert _logs.without_logs("samples.png written\n\n") == "samples.png written\n\n"


def test_evaluate_help_prints_only_the_help():
    done = keras_gans("evaluate", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: keras-gans evaluate")
    for line in (done.stdout + done.stderr).splitlines():
        assert not any(word in line for word in NOISE), line


def test_a_command_that_loads_tensorflow_prints_only_its_own_output(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_text("not a zip file")
    args = ("export", str(broken), "--to", str(tmp_path / "out"))
    quiet = keras_gans(*args)
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert len(quiet.stderr.splitlines()) == 1 and quiet.stderr.startswith("error: "), quiet.stderr
    # Asked for, the logs are there (this machine has no GPU: TensorFlow says so).
    verbose = keras_gans("--verbose", *args)
    assert verbose.returncode == 1
    assert verbose.stderr.splitlines()[-1] == quiet.stderr.strip()
    assert any(word in verbose.stderr for word in NOISE), verbose.stderr


def test_only_the_cli_package_uses_argparse():
    users = []
    for path in sorted((ROOT / "keras_gans").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module]
            if "argparse" in names:
                users.append(path.relative_to(ROOT).as_posix())
    assert users and all(user.startswith("keras_gans/cli/") for user in users), users


_HELP = """
import contextlib, io, json, sys
from keras_gans import cli
for argv in [["--help"]] + [[command, "--help"] for command in sys.argv[1:]]:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            cli.main(argv)
        except SystemExit as exit:
            assert exit.code == 0, (argv, exit.code)
    assert out.getvalue().startswith("usage: keras-gans"), (argv, out.getvalue()[:200])
print(json.dumps(sorted(m for m in ("tensorflow", "keras", "grpc") if m in sys.modules)))
"""


def test_the_help_of_every_command_loads_no_tensorflow():
    done = subprocess.run([sys.executable, "-c", _HELP, *COMMANDS], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
