"""What the tests of the Python package share (imported by name: a test module cannot rely on
`from conftest import ...`, since pytest keeps one module named conftest per run and
tests/integration has its own).

    REPO_ROOT     the repository
    PACKAGE_TREE  where `cosmocopy` is imported from: build/python (./run build) or
                  $CCOPY_PYTHONPATH; put first on sys.path by importing this module
    DAY, HOUR     seconds
    START         midnight UTC five days ago: windows of test data start there
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_TREE = Path(os.environ.get("CCOPY_PYTHONPATH") or REPO_ROOT / "build" / "python")
if not (PACKAGE_TREE / "cosmocopy" / "__init__.py").is_file():
    raise pytest.UsageError(f"the cosmocopy package is not built in {PACKAGE_TREE} "
                            "(run ./run build, or set CCOPY_PYTHONPATH)")
if str(PACKAGE_TREE) not in sys.path:
    sys.path.insert(0, str(PACKAGE_TREE))

DAY = 86400
HOUR = 3600
START = (int(time.time()) // DAY - 5) * DAY
