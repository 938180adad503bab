"""Evaluation: scores that tell good generators from bad, the networks behind them, and the report.

One module per job:

- `scores`: the math on features and probabilities (FID, Inception Score, KID, class balance,
  label accuracy, mean and standard error over runs), each result a `Score` with its sample
  counts;
- `features`: feature extractors (the offline `MNISTClassifier`, `InceptionV3Extractor`) and
  computing features of many images;
- `coverage`: mode coverage of 2-D mixture samples (PacGAN's protocol);
- `memorisation`: nearest training images of samples beside those of test images;
- `sampling`: the seeded sample draws an evaluation scores;
- `report`: a generator's scores beside the real data's, the markdown table, the model card
  (`keras-gans evaluate`).

Every public name is also here, so `kg.evaluation.fid` and `kg.evaluation.report` both work.

Example:
    import keras_gans as kg

    test_images, _ = kg.data.load_arrays("../shared/data/mnist", split="test")
    scores = kg.evaluation.evaluate_generator(kg.pretrained.load("dcgan_mnist"), test_images)
    print(kg.evaluation.format_table(scores))
"""

from keras_gans.evaluation.coverage import ModeCoverage, aggregate_mode_coverage, mode_coverage
from keras_gans.evaluation.features import (
    FeatureExtractor,
    InceptionV3Extractor,
    MNISTClassifier,
    build_mnist_classifier,
    compute_activations,
    compute_features,
    compute_probabilities,
    default_classifier_path,
    load_classifier,
    to_float_images,
)
from keras_gans.evaluation.memorisation import MemorisationReport, memorisation_check, nearest_neighbours
from keras_gans.evaluation.report import (
    evaluate_generator,
    evaluate_images,
    evaluate_real,
    format_table,
    report,
    update_card,
)
from keras_gans.evaluation.sampling import SEED_STRIDE, generate_samples
from keras_gans.evaluation.scores import (
    ClassDistribution,
    MeanStderr,
    Score,
    class_distribution,
    feature_moments,
    fid,
    frechet_distance,
    inception_score,
    kid,
    label_accuracy,
    mean_and_stderr,
)

__all__ = [
    "ClassDistribution",
    "FeatureExtractor",
    "InceptionV3Extractor",
    "MNISTClassifier",
    "MeanStderr",
    "MemorisationReport",
    "ModeCoverage",
    "SEED_STRIDE",
    "Score",
    "aggregate_mode_coverage",
    "build_mnist_classifier",
    "class_distribution",
    "compute_activations",
    "compute_features",
    "compute_probabilities",
    "default_classifier_path",
    "evaluate_generator",
    "evaluate_images",
    "evaluate_real",
    "feature_moments",
    "fid",
    "format_table",
    "frechet_distance",
    "generate_samples",
    "inception_score",
    "kid",
    "label_accuracy",
    "load_classifier",
    "mean_and_stderr",
    "memorisation_check",
    "mode_coverage",
    "nearest_neighbours",
    "report",
    "to_float_images",
    "update_card",
]
