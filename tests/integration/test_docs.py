"""The README and --help describe what the command does now."""
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_options_table_matches_the_option_table(cosmocopy_bin):
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- options-table:[^\n]*-->\n(.*?)<!-- end options-table -->", readme, re.S)
    assert match, "README.md lost its options table markers"
    generated = subprocess.run([cosmocopy_bin, "options"], capture_output=True, text=True, check=True).stdout
    assert match.group(1) == generated


def test_backup_help_lists_every_option(cosmocopy_bin):
    table = subprocess.run([cosmocopy_bin, "options"], capture_output=True, text=True, check=True).stdout
    flags = re.findall(r"\| `(--[a-z-]+)", table)
    assert len(flags) >= 10
    help_text = subprocess.run([cosmocopy_bin, "backup", "--help"], capture_output=True, text=True, check=True).stdout
    for flag in flags + ["--source", "--db", "--collection", "--to", "--full", "--incremental", "--from", "--json", "--quiet"]:
        assert flag in help_text, flag


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in lines[:8] if line.startswith("./run")]
    assert commands == ["./run demo", "./run test"]
