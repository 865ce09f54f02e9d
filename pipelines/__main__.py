"""`python -m pipelines STAGE ...` is the same as `railcast STAGE ...`."""

import sys

from pipelines.cli import main

sys.exit(main())
