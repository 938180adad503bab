"""`keras-gans progress`: the strip and GIF of a run folder's sample grids, epoch by epoch.

    keras-gans progress runs/dcgan                       # runs/dcgan/progress.png, progress.gif
    keras-gans progress runs/dcgan --frames 12 --png strip.png --no-gif

The images are `keras_gans.training.progress.write_progress`'s; `keras-gans train` writes
them at the end of every run.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "progress", help="a strip and a GIF of a run's sample grids across epochs",
        description="Write the fixed-z sample grids of a run folder's epochs side by side "
                    "(progress.png) and as an animation (progress.gif).",
    )
    p.add_argument("run_folder", help="a run folder of keras-gans train (grids in samples/), or a folder of grids")
    p.add_argument("--frames", type=int, default=8, help="epochs in the strip, from the first to the last (default 8)")
    p.add_argument("--png", default=None, help="the strip (default RUN_FOLDER/progress.png)")
    p.add_argument("--gif", default=None, help="the animation (default RUN_FOLDER/progress.gif)")
    p.add_argument("--no-gif", action="store_true", help="write the strip only")
    p.set_defaults(run=run)


def run(args):
    from keras_gans.training import progress

    if args.frames < 1:
        raise SystemExit(f"error: --frames must be >= 1; got {args.frames}")
    written = progress.write_progress(args.run_folder, args.png, args.gif, frames=args.frames,
                                      write_gif=not args.no_gif)
    epochs = ", ".join(str(e) for e in written["epochs"])
    print(f"wrote {written['png']} (epochs {epochs})" + (f" and {written['gif']}" if written["gif"] else ""))
    return 0
