"""``python -m dnn_manifolds.cli``."""

import sys

from . import main

sys.exit(main())
