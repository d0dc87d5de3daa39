"""The option table, and keyword arguments turned into engine options.

The keywords a function takes come from the engine's option table (``options()``): every
option's own name, and the spelling the command line gives it for that command with ``-`` as
``_`` (``backup(to=...)`` as ``cosmocopy backup --to``, ``restore(to_db=...)``). ``from`` is a
Python keyword: write ``from_``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from ._native import api as _e

COMMANDS = ("backup", "replicate", "restore", "verify")
_TYPES = ("string", "strings", "int", "duration", "time", "enum")


@dataclass(frozen=True)
class Option:
    """One row of the engine's option table.

    Attributes:
        name: the option's name, also a keyword argument (``batch_size``).
        type: ``"string"``, ``"strings"`` (repeatable: give a list), ``"int"``, ``"duration"``
            (``"4h"``, seconds, or a ``timedelta``), ``"time"`` (``"2026-01-01T00:00:00Z"``,
            ``"-4h"``, a ``datetime``) or ``"enum"``.
        default: the default's text, or ``None``.
        min, max: bounds of an int or duration (seconds).
        choices: the values of an enum (``("no", "yes")`` options also take ``False``/``True``).
        secret: the value may hold a secret; it is never shown.
        doc: one line for a person.
        commands: the commands it applies to.
        keywords: per command, the keyword arguments that set it.
    """

    name: str
    type: str
    default: str | None
    min: int
    max: int
    choices: tuple[str, ...]
    secret: bool
    doc: str
    commands: tuple[str, ...]
    keywords: Mapping[str, tuple[str, ...]]

    def __repr__(self) -> str:
        return f"Option({self.name!r}, type={self.type!r}, default={self.default!r})"


def _flag_entries(flags: str | None, command: str) -> list[str]:
    """The command-line flags (without dashes, '-' as '_') that spell an option in a command."""
    out = []
    for entry in (flags or "").split(";"):
        entry = entry.strip().lstrip("~")
        if not entry:
            continue
        scope, sep, rest = entry.partition(":")
        if sep and not scope.startswith("--"):
            if command not in scope.split():
                continue
            entry = rest.strip()
        flag = entry.split()[0]
        if flag.startswith("--"):
            out.append(flag[2:].replace("-", "_"))
    return out


@functools.cache
def table() -> tuple[Option, ...]:
    rows = []
    raw = [_e.ccopy_option_get_info(i) for i in range(_e.ccopy_option_count())]
    for info in raw:
        commands = tuple((info.commands or "").split())
        keywords = {}
        for command in commands:
            names = [info.name] + [f for f in _flag_entries(info.flags, command) if f != info.name]
            keywords[command] = tuple(dict.fromkeys(names))
        rows.append(Option(
            name=info.name, type=_TYPES[info.type], default=info.default_value,
            min=int(info.min), max=int(info.max),
            choices=tuple(info.choices.split("|")) if info.choices else (),
            secret=bool(info.secret), doc=info.doc or "", commands=commands,
            keywords=keywords))
    return tuple(rows)


@functools.cache
def keywords(command: str) -> dict[str, tuple[Option, ...]]:
    """keyword -> the options it may set in this command (in table order; the first that
    takes the value wins, as on the command line)."""
    by_kw: dict[str, list[Option]] = {}
    rows = [o for o in table() if command in o.commands]
    for o in rows:  # an option's own name first, then the command's spellings
        by_kw.setdefault(o.name, []).append(o)
    for o in rows:
        for kw in o.keywords[command][1:]:
            if o not in by_kw.setdefault(kw, []):
                by_kw[kw].append(o)
    return {kw: tuple(opts) for kw, opts in by_kw.items()}


def _is_server_uri(value: Any) -> bool:
    """A MongoDB connection string, or a Key Vault reference to one (``kv://...``, or a secret's
    URL in a vault: ``https://VAULT.vault.azure.net/secrets/...``), as the command line tells a
    replica from a backup."""
    if not isinstance(value, str):
        return False
    if value.startswith(("mongodb://", "mongodb+srv://")) or value.lower().startswith("kv://"):
        return True
    if value.startswith("https://"):
        host, _, path = value[len("https://"):].partition("/")
        return ".vault." in host and path.startswith("secrets/")
    return False


def _takes(option: Option, value: Any, alternatives: int) -> bool:
    if alternatives == 1:
        return True
    if option.type == "enum":
        return _text_or_none(option, value) in option.choices
    if option.name == "sink":  # verify's --backup is a backup, or a replica's server
        return not _is_server_uri(value)
    return True


def _text_or_none(option: Option, value: Any) -> str | None:
    try:
        return _texts(option, value, "")[0]
    except (errors.UsageError, IndexError):
        return None


def _seconds(value: _dt.timedelta) -> int:
    return int(value.total_seconds())


def _time_text(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        value = value.astimezone(_dt.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"@{int(value)}"
    return str(value)


def _texts(option: Option, value: Any, where: str) -> list[str]:
    """The text(s) of a Python value for an option; UsageError when the type cannot fit."""
    t = option.type
    if t == "strings":
        if isinstance(value, (str, os.PathLike)):
            return [os.fspath(value)]
        if isinstance(value, Iterable):
            items = list(value)
            if not all(isinstance(v, str) for v in items):
                raise errors.UsageError(f"{where}: give a name or a list of names")
            return items
        raise errors.UsageError(f"{where}: give a name or a list of names, not {type(value).__name__}")
    if isinstance(value, bool):
        if t == "enum" and set(option.choices) == {"no", "yes"}:
            return ["yes" if value else "no"]
        raise errors.UsageError(f"{where}: True/False only fits yes/no options")
    if t == "duration":
        if isinstance(value, _dt.timedelta):
            return [f"{_seconds(value)}s" if _seconds(value) else "0"]
        if isinstance(value, int):
            return [f"{value}s" if value else "0"]
    if t == "time":
        return [_time_text(value)]
    if t == "int" and isinstance(value, int):
        return [str(value)]
    if option.name == "sink" and isinstance(value, os.PathLike):
        return ["dir:" + os.fspath(value)]
    if isinstance(value, (str, int)):
        return [str(value)]
    raise errors.UsageError(f"{where}: {type(value).__name__} is not a value for {option.name}")


def _where(command: str, keyword: str, option: Option, value: Any) -> str:
    shown = "****" if option.secret else repr(value)
    return f"{command}({keyword}={shown})"


def build(command: str, kwargs: Mapping[str, Any]) -> tuple[_e.ccopy_options_t, dict[str, str]]:
    """Engine options from keyword arguments, and for each option set the keyword that set it.

    Raises UsageError naming the argument: unknown, not for this command, given twice, or a
    value the option refuses (the engine's own check, which names the bound or the choices).
    """
    known = keywords(command)
    opts = _e.ccopy_options_t()
    set_by: dict[str, str] = {}
    kwargs = _modes(command, kwargs)
    for raw_kw, value in kwargs.items():
        kw = "from" if raw_kw == "from_" else raw_kw
        if value is None:
            continue
        candidates = known.get(kw)
        if not candidates:
            raise _unknown(command, raw_kw)
        option = next((o for o in candidates if _takes(o, value, len(candidates))), candidates[0])
        shown = raw_kw
        if option.name in set_by:
            raise errors.UsageError(
                f"{command}(): {shown} and {set_by[option.name]} both set {option.name}; give one")
        where = _where(command, shown, option, value)
        err = _e.ccopy_error_t()
        for text in _texts(option, value, where):
            if _e.ccopy_options_set(opts, option.name, text, err) != 0:
                message = err.message
                prefix = f"option {option.name}: "
                if message.startswith(prefix):
                    message = message[len(prefix):]
                raise errors.UsageError(f"{where}: {message}", code=err.code, cause=err.cause)
        set_by[option.name] = shown
    return opts, set_by


def _modes(command: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """As on the command line: ``full=True`` and ``incremental=True`` choose the mode, and a
    start (``from_``) makes a backup or replicate a range (``mode="range"``)."""
    out = dict(kwargs)
    if command not in ("backup", "replicate"):
        return out
    chosen: dict[str, str] = {}  # mode -> the argument that chose it
    for switch in ("full", "incremental"):
        if switch in out:
            value = out.pop(switch)
            if not isinstance(value, bool):
                raise errors._UnknownArgument(f"{command}({switch}={value!r}): give True or False")
            if value:
                chosen.setdefault(switch, f"{switch}=True")
    if out.get("from_", out.get("from")) is not None:
        chosen.setdefault("range", "from_=")
    if isinstance(out.get("mode"), str):
        chosen.setdefault(out["mode"], f"mode={out['mode']!r}")
    if len(chosen) > 1:
        raise errors.UsageError(f"{command}(): {' and '.join(chosen.values())} choose different "
                                "modes; give one of full=True, incremental=True or from_=T "
                                "with until=T")
    if chosen and out.get("mode") is None:
        out["mode"] = next(iter(chosen))
    return out


def from_argument(function: str, from_: Any, kwargs: dict[str, Any]) -> Any:
    """``from_``, or ``**{"from": ...}`` (``from`` is a Python keyword); any other leftover
    keyword is refused as Python refuses an unexpected one."""
    if "from" in kwargs:
        if from_ is not None:
            raise errors.UsageError(f"{function}(): from_ and from both given; give one")
        from_ = kwargs.pop("from")
    if kwargs:
        name = next(iter(kwargs))
        raise errors._UnknownArgument(f"{function}() got an unexpected keyword argument {name!r}")
    return from_


def _unknown(command: str, kw: str) -> errors.Error:
    import difflib

    everywhere = {k for c in COMMANDS for k in keywords(c)}
    if kw in everywhere or (kw == "from_" and "from" in everywhere):
        users = [c for c in COMMANDS if kw in keywords(c) or (kw == "from_" and "from" in keywords(c))]
        return errors._UnknownArgument(
            f"{command}() does not take {kw}= (it is for {', '.join(users)})")
    close = difflib.get_close_matches(kw, list(keywords(command)), n=1)
    hint = f" (did you mean {close[0]}=?)" if close else ""
    return errors._UnknownArgument(f"{command}() got an unexpected keyword argument {kw!r}{hint}")


def keyword_for(command: str, name: str) -> str:
    """The keyword a person would use for option `name` in `command`: the command's own
    spelling when it sets that option (``to`` for backup's sink), else the option's name."""
    known = keywords(command)
    for o in table():
        if o.name == name and command in o.commands:
            for kw in o.keywords[command][1:] + (name,):
                if known.get(kw, (None,))[0] is o:
                    return "from_" if kw == "from" else kw
    return "from_" if name == "from" else name


def rename_in_message(message: str, command: str, set_by: Mapping[str, str]) -> str:
    """The engine names options ("option sink is required"); say the keyword argument the
    caller used or would use instead ("to= is required")."""
    import re

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if not any(o.name == name for o in table()):
            return m.group(0)
        kw = set_by.get(name) or keyword_for(command, name)
        return f"{'from_' if kw == 'from' else kw}="

    return re.sub(r"\boption (\w+)", sub, message)
