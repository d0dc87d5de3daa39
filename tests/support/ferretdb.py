"""A private FerretDB server (SQLite backend) for tests, the demo and benchmarks.

    with FerretDB() as fdb:
        client = pymongo.MongoClient(fdb.uri)
        ...

Each instance listens on 127.0.0.1 on a free port, keeps its SQLite data in a
fresh temporary directory and logs to ``<tmpdir>/ferretdb.log``. ``restart()``
reuses the same port and data, so a test can bounce the server mid-backup.

The binary is ``<repo>/.tools/ferretdb/bin/ferretdb`` (built by
``scripts/setup.sh``), or ``$CCOPY_FERRETDB`` when set.

Optional extras: ``repl_set_name="globaldb"`` makes ``hello`` report a
replica set (``--repl-set-name``); ``tls_cert_file``/``tls_key_file`` add a
TLS listener on ``tls_port`` (``--listen-tls``) beside the plain one, which
stays on ``port`` for readiness checks and direct inspection.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from localserver import STOP_TIMEOUT, LocalServer, binary_from_env, free_port  # noqa: F401  (re-exported)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / ".tools" / "ferretdb" / "bin" / "ferretdb"

START_TIMEOUT = 15.0


def binary_path() -> Path:
    return binary_from_env("CCOPY_FERRETDB", DEFAULT_BINARY)


class FerretDBError(RuntimeError):
    pass


class FerretDB(LocalServer):
    NAME = "FerretDB"
    ERROR = FerretDBError
    TMP_PREFIX = "ccopy-ferretdb-"
    LOG_NAME = "ferretdb.log"
    START_TIMEOUT = START_TIMEOUT

    def __init__(self, binary: str | os.PathLike | None = None, port: int | None = None,
                 log_level: str = "warn", repl_set_name: str | None = None,
                 tls_cert_file: str | os.PathLike | None = None,
                 tls_key_file: str | os.PathLike | None = None,
                 tls_port: int | None = None):
        if (tls_cert_file is None) != (tls_key_file is None):
            raise FerretDBError("tls_cert_file and tls_key_file go together")
        super().__init__(Path(binary) if binary else binary_path(), port, "(run ./run setup)")
        self.log_level = log_level
        self.repl_set_name = repl_set_name
        self.tls_cert_file = tls_cert_file
        self.tls_key_file = tls_key_file
        self._tls_port = (tls_port or free_port()) if tls_cert_file else None

    @property
    def tls_port(self) -> int | None:
        """The TLS listener's port, or None without ``tls_cert_file``."""
        return self._tls_port

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self._port}/"

    def describe(self) -> str:
        return self.uri

    def command(self) -> list[str]:
        args = [
            str(self.binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir}/",
            f"--listen-addr=127.0.0.1:{self._port}",
            "--telemetry=disable",
            "--debug-addr=-",
            f"--state-dir={self.tmpdir}",
            f"--log-level={self.log_level}",
        ]
        if self.repl_set_name:
            args.append(f"--repl-set-name={self.repl_set_name}")
        if self._tls_port is not None:
            args += [f"--listen-tls=127.0.0.1:{self._tls_port}",
                     f"--listen-tls-cert-file={self.tls_cert_file}",
                     f"--listen-tls-key-file={self.tls_key_file}"]
        return args

    def ready(self) -> bool:
        """True once the server answers ``ping``."""
        import pymongo  # only needed here; keeps the module importable without it
        from pymongo.errors import PyMongoError

        try:
            with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500,
                                     connectTimeoutMS=500, directConnection=True) as c:
                c.admin.command("ping")
            return True
        except PyMongoError:
            time.sleep(0.05)
            return False

    def client(self, **kwargs):
        """A pymongo client for this server (caller closes it)."""
        import pymongo

        kwargs.setdefault("serverSelectionTimeoutMS", 5000)
        kwargs.setdefault("directConnection", True)
        return pymongo.MongoClient(self.uri, **kwargs)


if __name__ == "__main__":
    # Manual use: python tests/support/ferretdb.py  -> runs until Ctrl-C.
    server = FerretDB()
    server.serve_forever(server.uri)
