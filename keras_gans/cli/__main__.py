"""`python -m keras_gans.cli ...` is `keras-gans ...`."""

import sys

from keras_gans.cli import main

sys.exit(main())
