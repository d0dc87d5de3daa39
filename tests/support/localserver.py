"""What every private test server shares (tests/support/ferretdb.py, azurite.py): a fresh
temporary directory with ``data/`` and a log, a process started in its own session on a free
127.0.0.1 port, a readiness wait that reports the log tail when the server dies or stays deaf,
stop (SIGTERM, then SIGKILL), kill (a crash), restart on the same port and data, cleanup, and
no server left behind when the interpreter exits.

A subclass sets ``NAME`` (for messages), ``ERROR`` (its exception class), ``TMP_PREFIX``,
``LOG_NAME``, ``START_TIMEOUT``, and implements ``command()`` and ``ready()`` (true once the
server answers).
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

STOP_TIMEOUT = 5.0

_live: "weakref.WeakSet[LocalServer]" = weakref.WeakSet()


def _kill_leftovers() -> None:
    # Never leave servers behind if the interpreter exits without stop().
    for server in list(_live):
        try:
            server.kill()
            server.cleanup()
        except Exception:
            pass


atexit.register(_kill_leftovers)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary_from_env(variable: str, default: Path) -> Path:
    """``$variable`` when set (a binary built elsewhere), else ``default``."""
    value = os.environ.get(variable)
    return Path(value) if value else default


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class LocalServer:
    NAME = "server"
    ERROR: type[Exception] = RuntimeError
    TMP_PREFIX = "ccopy-server-"
    LOG_NAME = "server.log"
    START_TIMEOUT = 15.0

    def __init__(self, binary: Path, port: int | None = None, missing_hint: str = ""):
        self.binary = Path(binary)
        if not self.binary.is_file() or not os.access(self.binary, os.X_OK):
            raise self.ERROR(f"{self.NAME} not found: {self.binary} {missing_hint}".rstrip())
        self._port = port or free_port()
        self.tmpdir = Path(tempfile.mkdtemp(prefix=self.TMP_PREFIX))
        self.data_dir = self.tmpdir / "data"
        self.data_dir.mkdir()
        self.log_path = self.tmpdir / self.LOG_NAME
        self.proc: subprocess.Popen | None = None
        _live.add(self)

    # ------------------------------------------------------------ to implement
    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        """True once the server answers (called while starting)."""
        return port_accepts(self._port)

    def describe(self) -> str:
        """Where the server is, for messages."""
        return f"127.0.0.1:{self._port}"

    # ------------------------------------------------------------ properties
    @property
    def port(self) -> int:
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self) -> str:
        state = f"pid {self.proc.pid}" if self.running else "stopped"
        return f"<{type(self).__name__} {self.describe()} {state} dir={self.tmpdir}>"

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout: float | None = None):
        """Start the server and wait until it answers."""
        timeout = self.START_TIMEOUT if timeout is None else timeout
        if self.running:
            return self
        if not self.tmpdir.is_dir():
            raise self.ERROR(f"{self!r}: data directory was cleaned up")
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
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.ERROR(f"{self.NAME} exited with code {self.proc.returncode} during "
                                 "startup\n" + self.log_tail())
            if self.ready():
                return
            time.sleep(0.05)
        raise self.ERROR(f"{self.NAME} on {self.describe()} did not answer within {timeout:.0f}s\n"
                         + self.log_tail())

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
        """SIGKILL now (simulates a crash)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, hard: bool = False, down_for: float = 0.0, timeout: float | None = None):
        """Stop (or kill with ``hard=True``) and start again on the same port with the same
        data; optionally stay down ``down_for`` seconds."""
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

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no {self.NAME} log)"
        tail = text.splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path}:\n" + "\n".join(tail)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def serve_forever(self, show: str) -> None:
        """Manual use: start, print ``show``, run until Ctrl-C."""
        with self:
            print(show, flush=True)
            try:
                while self.running:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
