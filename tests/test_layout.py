"""keras_gans.layout: TF Serving's version rule, once, and the same answer from every entry point.

The case that used to split the project: a base path with a complete `1/` and an empty `2/`
(a half-copied or interrupted version). Loading picks 1 everywhere; the exporter numbers
the next version 3, leaving `2/` alone.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_gans as kg
from keras_gans import contract, generators, latent, layout, pretrained
from keras_gans.serving.server import config as config_lib
from tests.conftest import ROOT

# ----------------------------------------------------------------------------- the version rule


@pytest.mark.parametrize(
    "name, version",
    [
        ("1", 1), ("0", 0), ("0042", 42), (" 7 ", 7), ("\t9\n", 9), ("+5", 5),
        # TF Serving's ParseVersionNumber is absl::SimpleAtoi into an int64: negative numbers
        # parse too (TF Serving aspires them; its REST paths cannot name them).
        ("-3", -3), ("-0", 0),
        (str(2**63 - 1), 2**63 - 1), (str(-(2**63)), -(2**63)),
    ],
)
def test_names_tf_serving_reads_as_versions(name, version):
    assert layout.parse_version(name) == version


@pytest.mark.parametrize(
    "name",
    [
        "", " ", "+", "-", "+-1", "- 1", "1 2", "1.0", "1_0", "1e3", "0x10", "v1", "1a",
        str(2**63), str(-(2**63) - 1), "99999999999999999999",
        "card.json", "dcgan_mnist.keras", ".export-tmp-1abc", ".tmp-12-ab-card.json",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: a digit to Python's int() and \d, not to absl
        "\u00a07",  # a no-break space: whitespace to str.strip(), not to absl::ascii_isspace
        "\x1c1",  # a file separator: str.isspace() in Python, not in absl
    ],
)
def test_names_tf_serving_ignores(name):
    assert layout.parse_version(name) is None


def _saved_model(folder):
    """A stand-in version folder: what the folder rules look at (no model is loaded)."""
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")


def test_versions_latest_and_next_on_a_base_path(tmp_path):
    base = tmp_path / "m"
    assert layout.version_dirs(base) == {} and layout.versions(base) == []
    assert layout.latest_version(base) is None and layout.next_version(base) == 1
    _saved_model(base / "1")
    _saved_model(base / "0010")
    (base / "12").mkdir()  # empty: a version folder TF Serving sees, nothing to load
    (base / "13").write_text("a file")  # TF Serving does not check for folders either
    (base / ".export-tmp-x").mkdir()
    (base / "card.json").write_text("{}")
    (base / "m.keras").write_bytes(b"")
    assert list(layout.version_dirs(base)) == [1, 10, 12, 13]
    assert layout.version_dirs(base)[10] == base / "0010"
    assert layout.versions(base) == [1, 10]
    assert layout.latest_version(base) == 10
    assert layout.version_path(base, 10) == base / "0010"
    with pytest.raises(ValueError, match="has no version 2"):
        layout.version_path(base, 2)
    assert layout.next_version(base) == 14  # above every version-named child: nothing is overwritten
    found = layout.find_saved_model(base)
    assert (found.path, found.base_path, found.version) == (base / "0010", base, 10)
    assert layout.find_saved_model(base / "1") == (base / "1", base, 1)
    assert layout.find_saved_model(base / "12") is None
    assert layout.find_saved_model(tmp_path / "missing") is None


def test_duplicate_version_names_resolve_as_in_tf_serving(tmp_path):
    # IndexChildrenByVersion walks the children in byte order; the last one wins.
    _saved_model(tmp_path / "01")
    (tmp_path / "1").mkdir()
    assert layout.version_dirs(tmp_path) == {1: tmp_path / "1"}
    assert layout.versions(tmp_path) == []  # the folder TF Serving would load is empty


def test_negative_versions_never_make_export_number_below_one(tmp_path):
    _saved_model(tmp_path / "-4")
    assert layout.versions(tmp_path) == [-4]
    assert layout.next_version(tmp_path) == 1


def test_model_names_are_folders_with_a_loadable_version(tmp_path):
    _saved_model(tmp_path / "b_model" / "3")
    _saved_model(tmp_path / "a_model" / "1")
    (tmp_path / "mnist_classifier").mkdir()  # a card and a .keras file: no versions
    (tmp_path / "mnist_classifier" / "card.json").write_text("{}")
    (tmp_path / "half_written" / "1").mkdir(parents=True)
    _saved_model(tmp_path / ".hidden" / "1")
    (tmp_path / "a_file").write_text("")
    assert layout.model_names(tmp_path) == ["a_model", "b_model"]
    assert layout.model_names(tmp_path / "missing") == []
    assert layout.is_model_dir(tmp_path / "a_model") and not layout.is_model_dir(tmp_path / "half_written")


# ----------------------------------------------------------------------------- cards and JSON


def test_card_round_trip_and_errors(tmp_path):
    assert layout.read_card(tmp_path) == {} and not layout.has_card(tmp_path)
    layout.write_card(tmp_path, {"name": "m", "metrics": {"fid": np.float32(1.5)}})
    assert layout.has_card(tmp_path) and layout.card_path(tmp_path) == tmp_path / "card.json"
    assert layout.read_card(tmp_path) == {"name": "m", "metrics": {"fid": 1.5}}
    assert sorted(os.listdir(tmp_path)) == ["card.json"]  # no temporary file left behind
    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(ValueError, match="card.json is not valid JSON"):
        layout.read_card(tmp_path)
    (tmp_path / "card.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        layout.read_card(tmp_path)


def test_write_json_is_atomic_and_readable_by_others(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    layout.write_json(path, {"a": 1})
    old_umask = os.umask(0o022)
    try:
        layout.write_json(path, {"a": 2})
    finally:
        os.umask(old_umask)
    assert json.loads(path.read_text()) == {"a": 2} and path.read_text().endswith("\n")
    assert (path.stat().st_mode & 0o777) == 0o644  # not mkstemp's private 0600

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)  # the new content is written, then the rename fails
    with pytest.raises(OSError, match="disk full"):
        layout.write_json(path, {"a": 3})
    assert json.loads(path.read_text()) == {"a": 2}  # the old content survives
    assert sorted(os.listdir(tmp_path)) == ["record.json"]  # and no temporary file


def test_jsonable_gives_plain_json_data(tmp_path):
    value = {
        1: (np.float32(0.5), np.arange(3), np.bool_(True)),
        "path": tmp_path / "x",
        "object": object,
        "nested": [{"k": np.int64(7)}],
    }
    out = layout.jsonable(value)
    assert out == {"1": [0.5, [0, 1, 2], True], "path": str(tmp_path / "x"),
                   "object": repr(object), "nested": [{"k": 7}]}
    assert type(out["nested"][0]["k"]) is int and type(out["1"][0]) is float
    assert json.loads(json.dumps(out)) == out


# ----------------------------------------------------------------------------- light imports


@pytest.mark.parametrize("module", ["keras_gans.contract", "keras_gans.layout"])
def test_contract_and_layout_import_no_tensorflow_keras_or_numpy(module):
    script = (
        f"import sys, json; import {module}; "
        "print(json.dumps([m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_contract_signatures_are_plain_descriptions():
    sigs = contract.serving_signatures(5, (28, 28, 1), num_classes=3)
    assert list(sigs) == [contract.SERVING_DEFAULT, contract.SAMPLE, contract.SAMPLE_PNG]
    assert sigs["sample"].to_dict()["inputs"] == {
        "num_samples": {"dtype": "int32", "shape": []},
        "seed": {"dtype": "int64", "shape": []},
        "labels": {"dtype": "int32", "shape": [None]},
    }
    assert contract.is_bytes_output(sigs["sample_png"].outputs[0].name)
    assert not contract.is_bytes_output(contract.IMAGES)
    assert list(contract.serving_signatures(2, (2,))) == ["serving_default", "sample"]


# ----------------------------------------------------------------------------- one answer everywhere


@pytest.fixture(scope="module")
def stale(tmp_path_factory):
    """saved_models/tiny/ with a real version 1 and an empty version folder 2."""
    root = tmp_path_factory.mktemp("saved_models")
    base = root / "tiny"
    gan = kg.models.DCGAN(image_shape=(28, 28, 1), latent_dim=5, g_width=4, d_width=4, seed=1)
    assert kg.export.export_generator(gan, base, max_num_samples=16) == 1
    (base / "2").mkdir()
    return {"root": root, "base": base, "gan": gan}


def test_layout_answers_one_for_loading_and_three_for_the_next_export(stale):
    base = stale["base"]
    assert list(layout.version_dirs(base)) == [1, 2]
    assert layout.versions(base) == [1] and layout.latest_version(base) == 1
    assert layout.find_saved_model(base).path == base / "1"
    assert layout.next_version(base) == 3


def test_pretrained_lists_and_loads_version_one(stale):
    assert pretrained.list(stale["root"]) == ["tiny"]
    g = pretrained.load("tiny", stale["root"], format="saved_model")
    assert g.version == 1 and g.path == stale["base"] / "1"
    with pytest.raises(ValueError, match=r"has no version 2; it has \[1\]"):
        pretrained.load("tiny", stale["root"], version=2)


def test_evaluation_resolves_version_one(stale):
    # `keras-gans evaluate BASE` measures generators.as_generator(BASE).
    for spec in (stale["base"], str(stale["base"])):
        gen = generators.as_generator(spec)
        assert (gen.kind, gen.version, str(gen.path)) == ("saved_model", 1, str(stale["base"] / "1"))
        assert gen.card_dir == stale["base"]
    gen = generators.as_generator("tiny", saved_models_dir=stale["root"])
    assert gen.version == 1


def test_latent_and_sample_model_path_use_version_one(stale):
    # `keras-gans sample --model-path BASE` generates through generators.as_generator(BASE).
    z = latent.latent_points([3, 4], 5)
    from_base = generators.as_generator(stale["base"]).generate(z)
    np.testing.assert_array_equal(from_base, generators.as_generator(stale["base"] / "1").generate(z))
    np.testing.assert_allclose(from_base, stale["gan"].generate(z), atol=1e-6)


def test_serving_config_and_benchmark_list_the_model_at_version_one(stale, tmp_path):
    written = config_lib.write_models_config(stale["root"], tmp_path / "models.config", base_path_prefix=None)
    assert [m.name for m in written.model_config_list.config] == ["tiny"]
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    assert quality.shipped_generators(stale["root"]) == [("tiny", stale["base"] / "1")]


def test_export_numbers_above_the_empty_folder(stale, tmp_path):
    base = tmp_path / "tiny"
    (base / "1").mkdir(parents=True)  # empty versions 1 and 2: both are taken names
    (base / "2").mkdir()
    with pytest.raises(FileExistsError, match="Version 2 already exists"):
        kg.export.export_generator(stale["gan"], base, version=2)
    assert kg.export.export_generator(stale["gan"], base) == 3
    assert os.listdir(base / "1") == [] and os.listdir(base / "2") == []  # left alone
    assert layout.versions(base) == [3]
    assert json.loads((base / "card.json").read_text())["latest_version"] == 3
