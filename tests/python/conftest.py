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

from pkgtest import DAY, HOUR, PACKAGE_TREE, REPO_ROOT, START  # noqa: F401  (sys.path set)

_spec = importlib.util.spec_from_file_location(
    "ccopy_integration_conftest", REPO_ROOT / "tests" / "integration" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _fixtures
_spec.loader.exec_module(_fixtures)
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
