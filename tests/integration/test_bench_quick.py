"""The benchmark harness (bench/harness.py) keeps working: its smallest scenario, backup to a
folder, with tiny sizes, every candidate, into a temporary results folder. It checks that
every candidate's copy matched the source and that the report (table, plot) is made; it
judges no time (a benchmark measures, a test checks behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "bench" / "harness.py"


def test_bench_quick_folder_scenario(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    argv = [sys.executable, str(HARNESS), "--quick", "--scenarios", "folder", "--docs", "300",
            "--results-dir", str(results), "--docs-dir", str(docs)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-4000:]

    [path] = results.glob("folder-*.json")
    record = json.loads(path.read_text())
    assert record["content_ok"] is True
    [ds] = record["datasets"]
    assert ds["documents"] == 300 and ds["expected"]["full"]["documents"] == 300
    cands = record["result"]["docs"]["candidates"]
    expected = {"drain", "cosmocopy_none", "baseline_savvy_none", "baseline_usual_none"}
    if (REPO / ".tools" / "mongo-tools" / "bin" / "mongodump").exists():
        expected.add("mongodump_none")
    assert expected <= set(cands)
    for name, c in cands.items():
        assert c["content_ok"], name
        [run] = c["repeats"]
        check = run["content_check"]
        assert check["ok"] and check["documents"] == 300, (name, check)
        assert check["bytes"] == ds["expected"]["full"]["bytes"], name
        assert c["median"]["cpu_seconds_per_gb"] > 0, name
        assert "marginal_cpu_seconds_per_gb" in c, name

    table = (docs / "latest.md").read_text()
    for name in cands:
        assert f"| `{name}` |" in table
    assert (docs / "cpu_per_gb.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
