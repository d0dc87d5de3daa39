"""A private Azurite blob server (the Azure Storage emulator) for tests.

    with Azurite() as az:
        service = az.service_client()          # azure.storage.blob.BlobServiceClient
        container = az.make_container("backups")
        url = az.sas_url("backups", "nightly")
        # -> http://127.0.0.1:PORT/devstoreaccount1/backups/nightly?st=...&sig=...

Each instance runs ``azurite-blob`` on 127.0.0.1 on a free port, keeps its
data on disk in a fresh temporary directory (``--location``, never
``--inMemoryPersistence``) and logs to ``<tmpdir>/azurite.log``; with
``debug=True`` Azurite's own request log goes to ``<tmpdir>/debug.log``.
It runs in strict mode (no ``--loose``, no ``--skipApiVersionCheck``), so
unsupported headers and unknown API versions fail as they would on Azure,
and with ``--disableTelemetry`` (telemetry is on by default since 3.34).
``restart()`` reuses the same port and data, so a test can bounce the
server mid-backup.

azure-storage-blob 12.31 sends API version 2026-10-06 by default, which
Azurite 3.35 refuses (400 InvalidHeaderValue: its newest is 2025-11-05);
``service_client()`` and ``sas_url()`` use ``API_VERSION`` instead, and a
test that makes its own client passes ``api_version=API_VERSION``.

The account is Azurite's well-known ``devstoreaccount1`` with its published
key; URLs are path style: ``http://127.0.0.1:PORT/devstoreaccount1/<container>/<blob>``.

``Azurite(oauth=True)`` serves HTTPS instead (``--oauth basic --cert --key``, a CA and server
certificate from tlscerts.py; trust ``ca_file``): ``blob_endpoint`` is
``https://127.0.0.1:PORT/devstoreaccount1`` and Azurite then also accepts Entra ID bearer tokens.
It decodes them without checking the signature, and refuses with 403 ``AuthenticationFailed`` a
token whose issuer is not an Entra ID one (``https://sts.windows.net/`` ...), whose audience is not
Storage (``https://storage.azure.com``, ``https://<account>.blob.core.windows.net``) or whose
``nbf``/``exp`` exclude now; the reason is in ``AuthenticationErrorDetail`` ("Invalid token
audience.", "Lifetime validation failed. The token is expired."). Shared Key and SAS still work
there. Tokens for it come from tests/support/keyvault.py.

The binary is ``<repo>/.tools/azurite/node_modules/.bin/azurite-blob``
(installed by ``scripts/setup.sh``), or ``$CCOPY_AZURITE`` when set.
Facts behind the flags: /work/shared/reference/protocol-facts.md section B2.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from localserver import STOP_TIMEOUT, LocalServer, binary_from_env, free_port  # noqa: F401  (re-exported)
from tlscerts import make_certs

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"

ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")

# The newest x-ms-version Azurite 3.35 accepts (src/blob/utils/constants.ts).
API_VERSION = "2025-11-05"

START_TIMEOUT = 20.0


def binary_path() -> Path:
    return binary_from_env("CCOPY_AZURITE", DEFAULT_BINARY)


def connection_string(blob_endpoint: str, account_name: str = ACCOUNT_NAME,
                      account_key: str = ACCOUNT_KEY) -> str:
    """An Azure Storage connection string with an explicit BlobEndpoint."""
    protocol = "https" if blob_endpoint.startswith("https:") else "http"
    return (f"DefaultEndpointsProtocol={protocol};AccountName={account_name};"
            f"AccountKey={account_key};BlobEndpoint={blob_endpoint};")


class AzuriteError(RuntimeError):
    pass


class Azurite(LocalServer):
    """Azurite keeps its metadata in LokiJS, saved on shutdown (``stop()``) and every few
    seconds: what was written just before a ``kill()`` may be gone after a restart."""

    NAME = "azurite-blob"
    ERROR = AzuriteError
    TMP_PREFIX = "ccopy-azurite-"
    LOG_NAME = "azurite.log"
    START_TIMEOUT = START_TIMEOUT

    def __init__(self, binary: str | os.PathLike | None = None, port: int | None = None,
                 debug: bool = False, keep_alive_timeout: int | None = None,
                 oauth: bool = False):
        super().__init__(Path(binary) if binary else binary_path(), port, "(run ./run setup)")
        self.debug = debug
        self.keep_alive_timeout = keep_alive_timeout
        self.debug_log_path = self.tmpdir / "debug.log"
        self.oauth = oauth
        self._certs = make_certs(self.tmpdir / "tls") if oauth else None

    @property
    def ca_file(self) -> str | None:
        """The CA that signed the HTTPS certificate (``oauth=True``), else None."""
        return self._certs["ca"] if self._certs else None

    @property
    def account_name(self) -> str:
        return ACCOUNT_NAME

    @property
    def account_key(self) -> str:
        return ACCOUNT_KEY

    @property
    def blob_endpoint(self) -> str:
        scheme = "https" if self.oauth else "http"
        return f"{scheme}://127.0.0.1:{self._port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob_endpoint)

    def describe(self) -> str:
        return self.blob_endpoint

    def command(self) -> list[str]:
        args = [
            str(self.binary),
            "--blobHost", "127.0.0.1",
            "--blobPort", str(self._port),
            "--location", str(self.data_dir),
            "--silent",
            "--disableTelemetry",
        ]
        if self.keep_alive_timeout is not None:
            args += ["--blobKeepAliveTimeout", str(self.keep_alive_timeout)]
        if self.debug:
            args += ["--debug", str(self.debug_log_path)]
        if self.oauth:
            args += ["--oauth", "basic", "--cert", self._certs["cert"], "--key", self._certs["key"]]
        return args

    # ------------------------------------------------------------ helpers
    def service_client(self, **kwargs):
        """An azure.storage.blob.BlobServiceClient (Shared Key) for this
        server, speaking ``API_VERSION`` unless ``api_version=`` says otherwise."""
        from azure.storage.blob import BlobServiceClient

        kwargs.setdefault("api_version", API_VERSION)
        if self.ca_file:
            kwargs.setdefault("connection_verify", self.ca_file)
        return BlobServiceClient.from_connection_string(self.connection_string, **kwargs)

    def token_service_client(self, credential, **kwargs):
        """A BlobServiceClient authorized by ``credential`` (an azure.core TokenCredential,
        e.g. azure-identity's); needs ``oauth=True``."""
        from azure.storage.blob import BlobServiceClient

        if not self.oauth:
            raise AzuriteError("bearer tokens need Azurite(oauth=True) (HTTPS)")
        kwargs.setdefault("api_version", API_VERSION)
        kwargs.setdefault("connection_verify", self.ca_file)
        return BlobServiceClient(self.blob_endpoint, credential=credential, **kwargs)

    def make_container(self, name: str):
        """Create container ``name``; returns its ContainerClient."""
        return self.service_client().create_container(name)

    def sas_url(self, container: str, prefix: str = "", permissions: str = "racwdl",
                expiry_hours: float = 1) -> str:
        """A container SAS URL: ``<blob_endpoint>/<container>/<prefix>?<sas>``."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = _dt.datetime.now(_dt.timezone.utc)
        sas = generate_container_sas(
            account_name=ACCOUNT_NAME, container_name=container, account_key=ACCOUNT_KEY,
            permission=ContainerSasPermissions.from_string(permissions),
            start=now - _dt.timedelta(minutes=5),  # tolerate clock skew
            expiry=now + _dt.timedelta(hours=expiry_hours))
        return f"{self.blob_endpoint}/{container}/{prefix}?{sas}"



if __name__ == "__main__":
    # Manual use: python tests/support/azurite.py  -> runs until Ctrl-C.
    server = Azurite()
    server.serve_forever(server.connection_string)
