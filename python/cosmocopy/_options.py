"""The option table, and keyword arguments turned into engine options.

The keywords a function takes come from the engine's option table (``options()``): every
option's own name, and the spelling the command line gives it for that command with ``-`` as
``_`` (``backup(to=...)`` as ``cosmocopy backup --to``, ``restore(to_db=...)``). ``from`` is a
Python keyword: write ``from_``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import os
from collections.abc import Callable, Iterable, Mapping
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
            (``"4h"``, whole seconds, or a ``timedelta`` of whole seconds), ``"time"``
            (``"2026-01-01T00:00:00Z"``, ``"-4h"``, a ``datetime``, epoch seconds) or ``"enum"``.
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


def _takes(option: Option, value: Any, candidates: tuple[Option, ...]) -> bool:
    if len(candidates) == 1:
        return True
    if option.type == "enum":
        return _text_or_none(option, value) in option.choices
    if option.name == "sink" and any(o.name == "until" for o in candidates):
        return _names_destination(value)  # backup's to: the destination or the range's end
    if option.name == "sink":  # verify's --backup is a backup, or a replica's server
        return not _is_server_uri(value)
    return True


def _names_destination(value: Any) -> bool:
    """As ``backup --to``: a path or a destination's form (dir:, a URL) is the destination; a
    time (a datetime, a number, a text the engine reads as a time) is the end of the range;
    anything else is taken as a destination, whose message then says what is wrong."""
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str):
        return isinstance(value, (bytes, bool)) or not isinstance(value, (int, float, _dt.date))
    if value.startswith("dir:") or "://" in value:
        return True
    err = _e.ccopy_error_t()
    scratch = _e.ccopy_options_t()
    return "\0" in value or _e.ccopy_options_set(scratch, "until", value, err) != 0


def _text_or_none(option: Option, value: Any) -> str | None:
    try:
        return _texts(option, value, "")[0]
    except (errors.UsageError, IndexError):
        return None


# Times are seconds in an int64_t in the engine; past this no text it parses can say one.
_INT64_MAX = 2**63 - 1
_EPOCH = "1970-01-01T00:00:00Z"
_LAST_OID_SECOND = "the last second an ObjectId can hold (2106-02-07T06:28:15Z)"


def _whole_seconds(value: Any, where: str) -> int | None:
    """The whole seconds of a duration given as an int or a timedelta, None for other types.
    The engine counts durations in whole seconds: a fraction is refused, not dropped."""
    if isinstance(value, _dt.timedelta):
        whole, rest = divmod(value, _dt.timedelta(seconds=1))
        if rest:
            raise errors.UsageError(f"{where}: a duration is whole seconds; "
                                    f"{value.total_seconds():g}s is not")
        return int(whole)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        raise errors.UsageError(f"{where}: a duration is whole seconds (an int), a timedelta or "
                                "a text such as \"4h\", not float")
    return None


def c_text(text: str, where: str) -> str:
    """``text`` as the engine can take it (a C string: UTF-8, no NUL, which would cut it short
    silently); UsageError naming ``where`` otherwise."""
    if "\x00" in text:
        raise errors.UsageError(f"{where}: the text holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise errors.UsageError(f"{where}: the text is not valid Unicode (a lone surrogate)"
                                ) from None
    return text


def _check_bounds(option: Option, value: int, where: str) -> None:
    """The bounds of an int or duration option, as the engine words them (checked here so that
    a number too large for the engine's parser is refused for what it is)."""
    unit = "s" if option.type == "duration" else ""
    if value < option.min:
        raise errors.UsageError(f"{where}: {value}{unit} is below the minimum {option.min}{unit}")
    if value > option.max:
        raise errors.UsageError(f"{where}: {value}{unit} is above the maximum {option.max}{unit}")


def _time_text(value: Any, where: str) -> str:
    """The engine's text of a time given as a datetime (naive: UTC), a date, epoch seconds (a
    fraction dropped, as a datetime's microseconds are) or a text; UsageError naming ``where``
    for a number or datetime no time can be."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        try:
            value = value.astimezone(_dt.timezone.utc)
        except OverflowError:
            raise errors.UsageError(
                f"{where}: before {_EPOCH}" if value.year < 1970 else
                f"{where}: after {_LAST_OID_SECOND}") from None
        return f"{value.year:04d}-{value:%m-%dT%H:%M:%S}Z"
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise errors.UsageError(f"{where}: epoch seconds must be a finite number, "
                                    f"not {value!r}")
        seconds = math.floor(value)
        if seconds < 0:
            raise errors.UsageError(f"{where}: negative epoch seconds are before {_EPOCH}")
        if seconds > _INT64_MAX:
            raise errors.UsageError(f"{where}: after {_LAST_OID_SECOND}")
        return f"@{seconds}"
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
        seconds = _whole_seconds(value, where)
        if seconds is not None:
            _check_bounds(option, seconds, where)
            return [f"{seconds}s" if seconds else "0"]
    if t == "time":
        return [_time_text(value, where)]
    if t == "int" and isinstance(value, int):
        _check_bounds(option, value, where)
        return [str(value)]
    if t == "int" and isinstance(value, float):
        raise errors.UsageError(f"{where}: {option.name} takes a whole number (an int), not float")
    if option.name == "sink" and isinstance(value, os.PathLike):
        return ["dir:" + os.fspath(value)]
    if option.name.endswith("_file") and isinstance(value, os.PathLike):
        return [os.fspath(value)]  # tls_ca_file, https_ca_file: a path as open_backup takes
    if isinstance(value, (str, int)):
        return [str(value)]
    raise errors.UsageError(f"{where}: {type(value).__name__} is not a value for {option.name}")


def _where(command: str, keyword: str, option: Option, value: Any) -> str:
    shown = "****" if option.secret else repr(value)
    return f"{command}({keyword}={shown})"


@dataclass(frozen=True)
class Given:
    """An option set by a keyword argument: the keyword as written (``from_``), how messages
    show the argument (``backup(source=****)``: a secret option's value never) and the text
    the engine was given (the first, for a repeatable option)."""

    keyword: str
    where: str
    text: str


def _refuse(message: str, keyword: str, where: str, code: int | None = None,
            cause: int = 0) -> errors.UsageError:
    return errors.named(errors.UsageError(f"{where}: {message}", code=code, cause=cause),
                        {where: keyword})


def build(command: str, kwargs: Mapping[str, Any]) -> tuple[_e.ccopy_options_t, dict[str, Given]]:
    """Engine options from keyword arguments, and for each option set, what set it.

    Raises UsageError naming the argument: unknown, not for this command, given twice, or a
    value the option refuses (the engine's own check, which names the bound or the choices).
    """
    known = keywords(command)
    opts = _e.ccopy_options_t()
    given: dict[str, Given] = {}
    kwargs = _modes(command, kwargs)
    for raw_kw, value in kwargs.items():
        kw = "from" if raw_kw == "from_" else raw_kw
        if value is None:
            continue
        candidates = known.get(kw)
        if not candidates:
            raise _unknown(command, raw_kw)
        option = next((o for o in candidates if _takes(o, value, candidates)), candidates[0])
        if option.name in given:
            raise errors.UsageError(f"{command}(): {raw_kw} and {given[option.name].keyword} "
                                    f"both set {option.name}; give one")
        where = _where(command, raw_kw, option, value)
        try:
            texts = [c_text(text, where) for text in _texts(option, value, where)]
        except errors.UsageError as e:
            raise errors.named(e, {where: raw_kw}) from None
        err = _e.ccopy_error_t()
        for text in texts:
            if _e.ccopy_options_set(opts, option.name, text, err) != 0:
                message = err.message
                prefix = f"option {option.name}: "
                if message.startswith(prefix):
                    message = message[len(prefix):]
                raise _refuse(message, raw_kw, where, err.code, err.cause)
        given[option.name] = Given(raw_kw, where, texts[0] if texts else "")
    until = given.get("until")
    if command == "backup" and "sink" not in given and until and until.keyword == "to":
        # backup(to=T) alone: to= read as the range's end, and no destination is left
        raise _refuse("a time: the end of the range (as backup --to T); the destination is "
                      "missing: give it as sink= or to= (dir:PATH, azblob://CONTAINER[/PREFIX] or "
                      "a container URL with a SAS)", "to", until.where)
    return opts, given


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


def from_argument(function: str, from_: Any, kwargs: dict[str, Any],
                  takes: Callable[..., Any] | None = None) -> Any:
    """``from_``, or ``**{"from": ...}`` (``from`` is a Python keyword); any other leftover
    keyword is refused as Python refuses an unexpected one (see ``no_other_arguments``)."""
    if "from" in kwargs:
        if from_ is not None:
            raise errors.UsageError(f"{function}(): from_ and from both given; give one")
        from_ = kwargs.pop("from")
    no_other_arguments(function, kwargs, takes)
    return from_


def no_other_arguments(function: str, kwargs: Mapping[str, Any],
                       takes: Callable[..., Any] | None = None) -> None:
    """Refuse the first of ``kwargs`` as Python refuses an unexpected keyword (a TypeError,
    here also a UsageError), with a did-you-mean among the keywords ``takes`` has."""
    if not kwargs:
        return
    import difflib
    import inspect

    name = next(iter(kwargs))
    known = [] if takes is None else [
        p.name for p in inspect.signature(takes).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}=?)" if close else ""
    raise errors._UnknownArgument(f"{function}() got an unexpected keyword argument {name!r}{hint}")


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


def location_problem(location: str) -> str | None:
    """The engine's reason a backup's location (dir:PATH, azblob://..., a container URL) is not
    one, or None, without the engine's "option sink: " (a location is the sink of one command,
    the backup of another: the caller names its own argument)."""
    opts = _e.ccopy_options_t()
    err = _e.ccopy_error_t()
    for name, text in (("source", "mongodb://127.0.0.1/"), ("db", "db"), ("sink", location)):
        if _e.ccopy_options_set(opts, name, text, err) != 0:
            return str(err.message).removeprefix("option sink: ")
    job = _e.cosmocopy_job_new(0, opts, err)  # a backup's checks, nothing contacted
    if job is None:
        return str(err.message).removeprefix("option sink: ")
    del job
    return None


def explain(message: str, command: str, given: Mapping[str, Given]) -> tuple[str, dict[str, str]]:
    """The engine names options ("option source: malformed connection string", "option sink is
    required"); say the keyword argument the caller used or would use instead
    ("backup(source=****): malformed connection string", "to= is required"). A location's own
    reason (``unsupported destination ...``) gets the argument that gave it. Returns the message
    and, for each text now naming an argument in it, that argument's keyword."""
    import re

    names: dict[str, str] = {}
    known = {o.name for o in table()}

    def keyword(name: str) -> str:
        g = given.get(name)
        return g.keyword if g else keyword_for(command, name)

    def prefix(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in known or name not in given:
            return m.group(0)
        names[given[name].where] = given[name].keyword
        return f"{given[name].where}: "

    def mention(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in known:
            return m.group(0)
        kw = keyword(name)
        names[f"{kw}="] = kw
        return f"{kw}="

    message = re.sub(r"\boption (\w+): ", prefix, message)
    message = re.sub(r"\boption (\w+)", mention, message)
    sink = given.get("sink")
    if not names and sink is not None and location_problem(sink.text) == message:
        names[sink.where] = sink.keyword
        message = f"{sink.where}: {message}"
    return message, names
