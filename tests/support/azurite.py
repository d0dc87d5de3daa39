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

The binary is ``<repo>/.tools/azurite/node_modules/.bin/azurite-blob``
(installed by ``scripts/setup.sh``), or ``$CCOPY_AZURITE`` when set.
Facts behind the flags: /work/shared/reference/protocol-facts.md section B2.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"

ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")

# The newest x-ms-version Azurite 3.35 accepts (src/blob/utils/constants.ts).
API_VERSION = "2025-11-05"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0

_live: "weakref.WeakSet[Azurite]" = weakref.WeakSet()


def _kill_leftovers() -> None:
    # Never leave servers behind if the interpreter exits without stop().
    for az in list(_live):
        try:
            az.kill()
            az.cleanup()
        except Exception:
            pass


atexit.register(_kill_leftovers)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary_path() -> Path:
    env = os.environ.get("CCOPY_AZURITE")
    return Path(env) if env else DEFAULT_BINARY


def connection_string(blob_endpoint: str, account_name: str = ACCOUNT_NAME,
                      account_key: str = ACCOUNT_KEY) -> str:
    """An Azure Storage connection string with an explicit BlobEndpoint."""
    return (f"DefaultEndpointsProtocol=http;AccountName={account_name};"
            f"AccountKey={account_key};BlobEndpoint={blob_endpoint};")


class AzuriteError(RuntimeError):
    pass


class Azurite:
    def __init__(self, binary: str | os.PathLike | None = None, port: int | None = None,
                 debug: bool = False, keep_alive_timeout: int | None = None):
        self.binary = Path(binary) if binary else binary_path()
        if not self.binary.is_file() or not os.access(self.binary, os.X_OK):
            raise AzuriteError(f"azurite-blob not found: {self.binary} (run ./run setup)")
        self._port = port or free_port()
        self.debug = debug
        self.keep_alive_timeout = keep_alive_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="ccopy-azurite-"))
        self.data_dir = self.tmpdir / "data"
        self.data_dir.mkdir()
        self.log_path = self.tmpdir / "azurite.log"
        self.debug_log_path = self.tmpdir / "debug.log"
        self.proc: subprocess.Popen | None = None
        _live.add(self)

    # ------------------------------------------------------------ properties
    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def account_name(self) -> str:
        return ACCOUNT_NAME

    @property
    def account_key(self) -> str:
        return ACCOUNT_KEY

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob_endpoint)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self) -> str:
        state = f"pid {self.proc.pid}" if self.running else "stopped"
        return f"<Azurite {self.blob_endpoint} {state} dir={self.tmpdir}>"

    # ------------------------------------------------------------ lifecycle
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
        return args

    def start(self, timeout: float = START_TIMEOUT) -> "Azurite":
        """Start the server and wait until its port accepts connections."""
        if self.running:
            return self
        if not self.tmpdir.is_dir():
            raise AzuriteError(f"{self!r}: data directory was cleaned up")
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')} port {self._port}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.tmpdir,
                start_new_session=True,  # a Ctrl-C in the terminal is not forwarded
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AzuriteError(
                    f"azurite-blob exited with code {self.proc.returncode} during startup\n"
                    + self.log_tail())
            try:
                with socket.create_connection(("127.0.0.1", self._port), timeout=0.5):
                    return
            except OSError as e:
                last_err = e
                time.sleep(0.05)
        raise AzuriteError(
            f"azurite-blob on port {self._port} did not accept connections within "
            f"{timeout:.0f}s (last error: {last_err})\n" + self.log_tail())

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (Azurite saves its metadata), then SIGKILL if still alive
        after ``timeout`` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL now (simulates a crash). Azurite keeps its metadata in
        LokiJS, saved on shutdown and every few seconds: what was written
        just before a kill may be gone after a restart."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, hard: bool = False, down_for: float = 0.0,
                timeout: float = START_TIMEOUT) -> "Azurite":
        """Stop (or kill with ``hard=True``) and start again on the same port
        with the same data; optionally stay down ``down_for`` seconds."""
        if hard:
            self.kill()
        else:
            self.stop()
        if down_for > 0:
            time.sleep(down_for)
        return self.start(timeout)

    def cleanup(self) -> None:
        """Stop the server if needed and remove its temporary directory."""
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        _live.discard(self)

    # ------------------------------------------------------------ helpers
    def service_client(self, **kwargs):
        """An azure.storage.blob.BlobServiceClient (Shared Key) for this
        server, speaking ``API_VERSION`` unless ``api_version=`` says otherwise."""
        from azure.storage.blob import BlobServiceClient

        kwargs.setdefault("api_version", API_VERSION)
        return BlobServiceClient.from_connection_string(self.connection_string, **kwargs)

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

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no Azurite log)"
        tail = text.splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path}:\n" + "\n".join(tail)

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


if __name__ == "__main__":
    # Manual use: python tests/support/azurite.py  -> runs until Ctrl-C.
    with Azurite() as az:
        print(az.connection_string, flush=True)
        try:
            while az.running:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
