"""Import time of the shared modules, as ratios to pydantic measured in the same run.

    .venv/bin/python shared/tests/bench_shared_imports.py [runs]

A fresh interpreter per import, imports interleaved (this machine is shared and noisy),
median of the runs. Not collected by pytest: benchmarks print, they do not assert.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "from pydantic import BaseModel"
IMPORTS = {
    "pydantic BaseModel (baseline)": BASELINE,
    "shared.events": "import shared.events",
    "shared.batch": "import shared.batch",
    "shared.publisher": "import shared.publisher",
    "shared.observability": "import shared.observability",
    "shared.idempotency": "import shared.idempotency",
    "shared.masking": "import shared.masking",
    "shared.problems": "import shared.problems",
}
TIMER = "import time; t = time.perf_counter(); {}; print((time.perf_counter() - t) * 1000)"


def measure(runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(runs):
        for name, stmt in IMPORTS.items():
            out = subprocess.run(
                [sys.executable, "-c", TIMER.format(stmt)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            ).stdout
            samples[name].append(float(out))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    medians = measure(runs)
    base = medians["pydantic BaseModel (baseline)"]
    for name, ms in medians.items():
        print(f"{name:32s} {ms:7.1f} ms   x{ms / base:4.2f}")


if __name__ == "__main__":
    main()
