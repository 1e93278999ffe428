"""`python -m cli`: the same as the `sanzhida` command."""

import sys

from cli import main

sys.exit(main())
