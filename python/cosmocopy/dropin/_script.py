"""What the two drop-in scripts share: the argparse parser built from an option table, the
checks made before anything is touched, the Key Vault references, the run and its report.

Bad input exits 2 before any server is contacted: argparse's own errors, an ``-incr`` other than
``yes`` (the original's message), a ``-vault`` that is not an https URL, a secret name Key Vault
would not accept. The service principal goes to the engine through the environment
(``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``), never into a message: the
client secret is masked in argparse's errors too.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

import cosmocopy

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# The original's words for an -incr other than "yes" (it printed them and exited 1, but only
# after creating the Data Factory objects; here nothing has been touched yet).
INCREMENTAL_MESSAGE = "Set incremental to yes for this script to work properly"

# The window of the original's "-incr yes" (the last 240 minutes); here windows are cut at
# multiples of it since the epoch and the catalog says which are done.
STEP = "4h"

# Key Vault secret names: 1 to 127 letters, digits and dashes.
_SECRET_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")

# The options of the original scripts that drove Data Factory: accepted, not used.
_FACTORY_OPTIONS = (("-s", "subscription"), ("-g", "resourcegroup"), ("-d", "datafactory"),
                    ("-irid", "integrationruntime"))

COMMON_EPILOG = """\
A drop-in for the Azure Data Factory script of the same name, run by cosmocopy: no Data
Factory is used, so -s, -g, -d and -irid are accepted and ignored. Both connection strings
are read from the Key Vault (-vault) with the service principal given (-tenantid, -clientid,
-clientsecret), and only with it. -incr yes copies what was created since the last completed
4-hour window (a late, failed or skipped run leaves no gap); without -incr the copy is full.
Both stop 10 minutes before now (the settle lag): the next run copies the rest.

Exit status: 0 copied, 1 the copy failed, 2 bad input (nothing touched), 130 interrupted
(completed windows are kept; the next run continues)."""


@dataclass(frozen=True)
class Option:
    """One option of an original script, as its argparse call had it (no default, no type)."""

    short: str
    long: str
    help: str
    required: bool = True


@dataclass(frozen=True)
class SecretRefs:
    """The Key Vault references of the two connection strings, as the engine reads them."""

    source: str
    sink: str


class _Parser(argparse.ArgumentParser):
    """argparse, with the client secret masked in its error messages (an unrecognised argument
    is echoed back, and a mistyped -clientsecret makes its value one)."""

    hidden: Sequence[str] = ()
    options: tuple[Option, ...] = ()

    def error(self, message: str) -> NoReturn:
        super().error(mask(message, self.hidden))


# A secret this long is masked wherever it appears; a shorter one (a test value, a typo) only
# where it stands alone, so that "y" does not turn "empty" into "empt****".
_MASK_ANYWHERE = 8


def mask(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ****."""
    for secret in secrets:
        if len(secret) >= _MASK_ANYWHERE:
            text = text.replace(secret, "****")
        elif secret:
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", "****", text)
    return text


def client_secret_values(argv: Sequence[str]) -> list[str]:
    """The values given to anything that looks like -clientsecret (any abbreviation, ambiguous
    ones too, which argparse echoes whole: ``--client=S`` "could match --clientid,
    --clientsecret"; any number of dashes; a typo after "clients"), with a space or "="."""
    values = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        typed = name.lstrip("-").lower()
        if not name.startswith("-") or not typed or not (
                typed.startswith("clients") or "clientsecret".startswith(typed)):
            continue
        if eq:
            values.append(value)
        elif i + 1 < len(argv):
            values.append(argv[i + 1])
    return values


def make_parser(options: Sequence[Option], what: str) -> argparse.ArgumentParser:
    """The original's parser: same description, option strings, help texts and required
    flags, in the same order (so the usage line and the abbreviations are the same)."""
    parser = _Parser(description="Parses command.", epilog=what + "\n\n" + COMMON_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for o in options:
        parser.add_argument(o.short, o.long, help=o.help, required=o.required)
    parser.options = tuple(options)
    return parser


# A host name (labels of letters, digits and inner hyphens) or an IPv4 address, and a port.
_LABEL = r"[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?"
_NETLOC = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")


def vault_base(text: str) -> str:
    """``https://NAME.vault.azure.net`` from the -vault value (a trailing slash allowed);
    ValueError when it is not an https URL of a host alone."""
    bad = ValueError(f"argument -vault/--vaulturl: {text!r} is not a Key Vault URL "
                     "(https://NAME.vault.azure.net)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise bad from None
    if (parts.scheme != "https" or not parts.hostname or port == 0
            or not _NETLOC.fullmatch(parts.netloc)
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise bad
    return f"https://{parts.netloc}"


def secret_ref(vault: str, name: str, flag: str) -> str:
    if not _SECRET_NAME.fullmatch(name):
        raise ValueError(f"argument {flag}: {name!r} is not a Key Vault secret name "
                         "(1 to 127 letters, digits and dashes)")
    return f"{vault}/secrets/{name}"


def check(args: argparse.Namespace, options: Sequence[Option] = ()) -> SecretRefs:
    """Everything decided without a server. ValueError with the message for bad input: an
    empty value of a required option (an unset variable in a cron line) is one, and would
    otherwise leave the service principal incomplete, which no credential may stand in for."""
    if args.incremental is not None and args.incremental != "yes":
        raise ValueError(INCREMENTAL_MESSAGE)
    vault = vault_base(args.vaulturl)
    refs = SecretRefs(
        source=secret_ref(vault, args.secretnameforsourceconnectionstring,
                          "-sourcesecret/--secretnameforsourceconnectionstring"),
        sink=secret_ref(vault, args.secretnameforsinkconnectionstring,
                        "-sinksecret/--secretnameforsinkconnectionstring"))
    ignored = {flag for flag, _ in _FACTORY_OPTIONS}
    for o in options:
        value = getattr(args, o.long.lstrip("-"), None)
        if o.required and o.short not in ignored and value is not None and not value.strip():
            raise ValueError(f"argument {o.short}/{o.long}: expected a value, got an empty one")
    return refs


def job_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments both scripts give: the mode (4-hour windows, incremental or full)
    and the credential, which is the service principal given and nothing else (never the
    machine's managed identity instead)."""
    mode = {"incremental": True} if args.incremental == "yes" else {"full": True}
    return {**mode, "step": STEP, "azure_credential": "environment"}


def use_service_principal(args: argparse.Namespace) -> None:
    """Hand the service principal to the engine, which asks for a Key Vault token with it."""
    os.environ["AZURE_TENANT_ID"] = args.tenantid
    os.environ["AZURE_CLIENT_ID"] = args.clientid
    os.environ["AZURE_CLIENT_SECRET"] = args.clientsecret


class ProgressLine:
    """A live progress line on a terminal (stderr), at most ten updates a second."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.width = 0

    def __call__(self, p: cosmocopy.Progress) -> None:
        line = (f"{p.phase}: {p.windows_done}/{p.windows_total} windows, "
                f"{p.documents} documents, {p.bytes / 1e6:.1f} MB")
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(line))

    def end(self) -> None:
        if self.width:
            self.stream.write("\n")
            self.stream.flush()


def in_flags(error: BaseException, flags: Mapping[str, str]) -> str:
    """The error's message with each argument it names (``backup(source=****)``,
    ``target_db=``) called by the script's own flag (``-sourcesecret``, ``-sinkdb``): the
    person ran the script, not the Python function."""
    text = str(error)
    named: Mapping[str, str] = getattr(error, "_arguments", {})
    for shown, keyword in named.items():
        if keyword in flags:
            text = text.replace(shown, flags[keyword])
    # a refused client secret is -clientsecret's, whichever secret was being read with it, an
    # unknown tenant -tenantid's and an unknown client -clientid's
    for flag in set(flags.values()):
        for words, own in (("Entra ID refused the client secret", "-clientsecret"),
                           ("Entra ID knows no tenant", "-tenantid"),
                           ("Entra ID knows no client", "-clientid")):
            text = text.replace(f"{flag}: {words}", f"{own}: {words}")
    # a vault that is not there is -vault's, whichever secret was being read from it
    text = re.sub(r"-\w+: (Key Vault [^\s:]+: host not found)", r"-vault: \1", text)
    # what a keyword the script has no flag for would do, said as its user can do it
    text = text.replace("(https_ca_file= names the CA bundle",
                        "(the environment variable SSL_CERT_FILE names the CA bundle")
    text = text.replace("(azure_credential= is environment)",
                        "(the service principal of -tenantid, -clientid and -clientsecret)")
    return re.sub(r" \((\w+)= creates it\)",
                  lambda m: m.group(0) if m.group(1) in flags else " (create it first)", text)


def report(result: cosmocopy.Result | None, written: str, error: BaseException | None,
           secrets: Sequence[str], flags: Mapping[str, str]) -> None:
    """The original's closing facts (status, bytes read and written, copy duration), plus
    documents and the windows this run covered."""
    print(f"\tCopy status: {'Succeeded' if error is None else 'Failed'}")
    if result is not None:
        print(f"\tNumber of documents read: {result.get('documents_read', 0)}")
        print(f"\tNumber of bytes read: {result.bytes}")
        print(f"\tNumber of bytes written: {result.get(written, 0)}")
        print(f"\tCopy duration: {float(result.get('elapsed_seconds', 0.0)):.1f} s")
        print(f"\tWindows: {result.windows_written} copied, {result.windows_already_complete}"
              f" already complete{_covered(result)}")
    if error is not None:
        print(f"\tErrors: {mask(in_flags(error, flags), secrets)}")
    sys.stdout.flush()


def _covered(result: cosmocopy.Result) -> str:
    starts = [str(c["range_start"]) for c in result.collections if c.get("range_start")]
    ends = [str(c["range_end"]) for c in result.collections if c.get("range_end")]
    if not starts or not ends:
        return ""
    return f" ({STEP} each, {min(starts)} to {max(ends)})"


def main(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
         copy: Callable[..., cosmocopy.Result], written: str, flags: Mapping[str, str]) -> int:
    """Parse, check, run ``copy(args, refs, progress)`` and report; the exit status. ``flags``:
    for each keyword argument ``copy`` gives, the script's option that says it, as errors
    name it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = parser.prog
    secrets = client_secret_values(argv)
    if isinstance(parser, _Parser):
        parser.hidden = secrets
    progress: ProgressLine | None = None
    try:
        args = parser.parse_args(argv)
        secrets.append(args.clientsecret)
        try:
            refs = check(args, parser.options if isinstance(parser, _Parser) else ())
        except ValueError as e:
            parser.error(str(e))
        given = [flag for flag, dest in _FACTORY_OPTIONS if getattr(args, dest) is not None]
        if given:
            print(f"{prog}: {', '.join(given)}: not needed, ignored (no Data Factory is used)",
                  file=sys.stderr)
        _log_to_stderr(prog, secrets)
        use_service_principal(args)
        progress = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
        try:
            result = copy(args, refs, progress)
        finally:
            if progress is not None:
                progress.end()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the windows completed are kept and the next run "
              "continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    except cosmocopy.UsageError as e:
        print(f"{prog}: error: {mask(in_flags(e, flags), secrets)}", file=sys.stderr)
        return EXIT_USAGE
    except cosmocopy.Error as e:
        report(e.result, written, e, secrets, flags)
        return EXIT_FAILED
    report(result, written, None, secrets, flags)
    return EXIT_OK


class _MaskingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Sequence[str]) -> None:
        super().__init__(fmt)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record), self.secrets)


def _log_to_stderr(prog: str, secrets: Sequence[str]) -> None:
    """The engine's warnings and errors (retries are info) as lines on stderr."""
    logger = logging.getLogger("cosmocopy")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_MaskingFormatter(f"{prog}: %(message)s", secrets))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
