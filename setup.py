from setuptools import find_packages, setup

setup(
    name="keras-gans",
    version="0.1.0",
    description="A Keras model zoo of generative adversarial networks, exported for TensorFlow Serving.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    # The shipped generators and the evaluation classifier live in saved_models/ at the
    # root (where TF Serving's deployment files mount them) and install as
    # keras_gans/saved_models/, so kg.pretrained finds them after a plain pip install.
    packages=find_packages(include=["keras_gans", "keras_gans.*"]) + ["keras_gans.saved_models"],
    package_dir={"keras_gans.saved_models": "saved_models"},
    package_data={"keras_gans.saved_models": ["**/*"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "keras==3.15.*",
        "tensorflow-datasets>=4.9",
        "tensorboard",
        # tensorflow-datasets imports it on its download path but does not require it.
        "importlib_resources",
        "tensorflow-serving-api==2.21.*",
        "grpcio",
        "uvicorn",
        # uvicorn's C HTTP parser and event loop (what `uvicorn[standard]` adds for serving).
        "httptools",
        "uvloop",
        "orjson",
        "requests",
        "pillow",
        "matplotlib",
        "numpy",
        "scipy",
    ],
    extras_require={"test": ["pytest", "pytest-xdist"]},
    entry_points={"console_scripts": ["keras-gans=keras_gans.cli:main"]},
)
