"""The package's type hints hold (mypy --strict over the package), and a user's typed code
that uses the public API checks clean, while a wrong use is caught."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pkgtest import PACKAGE_TREE, REPO_ROOT

USER_CODE = textwrap.dedent("""
    import datetime as dt
    import cosmocopy

    def nightly(uri: str) -> int:
        result: cosmocopy.Result = cosmocopy.backup(source=uri, db="shop", to="dir:/b",
                                                    incremental=True)
        n: int = result.documents + result.windows_written
        for w in result.windows:
            start: dt.datetime | None = w.start_time
        with cosmocopy.Job("backup", source=uri, db="shop", to="dir:/b") as job:
            tasks: list[cosmocopy.Task] = job.plan()
            done: cosmocopy.Task = job.run_task(tasks[0])
            p: cosmocopy.Progress = job.progress()
        for window in cosmocopy.open_backup("dir:/b").windows(db="shop"):
            for raw in window.read():
                pass
        try:
            cosmocopy.verify(source=uri, db="shop", backup="dir:/b")
        except cosmocopy.MismatchError as e:
            code: str = e.code_name
        return n
""")


def mypy(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(REPO_ROOT / "python" / "pyproject.toml"),
                           "--cache-dir", str(PACKAGE_TREE.parent / "mypy-cache"), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_package_type_checks_strictly():
    res = mypy("-p", "cosmocopy", cwd=PACKAGE_TREE)
    assert res.returncode == 0, res.stdout + res.stderr


def test_user_code_type_checks_and_a_wrong_use_is_caught(tmp_path):
    (tmp_path / "good.py").write_text(USER_CODE)
    (tmp_path / "bad.py").write_text(USER_CODE.replace("n: int = result.documents",
                                                        "n: str = result.documents"))
    env_path = ["--python-executable", sys.executable]
    good = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir",
                           str(PACKAGE_TREE.parent / "mypy-cache"), *env_path,
                           str(tmp_path / "good.py")], capture_output=True, text=True,
                          timeout=300, env={"MYPYPATH": str(PACKAGE_TREE), "PATH": "/usr/bin"})
    assert good.returncode == 0, good.stdout + good.stderr
    bad = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir",
                          str(PACKAGE_TREE.parent / "mypy-cache"), *env_path,
                          str(tmp_path / "bad.py")], capture_output=True, text=True,
                         timeout=300, env={"MYPYPATH": str(PACKAGE_TREE), "PATH": "/usr/bin"})
    assert bad.returncode == 1 and 'incompatible types in assignment' in bad.stdout.lower(), \
        bad.stdout
