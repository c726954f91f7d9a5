"""Put the repository root on sys.path so `script:` entry points import the dlwpt package
from the checkout they belong to (Snakemake already puts this scripts/ folder on the path)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
