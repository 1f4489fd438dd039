"""``python -m financial_mlops.serving``: the serving subcommands on their own."""

import sys

from financial_mlops.serving.cli import main

sys.exit(main())
