"""Fixtures for the tests of the Python package (python/cosmocopy).

The package is imported from the development tree that ``./run build`` makes in build/python
(or from $CCOPY_PYTHONPATH). The servers are the integration tests' fixtures
(tests/integration/conftest.py: ferretdb, mongo, db_name, azurite, blob_container,
cosmos_proxy, keyvault...), loaded here under another module name so that both directories share them.

    cc          the imported ``cosmocopy`` package
    orders      1,200 documents of about 1 KB over 12 hours five days ago, in db_name.orders
    window_args the keyword arguments that back up ``orders`` in three 4-hour windows
"""

from __future__ import annotations

import importlib.util
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
sys.path.insert(0, str(PACKAGE_TREE))

_spec = importlib.util.spec_from_file_location(
    "ccopy_integration_conftest", REPO_ROOT / "tests" / "integration" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _fixtures
_spec.loader.exec_module(_fixtures)
# When pytest collects tests/integration and tests/python in one run, this module is the one
# `conftest` their test modules import from: the names the integration tests take from theirs.
from ccopy_integration_conftest import SUPPORT, cosmocopy_path  # noqa: E402,F401
from ccopy_integration_conftest import (  # noqa: E402,F401  (fixtures, re-registered here)
    _session_client,
    azurite,
    blob_container,
    blob_fault_proxy,
    cosmos_proxy,
    cosmocopy_bin,
    db_name,
    ferretdb,
    fresh_ferretdb,
    keyvault,
    keyvault_server,
    mongo,
    mongorestore_bin,
)

import datagen  # noqa: E402  (tests/support, on sys.path now)

DAY = 86400
HOUR = 3600
START = (int(time.time()) // DAY - 5) * DAY


@pytest.fixture(scope="session")
def run_cli():
    """run_cli(*args, timeout=120, env=None): the command's CompletedProcess (text)."""
    return _fixtures.run_cosmocopy


@pytest.fixture(scope="session")
def cc():
    import cosmocopy

    return cosmocopy


@pytest.fixture
def orders(mongo, db_name):
    coll = mongo[db_name].orders
    datagen.insert_spread(coll, START, START + 12 * HOUR, 1200, doc_size=1024, seed=7,
                          keep_ids=False)
    return coll


@pytest.fixture
def window_args(ferretdb, db_name):
    return dict(source=ferretdb.uri, db=db_name, collection="orders", step="4h", parallel=3,
                from_=START, until=START + 12 * HOUR)
