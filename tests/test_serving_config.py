"""TF Serving's configuration files, the deployment folder and `keras-gans serve`'s flags.

No TensorFlow model runs here: configs are parsed with the protos of
`tensorflow-serving-api`, and the exec of `tensorflow_model_server` is checked with a
stand-in binary on PATH.
"""

import os
import re
import stat
import subprocess
import sys

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_gans import cli, contract, layout
from keras_gans.cli import serve
from keras_gans.serving import server
from keras_gans.serving.errors import ServingError
from keras_gans.serving.server import config as config_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING = os.path.join(ROOT, "serving")


def _fake_export(base, version):
    folder = base / str(version)
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")


def _parse(text):
    parsed = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(text, parsed)
    return parsed


def test_write_models_config_lists_the_exported_generators(tmp_path):
    models = tmp_path / "saved_models"
    _fake_export(models / "dcgan_mnist", 1)
    _fake_export(models / "dcgan_mnist", 2)
    _fake_export(models / "cgan_mnist", 3)
    (models / "mnist_classifier").mkdir()  # a .keras file and a card: not a SavedModel
    (models / "mnist_classifier" / "classifier.keras").write_bytes(b"")
    (models / "half_written").mkdir()
    (models / "half_written" / ".export-tmp-x").mkdir()
    out = tmp_path / "serving" / "models.config"

    written = config_lib.write_models_config(models, out)
    parsed = _parse(out.read_text())  # TF Serving's own message
    assert parsed == written
    assert [(m.name, m.base_path, m.model_platform) for m in parsed.model_config_list.config] == [
        ("cgan_mnist", "/models/cgan_mnist", "tensorflow"),
        ("dcgan_mnist", "/models/dcgan_mnist", "tensorflow"),
    ]
    assert not parsed.model_config_list.config[0].HasField("model_version_policy")  # latest 1

    local = config_lib.write_models_config(models, out, base_path_prefix=None, num_versions=2)
    assert local.model_config_list.config[1].base_path == str(models.resolve() / "dcgan_mnist")
    assert _parse(out.read_text()).model_config_list.config[1].model_version_policy.latest.num_versions == 2
    with pytest.raises(ValueError, match="must be absolute"):
        config_lib.write_models_config(models, out, base_path_prefix="models")
    with pytest.raises(FileNotFoundError, match="No saved models folder"):
        config_lib.write_models_config(tmp_path / "missing", out)


@pytest.mark.parametrize(
    "text, message",
    [
        ("model_config_list { config { name: 'a' base_path: 'relative/a' } }",
         "Expected model a to have an absolute path or URI; got base_path()=relative/a"),
        ("model_config_list { config { name: 'a' base_path: '/m/a' } config { name: 'a' base_path: '/m/b' } }",
         "Illegal to list model a multiple times in config list"),
        ("model_config_list { config { name: 'a' base_path: '/m/a' model_platform: 'onnx' } }",
         "model_platform 'onnx' is not supported"),
        ("model_config_list { config { nme: 'a' } }", "Invalid protobuf file"),
        ("", "must hold a model_config_list"),
    ],
)
def test_bad_model_config_files(text, message):
    with pytest.raises(ServingError) as info:
        config_lib.parse_model_config_text(text)
    assert info.value.code == "INVALID_ARGUMENT" and message in info.value.message


def test_version_folder_names_parse_like_tf_serving():
    assert [layout.parse_version(n) for n in ("1", "0042", " 7 ", "-3", "+5")] == [1, 42, 7, -3, 5]
    for name in ("card.json", ".export-tmp-1abc", "1_0", "1.0", "", "99999999999999999999"):
        assert layout.parse_version(name) is None


def test_the_deployment_files(tmp_path):
    shipped = config_lib.read_model_config_file(os.path.join(SERVING, "models.config"))
    names = [m.name for m in shipped.model_config_list.config]
    assert names and all(m.base_path == f"/models/{m.name}" for m in shipped.model_config_list.config)
    # Every generator shipped in saved_models/ is served (regenerate with `keras-gans serving-config`).
    shipped_models = os.path.join(ROOT, "saved_models")
    if os.path.isdir(shipped_models):
        assert set(layout.model_names(shipped_models)) <= set(names)

    params = config_lib.read_batching_parameters(os.path.join(SERVING, "batching_parameters.txt"))
    assert params.max_batch_size.value == contract.DEFAULT_MAX_NUM_SAMPLES
    assert params.num_batch_threads.value >= 1 and params.batch_timeout_micros.value > 0

    compose = open(os.path.join(SERVING, "docker-compose.yml")).read()
    for needle in ('"8500:8500"', '"8501:8501"', "tensorflow/serving", "../saved_models:/models",
                   "--model_config_file=/serving/models.config", "--batching_parameters_file=/serving/batching_parameters.txt"):
        assert needle in compose
    deployment = open(os.path.join(SERVING, "k8s", "deployment.yaml")).read()
    # Ready once a served model answers its metadata URL (200 only when a version is AVAILABLE).
    probe = deployment.split("readinessProbe:", 1)[1].split("livenessProbe:", 1)[0]
    probed = re.search(r"path: /v1/models/([A-Za-z0-9_.-]+)/metadata", probe)
    assert probed and probed.group(1) in names, probe
    assert "containerPort: 8500" in deployment and "containerPort: 8501" in deployment
    service = open(os.path.join(SERVING, "k8s", "service.yaml")).read()
    assert "kind: Service" in service and "port: 8500" in service and "port: 8501" in service


def test_tf_serving_flags_parse():
    args = serve.build_parser().parse_args(
        ["--port=8600", "--rest_api_port", "8601", "--model_config_file=/x/models.config",
         "--enable_batching", "--rest_api_enable_cors_support=false", "--file_system_poll_wait_seconds=0",
         "--grpc_channel_arguments=grpc.max_connection_age_ms=2000"]
    )
    assert (args.port, args.rest_api_port, args.model_config_file) == (8600, 8601, "/x/models.config")
    assert args.enable_batching is True and args.rest_api_enable_cors_support is False
    assert args.file_system_poll_wait_seconds == 0 and args.model_name == "default"
    assert serve.binary_argv(args) == [
        "tensorflow_model_server", "--port=8600", "--rest_api_port=8601",
        "--model_config_file=/x/models.config", "--file_system_poll_wait_seconds=0",
        "--enable_batching=true", "--grpc_channel_arguments=grpc.max_connection_age_ms=2000",
    ]


def test_serve_execs_tensorflow_model_server_when_installed(tmp_path):
    fake = tmp_path / "bin" / "tensorflow_model_server"
    fake.parent.mkdir()
    record = tmp_path / "argv.txt"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=ROOT)
    command = [sys.executable, "-m", "keras_gans.cli", "serve", "--model_name", "dcgan",
               "--model_base_path", "saved_models/dcgan", "--rest_api_port", "8501", "--host", "127.0.0.1"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert record.read_text().split() == [
        "--rest_api_port=8501", "--model_name=dcgan", f"--model_base_path={tmp_path / 'saved_models' / 'dcgan'}",
    ]
    assert "--host is ignored" in result.stderr


def test_serve_refuses_a_batching_file_without_batching(tmp_path):
    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 8 }\n")
    status = cli.main(["serve", "--embedded", "--model_base_path", str(tmp_path), f"--batching_parameters_file={params}"])
    assert status == 2
    assert cli.main(["serve", "--embedded", "--port=0"]) == 2  # nothing to serve
    assert server.run_embedded(server.ServerOptions(port=0)) == 2  # the same, as a library call
