"""The wheel: ``pip wheel ./python`` makes one cp311-abi3 wheel that holds the package and
nothing of the build tree, installs into a fresh virtual environment, and works there on its
own (imported from that environment, outside the repository) for a real backup from FerretDB.

The wheel is built once per session (a full compile of the engine, in a private build folder).
When scikit-build-core, swig and a CMake >= 3.25 are at hand in this environment (they are in
tests/requirements.txt; Debian 12's CMake is 3.25) the build runs with --no-build-isolation and
needs no network; otherwise pip fetches the build requirements from the index.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from bson import ObjectId

import backupcheck as bc
from pkgtest import DAY, REPO_ROOT, START

PYTHON_DIR = REPO_ROOT / "python"
WHEEL_NAME = re.compile(r"cosmocopy-(?P<version>[0-9][0-9.]*)-cp311-abi3-linux_x86_64\.whl")
BUILD_TIMEOUT = 900


def _cmake_ok() -> bool:
    """A CMake that python/pyproject.toml accepts (cmake.version >= 3.25), without the index."""
    if importlib.util.find_spec("cmake") is not None:
        return True
    exe = shutil.which("cmake")
    if not exe:
        return False
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"version (\d+)\.(\d+)", out)
    return bool(m) and (int(m[1]), int(m[2])) >= (3, 25)


def _offline_build_possible() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("scikit_build_core", "swig")) \
        and _cmake_ok()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from python/ (once per session)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    build_dir = tmp_path_factory.mktemp("wheel-build")
    cmd = [sys.executable, "-m", "pip", "wheel", str(PYTHON_DIR), "--no-deps", "-w", str(out),
           # a private build folder: neither python/build nor another build is touched or reused
           "--config-settings", f"build-dir={build_dir}"]
    env = dict(os.environ)
    if _offline_build_possible():
        cmd.append("--no-build-isolation")
        # swig (the PyPI wheel's script) and cmake from this environment, as when it is active
        env["PATH"] = sysconfig.get_path("scripts") + os.pathsep + env.get("PATH", "")
    res = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=BUILD_TIMEOUT)
    assert res.returncode == 0, f"pip wheel failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    wheels = sorted(p.name for p in out.iterdir())
    assert len(wheels) == 1 and WHEEL_NAME.fullmatch(wheels[0]), wheels
    return out / wheels[0]


@pytest.fixture(scope="session")
def wheel_python(wheel, tmp_path_factory) -> Path:
    """The interpreter of a fresh venv (no pip in it) with only the wheel installed, by this
    environment's pip (--python), from the file: no index, no network."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install",
                          "--no-deps", "--no-index", str(wheel)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return py


def test_the_wheel_holds_the_package_and_nothing_of_the_build(wheel):
    version = WHEEL_NAME.fullmatch(wheel.name)["version"]
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = email.parser.Parser().parsestr(
            zf.read(f"cosmocopy-{version}.dist-info/METADATA").decode())
        tags = email.parser.Parser().parsestr(
            zf.read(f"cosmocopy-{version}.dist-info/WHEEL").decode())
    source = PYTHON_DIR / "cosmocopy"
    package = {"cosmocopy/" + p.relative_to(source).as_posix()
               for p in source.rglob("*")
               if p.is_file() and (p.suffix == ".py" or p.name == "py.typed")
               and "__pycache__" not in p.parts}
    assert "cosmocopy/py.typed" in package and "cosmocopy/__init__.py" in package
    expected = package | {"cosmocopy/_native/engine.py", "cosmocopy/_native/_engine.abi3.so"} | \
        {f"cosmocopy-{version}.dist-info/{n}" for n in ("METADATA", "WHEEL", "RECORD", "entry_points.txt")}
    assert names == expected, (sorted(names - expected), sorted(expected - names))
    assert tags.get_all("Tag") == ["cp311-abi3-linux_x86_64"]
    assert tags["Root-Is-Purelib"] == "false"
    assert meta["Name"] == "cosmocopy" and meta["Version"] == version
    assert meta["Requires-Python"] == ">=3.11"
    assert meta.get_all("Provides-Extra") == ["bson", "dask"]
    assert meta.get_all("Requires-Dist") == ['pymongo>=4; extra == "bson"',
                                             'dask[distributed]>=2026.3; extra == "dask"']


_SCRIPT = textwrap.dedent("""
    import json, sys
    from importlib import metadata
    from pathlib import Path

    import cosmocopy

    prefix, uri, db, to, lo, hi = sys.argv[1:]
    where = Path(cosmocopy.__file__).resolve()
    assert Path(prefix).resolve() in where.parents, where
    # parallel=3: three one-day windows for three workers, none cut in parts
    result = cosmocopy.backup(source=uri, db=db, collection="items", to="dir:" + to,
                              from_=int(lo), until=int(hi), step="1d", parallel=3)
    dist = metadata.metadata("cosmocopy")
    print(json.dumps({
        "file": str(where),
        "documents": result.documents,
        "windows_written": result.windows_written,
        "status": result.status,
        "windows": [(w.kind, w.start, w.documents) for w in result.windows],
        "requires_python": dist["Requires-Python"],
        "extras": dist.get_all("Provides-Extra"),
        "requires": metadata.requires("cosmocopy"),
        "has_pymongo": any(d.metadata["Name"] == "pymongo" for d in metadata.distributions()),
    }))
""")


def _oid(ts: int, n: int) -> ObjectId:
    return ObjectId(struct.pack(">I", ts) + b"wheel" + n.to_bytes(3, "big"))


def test_the_installed_wheel_backs_up_from_ferretdb(wheel_python, ferretdb, mongo, db_name,
                                                    tmp_path):
    coll = mongo[db_name].items
    # 50 documents over three days, five days ago
    coll.insert_many([{"_id": _oid(START + i * (3 * DAY // 50), i), "n": i, "name": f"item {i}"}
                      for i in range(50)])
    out = tmp_path / "bk"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "CCOPY_PYTHONPATH", "VIRTUAL_ENV")}
    # -I: no PYTHONPATH, no user site, not the current folder; cwd outside the repository
    res = subprocess.run([str(wheel_python), "-I", "-c", _SCRIPT, str(wheel_python.parents[1]),
                          ferretdb.uri, db_name, str(out), str(START), str(START + 3 * DAY)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert not Path(got["file"]).is_relative_to(REPO_ROOT)
    assert got["status"] == "ok" and got["documents"] == 50, got
    days = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + d * DAY)) for d in range(3)]
    assert got["windows_written"] == 3
    assert [(kind, start) for kind, start, _ in got["windows"]] == [("window", d) for d in days]
    # what `pip show` reads, from the installed distribution; the core install pulls no pymongo
    assert got["requires_python"] == ">=3.11" and got["extras"] == ["bson", "dask"]
    assert got["requires"] == ['pymongo>=4; extra == "bson"',
                               'dask[distributed]>=2026.3; extra == "dask"']
    assert not got["has_pymongo"]
    # the folder holds exactly the source's documents (an independent reader)
    backup = bc.assert_backup_matches(out, mongo[db_name], ["items"])
    assert len(backup.docs(db_name, "items")) == 50
