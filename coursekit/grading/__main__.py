"""``python -m coursekit.grading ...``: see ``coursekit.grading.cli``."""

import sys

from coursekit.grading.cli import main

sys.exit(main())
