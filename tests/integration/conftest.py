"""Fixtures for the cosmocopy integration tests.

    ferretdb        session-wide FerretDB server (SQLite backend, free port)
    fresh_ferretdb  a private server per test, free to kill()/restart()
    mongo           pymongo client connected to the session server
    db_name         unique database name per test, dropped afterwards
    cosmocopy_bin   path to build/cosmocopy (or $CCOPY_BIN)
    mongorestore_bin  path to stock mongorestore, .tools/mongo-tools/bin (built
                    by scripts/setup.sh) or $CCOPY_MONGORESTORE; skips when absent
    cosmos_proxy    factory make(server, **settings) -> a started CosmosProxy
                    (Cosmos RU imitation) in front of a FerretDB; all stopped
                    after the test
    azurite         session-wide Azurite blob server (on-disk data, free port)
    blob_container  a fresh, uniquely named container on it (ContainerClient),
                    deleted after the test
    blob_fault_proxy  factory make(azurite, **settings) -> a started
                    HttpFaultProxy in front of Azurite; all stopped after the
                    test
    keyvault_server session-wide KeyVaultServer (tests/support/keyvault.py):
                    Key Vault secrets + Entra ID token endpoint over HTTPS
                    (.vault_url, .authority_host, .ca_file) and the App
                    Service / IMDS managed identity endpoints over HTTP
                    (.identity_endpoint, .identity_header, .imds_base)
    keyvault        the same server, reset() before the test: no secrets,
                    principals, user-assigned identities, tokens, faults or
                    counts; default token lifetime
    azurite_oauth   session-wide Azurite(oauth=True): HTTPS (.ca_file),
                    accepts Entra ID bearer tokens from keyvault_server for
                    https://storage.azure.com (and Shared Key)
    mock_oauth2_server  session-wide navikt mock-oauth2-server 6.0.2 (Maven
                    Central, Java 17) over HTTPS (.authority_host, .ca_file,
                    .start_seconds); skips the test when java or mvn is
                    missing or Maven cannot resolve it. ~2 s to start, plus
                    ~3 s for mvn the first time in a session's temp dir
                    (~8 s with an empty ~/.m2)

and ``run_cosmocopy(*args, timeout=120, env=None)`` to run the CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPPORT = REPO_ROOT / "tests" / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

import pymongo  # noqa: E402

from azurite import Azurite  # noqa: E402
from cosmosproxy import CosmosProxy  # noqa: E402
from ferretdb import FerretDB  # noqa: E402
from httpfault import HttpFaultProxy  # noqa: E402


def cosmocopy_path() -> Path:
    env = os.environ.get("CCOPY_BIN")
    return Path(env) if env else REPO_ROOT / "build" / "cosmocopy"


def run_cosmocopy(*args, timeout: float = 120, env: dict | None = None,
                  cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run the CLI (never through a shell) and return the CompletedProcess
    with text stdout/stderr. ``env`` entries are added to os.environ."""
    binary = cosmocopy_path()
    if not binary.is_file():
        pytest.fail(f"cosmocopy binary not found at {binary} (run ./run build or set CCOPY_BIN)")
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    return subprocess.run(
        [str(binary), *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )


@pytest.fixture(scope="session")
def ferretdb():
    server = FerretDB()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def fresh_ferretdb():
    server = FerretDB()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def _session_client(ferretdb):
    client = pymongo.MongoClient(ferretdb.uri, serverSelectionTimeoutMS=10000,
                                 directConnection=True)
    yield client
    client.close()


@pytest.fixture
def mongo(_session_client):
    return _session_client


@pytest.fixture
def db_name(mongo):
    name = "t_" + uuid.uuid4().hex[:10]
    yield name
    try:
        mongo.drop_database(name)
    except pymongo.errors.PyMongoError:
        pass  # the server may have been killed by the test


@pytest.fixture(scope="session")
def cosmocopy_bin() -> Path:
    binary = cosmocopy_path()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"cosmocopy binary not found at {binary} (run ./run build or set CCOPY_BIN)")
    return binary


@pytest.fixture(scope="session")
def mongorestore_bin() -> Path:
    default = REPO_ROOT / ".tools" / "mongo-tools" / "bin" / "mongorestore"
    binary = Path(os.environ.get("CCOPY_MONGORESTORE") or default)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.skip(f"mongorestore not found at {binary} (run ./run setup mongotools "
                    "or set CCOPY_MONGORESTORE)")
    return binary


@pytest.fixture
def cosmos_proxy():
    """``make(server, **settings)``: a started CosmosProxy in front of
    ``server`` (anything with ``.port``, and ``.host`` or 127.0.0.1). With
    ``upstream_tls_ca_file`` it connects to the server's ``tls_port``."""
    made: list[CosmosProxy] = []

    def make(server, **settings) -> CosmosProxy:
        port = server.port
        if settings.get("upstream_tls_ca_file"):
            port = server.tls_port
        proxy = CosmosProxy(getattr(server, "host", "127.0.0.1"), port, **settings)
        made.append(proxy)
        return proxy.start()

    yield make
    for proxy in made:
        proxy.stop()


@pytest.fixture(scope="session")
def azurite():
    server = Azurite()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def blob_container(azurite):
    """A new container named ``t-<hex>`` (valid: 3-63 lowercase letters,
    digits and dashes); its ContainerClient, deleted after the test."""
    client = azurite.make_container("t-" + uuid.uuid4().hex[:16])
    yield client
    try:
        client.delete_container()
    except Exception:
        pass  # the server may have been stopped by the test


@pytest.fixture
def blob_fault_proxy():
    """``make(azurite, **settings)``: a started HttpFaultProxy in front of
    ``azurite`` (anything with ``.port``, and ``.host`` or 127.0.0.1)."""
    made: list[HttpFaultProxy] = []

    def make(server, **settings) -> HttpFaultProxy:
        proxy = HttpFaultProxy(getattr(server, "host", "127.0.0.1"), server.port, **settings)
        made.append(proxy)
        return proxy.start()

    yield make
    for proxy in made:
        proxy.stop()


@pytest.fixture(scope="session")
def keyvault_server():
    from keyvault import KeyVaultServer

    server = KeyVaultServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def keyvault(keyvault_server):
    keyvault_server.reset()
    return keyvault_server


@pytest.fixture(scope="session")
def azurite_oauth():
    server = Azurite(oauth=True)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def mock_oauth2_server():
    import time

    from keyvault import MockOAuth2Server, MockOAuth2Unavailable

    try:
        server = MockOAuth2Server()
        began = time.monotonic()
        server.start()
    except MockOAuth2Unavailable as exc:
        pytest.skip(f"mock-oauth2-server unavailable: {exc}")
    server.start_seconds = time.monotonic() - began
    yield server
    server.cleanup()
