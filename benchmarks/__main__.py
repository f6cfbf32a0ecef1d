"""`python -m benchmarks [--quick]`: run every benchmark, print the table, then one JSON line."""

import sys

from benchmarks.run import main

sys.exit(main())
