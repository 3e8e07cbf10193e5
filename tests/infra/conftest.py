"""Infra checks: make the HCL evaluator (infra_hcl.py, next to this file) importable."""

import sys
from pathlib import Path

HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
