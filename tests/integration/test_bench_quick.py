"""The benchmark harness (bench/harness.py) keeps working: its smallest scenario, backup to a
folder, with tiny sizes (300 documents of ~1 KB, 18 of ~16 KB), every candidate, into a temporary results folder. It checks that
every candidate's copy matched the source and that the report (table, plot) is made; it
judges no time (a benchmark measures, a test checks behaviour)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "bench" / "harness.py"


@pytest.mark.skipif(bool(os.environ.get("CCOPY_BIN")),
                    reason="the harness measures build/cosmocopy: CI runs it once, in the "
                           "first pass, not again in the sanitizer pass ($CCOPY_BIN)")
def test_bench_quick_folder_scenario(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    argv = [sys.executable, str(HARNESS), "--quick", "--scenarios", "folder", "--docs", "300",
            "--doc-sizes", "1024,16384",
            "--results-dir", str(results), "--docs-dir", str(docs)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-4000:]

    [path] = results.glob("folder-*.json")
    record = json.loads(path.read_text())
    assert record["content_ok"] is True
    assert [(d["name"], d["documents"]) for d in record["datasets"]] == [("docs", 300),
                                                                           ("docs16k", 18)]
    expected = {"drain", "cosmocopy_none", "baseline_savvy_none", "baseline_usual_none"}
    if (REPO / ".tools" / "mongo-tools" / "bin" / "mongodump").exists():
        expected.add("mongodump_none")
    names = set()
    for ds in record["datasets"]:
        assert ds["expected"]["full"]["documents"] == ds["documents"]
        cands = record["result"][ds["name"]]["candidates"]
        assert expected <= set(cands), ds["name"]
        names |= set(cands)
        for name, c in cands.items():
            assert c["content_ok"], (ds["name"], name)
            [run] = c["repeats"]
            check = run["content_check"]
            assert check["ok"], (ds["name"], name, check)
            assert check["documents"] == ds["documents"], (ds["name"], name)
            assert check["bytes"] == ds["expected"]["full"]["bytes"], (ds["name"], name)
            assert c["median"]["cpu_seconds_per_gb"] > 0, (ds["name"], name)
            assert "marginal_cpu_seconds_per_gb" in c, (ds["name"], name)

    table = (docs / "latest.md").read_text()
    assert "~16 KB" in table
    for name in names:
        assert f"| `{name}` |" in table
    assert (docs / "cpu_per_gb.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
