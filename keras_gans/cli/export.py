"""`keras-gans export`: a trained generator (or pix2pix / CycleGAN translator) as the next SavedModel version.

    keras-gans export runs/dcgan --to saved_models/dcgan_mnist
    keras-gans export runs/dcgan/model.keras --to saved_models/dcgan_mnist --with-keras
"""

import os
import shutil
from pathlib import Path

from keras_gans.training import runs


def add_parser(subparsers):
    p = subparsers.add_parser("export", help="export a trained generator as a TF Serving SavedModel",
                              description="Export a trained generator as a TF Serving SavedModel version "
                                          "(its card records how it was trained).")
    p.add_argument("source", help="a run folder (with model.keras) or a .keras file")
    p.add_argument("--to", required=True, help="model base path, e.g. saved_models/dcgan_mnist")
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--max-num-samples", type=int, default=1024,
                   help="the most samples (translators: images) one request may ask for")
    p.add_argument("--with-keras", action="store_true",
                   help="also copy the .keras file beside the versions (NAME/NAME.keras), "
                        "to resume or fine-tune; TF Serving ignores it")
    p.set_defaults(run=run)


def run(args):
    source = Path(args.source)
    path = source / "model.keras" if source.is_dir() else source
    if not path.exists():
        raise SystemExit(f"error: {args.source} is neither a .keras file nor a run folder with model.keras")

    import keras

    import keras_gans.export
    import keras_gans.models  # noqa: F401  (registers the model classes)

    gan = keras.models.load_model(path)
    training = runs.training_record(gan, source / runs.RUN_FILENAME if source.is_dir() else None)
    if hasattr(gan, "translators"):  # pix2pix, CycleGAN: the translator signatures
        version = keras_gans.export.export_translator(gan, args.to, version=args.version,
                                                      max_batch_size=args.max_num_samples, training=training)
    else:
        version = keras_gans.export.export_generator(gan, args.to, version=args.version,
                                                     max_num_samples=args.max_num_samples, training=training)
    print(f"exported {path} to {Path(args.to) / str(version)}")
    if args.with_keras:
        target = Path(args.to) / f"{Path(args.to).name}.keras"
        tmp = target.with_suffix(".keras.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        print(f"copied {path} to {target}")
