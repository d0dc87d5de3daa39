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


def _spellings(cosmocopy_bin):
    """{option: (commands, {command: flag}, [aliases])} from `cosmocopy options`."""
    table = subprocess.run([cosmocopy_bin, "options"], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in table.splitlines()[2:]:
        cell, name, _default, commands = [c.strip() for c in line.strip("|").split(" | ")][:4]
        m = re.fullmatch(r"`(--[a-z-]+)[^`]*`(?: \((.*)\))?", cell)
        assert m, f"flag cell {cell!r} is not `FLAG VALUE` (command: `FLAG`, alias `FLAG`)"
        flags = {command: m.group(1) for command in commands.split()}
        aliases = []
        for item in (m.group(2) or "").split(", "):
            if item.startswith("alias "):
                aliases.append(item[len("alias "):].strip("`"))
            elif item:
                command, flag = item.split(": ")
                assert command in flags, f"{name}: {command} is not one of its commands"
                flags[command] = flag.strip("`")
        rows[name.strip("`")] = (commands.split(), flags, aliases)
    return rows


def _mentions(text, flag):
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


@pytest.mark.parametrize("command", sorted(SPECIAL_FLAGS))
def test_each_option_has_one_name_per_command_and_aliases_are_listed_as_aliases(cosmocopy_bin,
                                                                                command):
    """The table gives each option one flag per command (restore: `--to-db`); that command's
    --help uses exactly that flag, never another command's spelling, and names each alias as
    an alias."""
    rows = _spellings(cosmocopy_bin)
    help_text = subprocess.run([cosmocopy_bin, command, "--help"], capture_output=True, text=True,
                               check=True).stdout
    own = {flags[command] for commands, flags, _ in rows.values() if command in commands}
    own |= set(SPECIAL_FLAGS[command]) | {"--from", "--to"}  # every command has its --from and --to
    for name, (commands, flags, aliases) in rows.items():
        if command not in commands:
            continue
        assert _mentions(help_text, flags[command]), f"{command} --help lacks {flags[command]} ({name})"
        for other in set(flags.values()) - own:
            # another command's spelling may stand only in the Aliases line (restore keeps
            # accepting --target-db, the option table's old word, as an alias of --to-db)
            assert not _mentions(help_text.split("\nAliases: ")[0], other), \
                f"{command} --help names {name} {other}, not its own {flags[command]}"
        for alias in aliases:
            assert f"{alias} for {flags[command].split()[0]}" in help_text.split("Aliases: ")[-1], \
                f"{command} --help does not list {alias} as an alias of {flags[command]}"
        if command == "restore" and name in ("target", "target_db", "target_collection"):
            assert flags[command].startswith("--to"), (name, flags)
    if command == "restore":
        aliases = help_text.split("Aliases: ")[-1]
        for alias, flag in (("--target", "--to"), ("--target-db", "--to-db"),
                            ("--target-collection", "--to-collection")):
            assert f"{alias} for {flag}" in aliases, aliases
    if command in ("replicate", "restore"):
        assert rows["write_mode"][1][command] == "--mode"
        assert rows["write_mode"][2] == ["--write-mode"]


def test_readme_says_what_setup_needs_and_where_the_command_is():
    top = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    for needed in ("Debian", "`apt`", "root", "Go", "Node >= 18", "network", "`build/cosmocopy`",
                   "cmake --install build --prefix", "bin/cosmocopy"):
        assert needed in top, f"the README's opening does not say {needed!r}"


@pytest.mark.parametrize("command", sorted(SPECIAL_FLAGS))
def test_help_names_flags_not_option_names(cosmocopy_bin, command):
    """The option table's docs name options for C callers (block_size); --help says the flag."""
    help_text = subprocess.run([cosmocopy_bin, command, "--help"], capture_output=True, text=True,
                               check=True).stdout
    internal = re.findall(r"\boption [a-z_]+\b|(?<![\w$-])[a-z]+_[a-z_]+\b", help_text)
    assert not internal, f"{command} --help names {internal}"
