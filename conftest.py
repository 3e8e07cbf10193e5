"""Put every service's src/ on sys.path, so a service's tests import its package.

Service teams add a folder under services/ and nothing here changes.
"""

import sys
from pathlib import Path

for src in sorted(Path(__file__).parent.glob("services/*/src")):
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))

pytest_plugins = ["devtools.pytest_contracts", "devtools.pytest_terraform"]
