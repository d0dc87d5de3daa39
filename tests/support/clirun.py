"""Running the ``cosmocopy`` command in tests: blocking runs with a parsed
``--json`` summary, background runs to signal or race, and stand-ins for
hosts that do not answer.

    res = clirun.backup(uri, db, dest, "--step", "4h")
    assert res.rc == 0, res.explain()
    res.summary["windows_written"]
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def binary() -> Path:
    env = os.environ.get("CCOPY_BIN")
    return Path(env) if env else REPO_ROOT / "build" / "cosmocopy"


@dataclass
class Result:
    args: list[str]
    rc: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def summary(self) -> dict:
        """The ``--json`` summary printed on stdout."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stdout is not one JSON document ({e}):\n{self.explain()}") \
                from None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        return (f"$ cosmocopy {' '.join(self.args)}\nexit {self.rc} after {self.elapsed:.1f}s\n"
                f"--- stdout:\n{self.stdout[-4000:]}\n--- stderr:\n{self.stderr[-4000:]}")


def run(*args, timeout: float = 180, env: dict | None = None) -> Result:
    """Run the CLI (no shell, stdin closed) and wait for it."""
    argv = [str(a) for a in args]
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    t0 = time.monotonic()
    p = subprocess.run([str(binary()), *argv], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, env=full_env)
    return Result(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def backup(source: str, db: str, dest, *extra, json_summary: bool = True,
           timeout: float = 180) -> Result:
    """``cosmocopy backup --source URI --db DB --to dir:DEST [extra...] --json``."""
    args = ["backup", "--source", source, "--db", db, "--to", f"dir:{dest}", *extra]
    if json_summary:
        args.append("--json")
    return run(*args, timeout=timeout)


class Background:
    """A backup running in the background (for signals and races)."""

    def __init__(self, *args):
        self.args = [str(a) for a in args]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([str(binary()), *self.args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.result: Result | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> Result:
        """Wait for the exit (raises subprocess.TimeoutExpired after ``timeout``)."""
        out, err = self.proc.communicate(timeout=timeout)
        self.result = Result(self.args, self.proc.returncode, out, err,
                             time.monotonic() - self.t0)
        return self.result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.communicate(timeout=10)


def start_backup(source: str, db: str, dest, *extra, json_summary: bool = True) -> Background:
    args = ["backup", "--source", source, "--db", db, "--to", f"dir:{dest}", *extra]
    if json_summary:
        args.append("--json")
    return Background(*args)


def wait_for(cond, timeout: float, interval: float = 0.01, what: str = "condition"):
    """Poll ``cond()`` until it returns a true value; return it. Raises
    AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def closed_port() -> int:
    """A port on 127.0.0.1 on which nothing listens (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_listener():
    """A TCP port on 127.0.0.1 that completes connections (the kernel accepts
    them into the backlog) but never reads or answers: a host that hangs.
    Yields the port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(128)
        yield s.getsockname()[1]
    finally:
        s.close()
