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

import atexit
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
DEFAULT_BINARY = REPO_ROOT / ".tools" / "ferretdb" / "bin" / "ferretdb"

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0

_live: "weakref.WeakSet[FerretDB]" = weakref.WeakSet()


def _kill_leftovers() -> None:
    # Never leave servers behind if the interpreter exits without stop().
    for fdb in list(_live):
        try:
            fdb.kill()
            fdb.cleanup()
        except Exception:
            pass


atexit.register(_kill_leftovers)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary_path() -> Path:
    env = os.environ.get("CCOPY_FERRETDB")
    return Path(env) if env else DEFAULT_BINARY


class FerretDBError(RuntimeError):
    pass


class FerretDB:
    def __init__(self, binary: str | os.PathLike | None = None, port: int | None = None,
                 log_level: str = "warn", repl_set_name: str | None = None,
                 tls_cert_file: str | os.PathLike | None = None,
                 tls_key_file: str | os.PathLike | None = None,
                 tls_port: int | None = None):
        if (tls_cert_file is None) != (tls_key_file is None):
            raise FerretDBError("tls_cert_file and tls_key_file go together")
        self.binary = Path(binary) if binary else binary_path()
        if not self.binary.is_file() or not os.access(self.binary, os.X_OK):
            raise FerretDBError(f"FerretDB binary not found: {self.binary} (run ./run setup)")
        self._port = port or free_port()
        self.log_level = log_level
        self.repl_set_name = repl_set_name
        self.tls_cert_file = tls_cert_file
        self.tls_key_file = tls_key_file
        self._tls_port = (tls_port or free_port()) if tls_cert_file else None
        self.tmpdir = Path(tempfile.mkdtemp(prefix="ccopy-ferretdb-"))
        self.data_dir = self.tmpdir / "data"
        self.data_dir.mkdir()
        self.log_path = self.tmpdir / "ferretdb.log"
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
    def tls_port(self) -> int | None:
        """The TLS listener's port, or None without ``tls_cert_file``."""
        return self._tls_port

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self._port}/"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self) -> str:
        state = f"pid {self.proc.pid}" if self.running else "stopped"
        return f"<FerretDB {self.uri} {state} dir={self.tmpdir}>"

    # ------------------------------------------------------------ lifecycle
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

    def start(self, timeout: float = START_TIMEOUT) -> "FerretDB":
        """Start the server and wait until it answers ``ping``."""
        if self.running:
            return self
        if not self.tmpdir.is_dir():
            raise FerretDBError(f"{self!r}: data directory was cleaned up")
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {time.strftime('%H:%M:%S')} port {self._port}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is not forwarded
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        import pymongo  # only needed here; keeps the module importable without it
        from pymongo.errors import PyMongoError

        deadline = time.monotonic() + timeout
        last_err: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise FerretDBError(
                    f"FerretDB exited with code {self.proc.returncode} during startup\n"
                    + self.log_tail())
            try:
                with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500,
                                         connectTimeoutMS=500, directConnection=True) as c:
                    c.admin.command("ping")
                return
            except PyMongoError as e:
                last_err = e
                time.sleep(0.1)
        raise FerretDBError(
            f"FerretDB on {self.uri} did not answer ping within {timeout:.0f}s "
            f"(last error: {last_err})\n" + self.log_tail())

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL if still alive after ``timeout`` seconds."""
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
        """SIGKILL now (simulates a crash); data written so far stays."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, hard: bool = False, down_for: float = 0.0,
                timeout: float = START_TIMEOUT) -> "FerretDB":
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
    def client(self, **kwargs):
        """A pymongo client for this server (caller closes it)."""
        import pymongo

        kwargs.setdefault("serverSelectionTimeoutMS", 5000)
        kwargs.setdefault("directConnection", True)
        return pymongo.MongoClient(self.uri, **kwargs)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no FerretDB log)"
        tail = text.splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path}:\n" + "\n".join(tail)

    def __enter__(self) -> "FerretDB":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()


if __name__ == "__main__":
    # Manual use: python tests/support/ferretdb.py  -> runs until Ctrl-C.
    with FerretDB() as fdb:
        print(fdb.uri, flush=True)
        try:
            while fdb.running:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
