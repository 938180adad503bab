"""The import graph: light modules stay light, and the package has no import cycle."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_gans"

_LOADED = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in ("tensorflow", "keras", "grpc", "tensorflow_serving") if m in sys.modules)))
"""


def _heavy_modules_loaded_by(module):
    out = subprocess.run(
        [sys.executable, "-c", _LOADED, module], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# keras_gans.serving.server: `keras-gans serve --help` reads ServerOptions' defaults.
@pytest.mark.parametrize(
    "module", ["keras_gans", "keras_gans.serving", "keras_gans.serving.client", "keras_gans.serving.server"]
)
def test_light_modules_load_no_tensorflow_keras_or_grpc(module):
    assert _heavy_modules_loaded_by(module) == []


def test_keras_load_model_finds_the_classes_once_models_is_imported(tmp_path):
    script = f"""
import keras, keras_gans.models
gan = keras_gans.models.VanillaGAN(image_shape=(2,), latent_dim=2, g_hidden=(4,), d_hidden=(4,), seed=1)
gan.save({str(tmp_path / 'g.keras')!r})
print(type(keras.models.load_model({str(tmp_path / 'g.keras')!r})).__name__)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "VanillaGAN"


def _project_imports(path):
    """(module name, the keras_gans modules it imports at any depth, function-level too).

    The package imports absolutely (`from keras_gans.x import y`), so that is all this reads.
    """
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return module, {n for n in names if n.startswith("keras_gans.")}


def test_the_package_has_no_import_cycle():
    imports = dict(_project_imports(path) for path in PACKAGE.rglob("*.py"))
    # Edges between modules; a package importing its own submodules (re-exports) is not
    # a cycle of logic, and neither is a submodule importing its parent package.
    graph = {
        m: {i for i in deps if i in imports and i != m and not i.startswith(m + ".") and not m.startswith(i + ".")}
        for m, deps in imports.items()
    }
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles
