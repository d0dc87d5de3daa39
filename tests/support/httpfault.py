"""An HTTP/1.1 reverse proxy that injects Azure Blob Storage faults in front
of Azurite: 503 ServerBusy with Retry-After, 500 OperationTimedOut, lost
replies, dropped connections, slow replies and stalled requests.

    with HttpFaultProxy(upstream_port=az.port, seed=7, rules=[
            FaultRule("server_busy", method="PUT", query="comp=block", on={2, 3}),
            FaultRule("drop_reply", query="comp=blocklist", rate=0.5)]) as proxy:
        run_cosmocopy("backup", ..., "--blob-connection-string", proxy.connection_string)
        proxy.configure(rules=[])               # thread-safe, next request on
        print(proxy.counters())

It runs an asyncio loop in a daemon thread and listens on 127.0.0.1 (a free
port unless ``port=``). Requests are read whole (Content-Length or chunked
bodies; blocks are a few MiB at most) and forwarded with their request line
and header bytes unchanged, Host included: Shared Key signatures cover the
headers, so not a byte may move. Client connections are kept alive; each
forwarded request opens its own upstream connection, so Azurite's idle
timeout (5 s) never races a reused socket. ``Expect: 100-continue`` is
answered by the proxy (a fault that forwards nothing replies at once and
closes instead, as a server that refuses the body does); the upstream's own
``100 Continue`` is not relayed.

Rules (``FaultRule``) are checked in order for every request; each rule
counts the requests it matches (1-based ordinals) and fires on the listed
ordinals (``on``) or by ``rate`` (1.0: always; one seeded RNG for the proxy, drawn for
every matching request of a rule with a rate). The first rule that fires
decides the request; later rules still count it. ``configure()`` and
``reset_counters()`` restart the ordinals and re-seed the RNG.

Matching: ``method`` (exact, e.g. ``PUT``), ``query`` (parameters that must
all be present with these values, e.g. ``comp=block`` or
``restype=container&comp=list``; ``comp`` alone: present with any value;
compared parameter by parameter because ``comp=block`` is a substring of
``comp=blocklist``), ``path`` (a substring of the decoded URL path, e.g.
``.manifest.json``). A rule with none of them matches every request.

Faults (``FaultRule.fault``):
    server_busy          503, ``x-ms-error-code: ServerBusy``, ``Retry-After:
                         <retry_after>`` (omitted when None), XML error body;
                         not forwarded
    operation_timed_out  500 ``OperationTimedOut``, XML error body; not forwarded
    drop_reply           forwarded (the request is applied), then the
                         connection is closed in the middle of the reply's
                         body: the head is sent whole, then half the body;
                         a reply without a body (201 to a Put Block) is sent
                         with ``Content-Length: 1`` and no body. Both clients
                         see the reply cut short (libcurl: CURLE_PARTIAL_FILE;
                         http.client: IncompleteRead). Closing earlier would
                         hide the fault: libcurl 7.88 and http.client take
                         EOF inside the headers for their end and report the
                         status, and libcurl silently resends a request whose
                         reused connection closes before a complete status
                         line. A HEAD reply (no body by definition) is cut
                         after half its status line.
    drop_request         the request is read, then the connection is closed
                         without forwarding or replying a byte (on a reused
                         connection libcurl resends such a request once by
                         itself: the proxy sees, and counts, both)
    slow                 forwarded, the reply held back ``delay_ms`` ms
    stall                the request is read, then held ``delay_ms`` ms before
                         it is forwarded, as a request stuck on the way: the
                         server applies it late, and even when the client has
                         given up and closed by then (the reply then goes
                         nowhere)

Counters (``counters()``, a snapshot): requests (every request read),
forwarded, one count per fault name, statuses {"201": n} of the replies
sent (injected ones too), by_request {"PUT comp=block": {"requests",
"faults"}} keyed by method and the ``comp`` parameter (``PUT`` alone for
Put Blob), started_at and elapsed_s. ``requests_log()`` lists every request
(method, target, fault, status, at: the ``time.time()`` when its head was
read, forwarded_at: when it was sent on to the server, or None) since the
last reset.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import random
import threading
import time
import uuid
from typing import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from loopthread import LoopThreadServer

ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")

FAULTS = ("server_busy", "operation_timed_out", "drop_reply", "drop_request", "slow", "stall")
_NOT_FORWARDED = ("server_busy", "operation_timed_out", "drop_request")
_ERRORS = {  # fault -> (status, reason, x-ms-error-code, message)
    "server_busy": (503, "The server is busy.", "ServerBusy", "The server is busy."),
    "operation_timed_out": (500, "Operation could not be completed within the specified time.",
                            "OperationTimedOut",
                            "Operation could not be completed within the specified time."),
}
_LOG_LIMIT = 100_000


@dataclasses.dataclass(frozen=True)
class FaultRule:
    """One fault and the requests it applies to; see the module docstring."""

    fault: str
    method: str | None = None
    query: str | None = None
    path: str | None = None
    rate: float = 0.0
    on: frozenset[int] = frozenset()
    retry_after: int | None = 1  # seconds, server_busy only
    delay_ms: int = 0            # slow and stall only

    def __post_init__(self):
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r} (expected one of {', '.join(FAULTS)})")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate {self.rate} is not in [0, 1]")
        object.__setattr__(self, "on", frozenset(self.on))
        if any(n < 1 for n in self.on):
            raise ValueError(f"ordinals are 1-based: {sorted(self.on)}")
        if self.rate == 0 and not self.on:
            raise ValueError(f"a {self.fault} rule that never fires: give rate= or on=")
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())
        if self.fault in ("slow", "stall") and self.delay_ms <= 0:
            raise ValueError(f"a {self.fault} rule needs delay_ms > 0")

    def matches(self, method: str, path: str, params: list[tuple[str, str]]) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and self.path not in path:
            return False
        if self.query:
            have = {(k.lower(), v) for k, v in params}
            names = {k for k, _ in have}
            for part in self.query.split("&"):
                key, eq, value = part.partition("=")
                if eq and (key.lower(), value) not in have:
                    return False
                if not eq and key.lower() not in names:
                    return False
        return True


def _as_rule(rule) -> FaultRule:
    return rule if isinstance(rule, FaultRule) else FaultRule(**rule)


class _Closed(Exception):
    """The client connection is to be closed (a fault, or EOF)."""


@dataclasses.dataclass
class _Message:
    head: bytes      # start line and headers, with the final blank line
    body: bytes
    start: str       # the start line, decoded
    headers: dict[str, str]  # lower-cased names; the last value wins

    @property
    def raw(self) -> bytes:
        return self.head + self.body


class HttpFaultProxy(LoopThreadServer):
    """See the module docstring. Thread-safe: configure(), counters(),
    requests_log() and reset_counters() may be called from any thread."""

    THREAD_NAME = "httpfault"

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 10000, *,
                 port: int | None = None, host: str = "127.0.0.1",
                 account_name: str = ACCOUNT_NAME, account_key: str = ACCOUNT_KEY,
                 rules: Iterable[FaultRule | dict] = (), seed: int = 0):
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.account_name = account_name
        self.account_key = account_key
        self._host = host
        self._port = port or 0
        self._lock = threading.Lock()
        self._rules: tuple[FaultRule, ...] = tuple(_as_rule(r) for r in rules)
        self._seed = seed
        self._restart_faults()
        self._zero_counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------ public API
    @property
    def url(self) -> str:
        """The blob endpoint through the proxy: ``http://HOST:PORT/<account>``."""
        return f"http://{self._host}:{self._port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        """A connection string whose BlobEndpoint is the proxy."""
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
                f"AccountKey={self.account_key};BlobEndpoint={self.url};")

    def via(self, url: str) -> str:
        """``url`` (e.g. a SAS URL of the upstream) with host and port
        replaced by the proxy's; path and query unchanged."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"{self._host}:{self._port}"))

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._rules

    @property
    def seed(self) -> int:
        return self._seed

    def configure(self, *, rules: Iterable[FaultRule | dict] | None = None,
                  seed: int | None = None) -> None:
        """Replace the rules and/or the seed; ordinals restart, the RNG is re-seeded."""
        new_rules = None if rules is None else tuple(_as_rule(r) for r in rules)
        with self._lock:
            if new_rules is not None:
                self._rules = new_rules
            if seed is not None:
                self._seed = seed
            self._restart_faults()

    def counters(self) -> dict:
        with self._lock:
            snap = dict(self._counters)
            snap["statuses"] = dict(self._counters["statuses"])
            snap["by_request"] = {k: dict(v) for k, v in self._counters["by_request"].items()}
            snap["elapsed_s"] = time.monotonic() - self._started_mono
            return snap

    def requests_log(self) -> list[dict]:
        """Every request since the last reset: method, target (path and
        query as sent), fault (or None), status (None when no reply)."""
        with self._lock:
            return [dict(e) for e in self._log]

    def reset_counters(self) -> None:
        with self._lock:
            self._zero_counters()
            self._restart_faults()

    # ------------------------------------------------------------ state (under the lock)
    def _restart_faults(self) -> None:
        self._rng = random.Random(self._seed)
        self._ordinals = [0] * len(self._rules)

    def _zero_counters(self) -> None:
        self._started_mono = time.monotonic()
        self._counters = {"requests": 0, "forwarded": 0, **{f: 0 for f in FAULTS},
                          "statuses": {}, "by_request": {}, "started_at": time.time()}
        self._log: list[dict] = []

    def _decide(self, method: str, target: str) -> tuple[FaultRule | None, dict]:
        """The rule that fires for this request (or None), and its log entry,
        already counted."""
        parts = urlsplit(target)
        params = parse_qsl(parts.query, keep_blank_values=True)
        path = unquote(parts.path)
        comp = next((v for k, v in params if k.lower() == "comp"), None)
        kind = f"{method} comp={comp}" if comp is not None else method
        with self._lock:
            fired = None
            for i, rule in enumerate(self._rules):
                if not rule.matches(method, path, params):
                    continue
                self._ordinals[i] += 1
                hit = self._ordinals[i] in rule.on
                if rule.rate > 0 and self._rng.random() < rule.rate:
                    hit = True
                if hit and fired is None:
                    fired = rule
            c = self._counters
            c["requests"] += 1
            per = c["by_request"].setdefault(kind, {"requests": 0, "faults": 0})
            per["requests"] += 1
            if fired is not None:
                c[fired.fault] += 1
                per["faults"] += 1
            if fired is None or fired.fault not in _NOT_FORWARDED:
                c["forwarded"] += 1
            entry = {"method": method, "target": target,
                     "fault": fired.fault if fired else None, "status": None,
                     "at": time.time(), "forwarded_at": None}
            if len(self._log) < _LOG_LIMIT:
                self._log.append(entry)
            return fired, entry

    def _record_status(self, entry: dict, status: int | None) -> None:
        with self._lock:
            entry["status"] = status
            if status is not None:
                key = str(status)
                self._counters["statuses"][key] = self._counters["statuses"].get(key, 0) + 1

    # ------------------------------------------------------------ asyncio side
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            while await self._one_request(reader, writer):
                pass
        except (_Closed, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:
            pass  # stop()
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _one_request(self, reader, writer) -> bool:
        """Handle one request; False when the client connection should close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed between requests
        start, headers = _parse_head(head)
        method, target, version = start.split(" ", 2)
        rule, entry = self._decide(method, target)
        fault = rule.fault if rule else None
        expect = headers.get("expect", "").lower() == "100-continue"
        keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()

        if expect and fault in _NOT_FORWARDED:
            # Refuse before the body, as a server does; the body may or may not
            # follow, so this connection cannot carry another request.
            if fault != "drop_request":
                await self._send_error(writer, entry, rule, headers, close=True)
            return False
        if expect:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        body = await _read_body(reader, headers, request=True)

        if fault == "drop_request":
            return False
        if fault in _ERRORS:
            await self._send_error(writer, entry, rule, headers, close=not keep_alive)
            return keep_alive

        if fault == "stall":
            await asyncio.sleep(rule.delay_ms / 1000)
        with self._lock:
            entry["forwarded_at"] = time.time()
        reply = await self._forward(head + body, method)
        status = int(reply.start.split(" ", 2)[1])
        if fault == "drop_reply":
            writer.write(_truncated(reply, method))
            await writer.drain()
            self._record_status(entry, None)
            return False
        if fault == "slow":
            await asyncio.sleep(rule.delay_ms / 1000)
        # Counted before the client can see the reply, so that counters()
        # called right after a response already includes it.
        self._record_status(entry, status)
        writer.write(reply.raw)
        await writer.drain()
        upstream_close = "close" in reply.headers.get("connection", "").lower()
        return keep_alive and not upstream_close

    async def _forward(self, request: bytes, method: str) -> _Message:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host,
                                                             self.upstream_port)
        try:
            up_writer.write(request)
            await up_writer.drain()
            while True:
                head = await up_reader.readuntil(b"\r\n\r\n")
                start, headers = _parse_head(head)
                status = int(start.split(" ", 2)[1])
                if 100 <= status < 200 and status != 101:
                    continue  # 100 Continue: the client already had one from us
                break
            no_body = method == "HEAD" or status in (204, 304)
            body = b"" if no_body else await _read_body(up_reader, headers, request=False)
            return _Message(head, body, start, headers)
        finally:
            up_writer.close()

    async def _send_error(self, writer, entry: dict, rule: FaultRule, request_headers: dict,
                          close: bool) -> None:
        status, reason, code, message = _ERRORS[rule.fault]
        request_id = str(uuid.uuid4())
        now = _dt.datetime.now(_dt.timezone.utc)
        body = ('<?xml version="1.0" encoding="utf-8"?><Error>'
                f"<Code>{code}</Code><Message>{message}\nRequestId:{request_id}\n"
                f"Time:{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z</Message></Error>").encode()
        lines = [f"HTTP/1.1 {status} {reason}",
                 f"Content-Length: {len(body)}",
                 "Content-Type: application/xml",
                 "Server: Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0",
                 f"x-ms-request-id: {request_id}",
                 "x-ms-version: 2025-11-05",
                 f"x-ms-error-code: {code}",
                 f"Date: {now.strftime('%a, %d %b %Y %H:%M:%S GMT')}"]
        if rule.fault == "server_busy" and rule.retry_after is not None:
            lines.append(f"Retry-After: {rule.retry_after}")
        client_id = request_headers.get("x-ms-client-request-id")
        if client_id is not None:
            lines.append(f"x-ms-client-request-id: {client_id}")
        if close:
            lines.append("Connection: close")
        self._record_status(entry, status)
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()


def _truncated(reply: _Message, method: str) -> bytes:
    """The bytes drop_reply sends before closing: see the module docstring."""
    if method == "HEAD":
        status_line = reply.head.split(b"\r\n", 1)[0]
        return status_line[: len(status_line) // 2]
    if reply.body:
        return reply.head + reply.body[: len(reply.body) // 2]
    lines = [line for line in reply.head[:-4].split(b"\r\n")
             if not line.lower().startswith((b"content-length:", b"transfer-encoding:"))]
    return b"\r\n".join(lines + [b"Content-Length: 1"]) + b"\r\n\r\n"


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str],
                     request: bool) -> bytes:
    """The raw body bytes as framed by ``headers`` (chunked framing kept)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            out += line
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = await reader.readuntil(b"\r\n")
                    out += trailer
                    if trailer == b"\r\n":
                        return bytes(out)
            out += await reader.readexactly(size + 2)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if request:
        return b""
    return await reader.read()  # a reply delimited by the connection's end
