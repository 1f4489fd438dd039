"""``python -m financial_mlops``."""

import sys

from financial_mlops.cli import main

if __name__ == "__main__":
    sys.exit(main())
