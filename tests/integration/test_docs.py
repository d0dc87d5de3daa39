"""The README and --help describe what the command does now."""
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_options_table_matches_the_option_table(cosmocopy_bin):
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- options-table:[^\n]*-->\n(.*?)<!-- end options-table -->", readme, re.S)
    assert match, "README.md lost its options table markers"
    generated = subprocess.run([cosmocopy_bin, "options"], capture_output=True, text=True, check=True).stdout
    assert match.group(1) == generated


SPECIAL_FLAGS = {
    "backup": ["--source", "--db", "--collection", "--to", "--full", "--incremental", "--from"],
    "replicate": ["--source", "--db", "--collection", "--target", "--target-db", "--target-collection",
                  "--full", "--incremental", "--from", "--mode", "--copy-indexes"],
    "restore": ["--from", "--to", "--db", "--collection", "--to-db", "--to-collection", "--until",
                "--mode", "--drop", "--dry-run", "--copy-indexes", "--allow-gaps"],
    "verify": ["--source", "--db", "--collection", "--backup", "--from", "--to", "--deep"],
}


@pytest.mark.parametrize("command", sorted(SPECIAL_FLAGS))
def test_help_lists_every_option_of_the_command(cosmocopy_bin, command):
    table = subprocess.run([cosmocopy_bin, "options"], capture_output=True, text=True, check=True).stdout
    rows = re.findall(r"^\| `(--[a-z-]+)[^|]*` \| `[a-z_]+` \| [^|]* \| ([a-z ]+) \|", table, re.M)
    # restore spells the target's flags its own way (the option names stay the same)
    spelled = {"restore": {"--target": "--to", "--target-db": "--to-db", "--target-collection": "--to-collection"},
               "verify": {"--target": "--backup"}}.get(command, {})
    flags = [spelled.get(flag, flag) for flag, commands in rows if command in commands.split()]
    assert len(flags) >= 5
    help_text = subprocess.run([cosmocopy_bin, command, "--help"], capture_output=True, text=True, check=True).stdout
    for flag in flags + SPECIAL_FLAGS[command] + ["--json", "--quiet"]:
        assert flag in help_text, flag
    # and nothing that does not apply: backup's compression is not restore's business
    if command != "backup":
        assert "--compress " not in help_text


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in lines[:8] if line.startswith("./run")]
    assert commands == ["./run demo", "./run test"]
