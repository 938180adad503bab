"""`keras-gans evaluate`: a generator's MNIST FID, IS, KID and class balance, beside real data's;
a translator's L1 and classifier accuracy on its MNIST task's test pairs.

    keras-gans evaluate dcgan_mnist --dataset ../shared/data/mnist --update-card
    keras-gans evaluate pix2pix_mnist_edges --dataset ../shared/data/mnist --update-card
    keras-gans evaluate saved_models/cgan_mnist/1 --dataset ../shared/data/mnist -n 2000
    keras-gans evaluate runs/dcgan_mnist --dataset ../shared/data/mnist --memorisation nn.png

The measurements are `keras_gans.evaluation.report`.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "evaluate", help="measure a generator (MNIST FID, IS, KID, class balance) or a translator",
        description="Measure a generator: MNIST FID, MNIST IS, KID, class balance or label accuracy, "
                    "beside the real data's own values; optionally a memorisation check. Measure a "
                    "translator (pix2pix, CycleGAN) on its MNIST task's --split pairs: L1 to the true "
                    "translations beside the identity mapping's, and the classifier's accuracy on the "
                    "outputs (and, for CycleGAN, on its cycles).",
    )
    p.add_argument("model", help="a name in saved_models/, a model base path (latest version), a SavedModel "
                                 "version folder, a .keras file or a run folder")
    p.add_argument("--dataset", required=True, help="real images: folder of MNIST IDX files, .npz, image folder or TFDS name")
    p.add_argument("--split", default="test", help="split of --dataset to compare with (default test)")
    p.add_argument("--train-dataset", default=None,
                   help="training images for the real floor and the memorisation check (default: --dataset, "
                        "when it has the --train-split)")
    p.add_argument("--train-split", default="train")
    p.add_argument("-n", "--num-samples", type=int, default=10000,
                   help="generated samples, or a translator's test pairs (default 10000)")
    p.add_argument("--task", default=None,
                   help="a translator's MNIST task (mnist_edges, mnist_inpaint, mnist_invert, mnist_dilate); "
                        "default: the one its card records")
    p.add_argument("--seed", type=int, default=0, help="evaluation seed (default 0)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--classifier", default=None,
                   help="MNIST classifier .keras file (default saved_models/mnist_classifier/classifier.keras)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--no-floor", action="store_true", help="skip the real data's values")
    p.add_argument("--update-card", action="store_true",
                   help="write the metrics into the model's card.json (key \"metrics\")")
    p.add_argument("--memorisation", default=None, metavar="PNG",
                   help="also run the memorisation check and write its nearest-neighbour grid here")
    p.add_argument("--memorisation-samples", type=int, default=1000,
                   help="samples (and test images) whose nearest-neighbour distances are averaged (default 1000)")
    p.add_argument("--grid-samples", type=int, default=16, help="samples shown in the memorisation PNG")
    p.add_argument("--k", type=int, default=3, help="training neighbours shown per sample")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    p.set_defaults(run=run)


def run(args):
    from keras_gans import evaluation

    evaluation.report(
        args.model, args.dataset, split=args.split, train_dataset=args.train_dataset,
        train_split=args.train_split, num_samples=args.num_samples, seed=args.seed,
        batch_size=args.batch_size, classifier=args.classifier, kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size, floor=not args.no_floor, write_card=args.update_card,
        memorisation_png=args.memorisation, memorisation_samples=args.memorisation_samples,
        grid_samples=args.grid_samples, k=args.k, json_path=args.json, command=args.command_line,
        task=args.task,
    )
    return 0
