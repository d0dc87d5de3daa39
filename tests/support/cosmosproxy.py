"""A MongoDB wire-protocol proxy that makes FerretDB behave like Azure Cosmos
DB for MongoDB (RU): request-unit throttling, partial bulk writes,
server-side retry, short pages, lost cursors, dropped connections, the
``getLastRequestStatistics`` command and the ``replicaSet=globaldb`` topology.

    with CosmosProxy(upstream_port=fdb.port, ru_per_second=200) as proxy:
        client = pymongo.MongoClient(proxy.uri("directConnection=true"))
        ...
        proxy.configure(partial_write_at=5)     # thread-safe, next request on
        print(proxy.counters())

It runs an asyncio loop in a daemon thread, listens on 127.0.0.1 (a free port
unless ``port=``) and opens one upstream connection per client connection.
Messages that need no change are forwarded as the same bytes. Every setting
is a keyword of the constructor and of ``configure()`` and readable as
``proxy.<name>``; the table is ``Settings`` in cosmosmodel.py (also the
command-line flags, see ``--help``). Wire parsing is in mongowire.py. Facts
behind the behaviour: /work/shared/reference/protocol-facts.md section A.

Cost model (RU per request; the figures are settings of these names)
    base_ru       1.0   every charged request
    read_doc_ru   0.25  per document returned by find/aggregate/getMore
                        (cursor.firstBatch / cursor.nextBatch)
    read_kb_ru    0.25  per KiB (1024 bytes of BSON) of those documents
    write_doc_ru  5.0   per statement written: insert documents, update
                        statements, delete statements
    write_kb_ru   1.0   per KiB of those statements' BSON
Other commands cost base_ru. A write is charged for the statements that were
forwarded; an error reply from upstream costs base_ru (reads) or the
forwarded statements (writes); a throttled or faulted request costs 0.

Free commands, never charged nor throttled: FREE_COMMANDS below (handshake,
auth, session and cursor housekeeping). listDatabases is charged: it is a
real request on Cosmos and the engine should cope with it being throttled.
OP_QUERY messages (the legacy first ``hello``), requests with the
moreToCome flag and any other opcode are forwarded uncharged.

Throttling: a token bucket of ru_per_second * burst_seconds RU, full at the
start and whenever ru_per_second or burst_seconds is configured, refilled
continuously. A charged request that arrives while tokens <= 0 is throttled;
otherwise it is forwarded and its charge is subtracted after the reply
(tokens may go negative). RetryAfterMs = ceil(time until tokens > 0), at
least 1 ms (retry_after_ms forces a value; with ru_per_second=0, where the
bucket never refills, it is 1000). Writes (insert/update/delete) with
write_throttle="partial" are cut instead: the first k statements the
tokens pay for (base_ru plus each statement's cost, at least one statement
while tokens > 0) are forwarded and the rest get 16500 writeErrors (one at
index k when ordered, unless upstream already reported an error; one per
index k..n-1 when unordered). With server_side_retry the request waits for
tokens instead, and gets code 50 after ssr_limit_ms.

Throttling that does not follow the client's rate (another application
sharing the account's budget): with throttle_rate, each charged request is
throttled with that probability whatever the budget, drawn from the seeded
RNG. Reads and other commands are answered 16500 (RetryAfterMs as above:
1 ms without a budget unless retry_after_ms says otherwise); a write with
write_throttle="partial" is cut part-way instead: the first k statements go,
k drawn uniformly from 1..n-1 (a write of one statement is answered 16500
with no change made); with write_throttle="command" it is answered 16500.
Counted in throttled (and partial_writes), like budget throttling.

Faults fire by rate (seeded RNG) or on the listed 1-based ordinals of
matching requests (getMore for cursor_not_found/empty_batch, charged
requests for drop). configure() and reset_counters() restart the ordinals and
re-seed the RNG; every matching request counts, even if another fault took
it. partial_write_at cuts the next partial_write_count write commands that
have more statements than it, then resets itself to None. The drop fault
applies to requests forwarded whole.

Too large documents: with max_document_bytes, a write statement whose
document (an insert's document, an update's "u") is larger is refused for
that statement only, as Cosmos refuses a document over its size limit: a
writeErrors entry {index, code: 16, errmsg: "Error=16, Details='Response
status code does not indicate success: RequestEntityTooLarge (413); ..."}
while the other statements are forwarded and applied (unordered: all of
them; ordered: those before it, and the write stops there). Such a write is
not cut by partial_write_at or the budget, and not dropped; it is charged
for the statements forwarded and counted in too_large (per document).

getLastRequestStatistics (any database) is answered by the proxy with the
last charged request on that client connection: CommandName, RequestCharge
(0.0 if it was throttled or faulted) and RequestDurationInMilliSeconds; with
answer_request_statistics=False it goes to FerretDB (code 59). replica_set
rewrites every hello/isMaster reply (OP_MSG and legacy OP_REPLY) to a
one-member replica set whose primary is the proxy itself. tls_cert_file /
tls_key_file make the listener speak TLS; upstream_tls_ca_file makes the
upstream connection TLS, verified against that CA.

Counters (counters(), a snapshot): requests (every client request) =
free_requests + charged_requests; throttled = requests answered with 16500,
as a command error or as writeErrors (a partial write counts once, also in
partial_writes); too_large = documents refused for their size; ssr_waits / ssr_timeouts = requests that waited in
server-side-retry mode / ended in code 50; ru_charged; cursor_not_found,
empty_batches, dropped; by_command {name: {requests, throttled, ru}};
started_at (epoch seconds) and elapsed_s since the last reset. ru_timeline()
gives RU, charged requests and throttled per second, and the budget lost in
it: the refill that came while the bucket was full, by how many charged
requests were at the upstream server then (with every worker of a client
waiting on the server, the client could not have spent it).

Command line:
    python tests/support/cosmosproxy.py --upstream 127.0.0.1:27017 --ru 500 \\
        --stats-file stats.json
prints ``listening on 127.0.0.1:PORT`` and on SIGTERM/SIGINT writes
``counters()`` as JSON to the stats file, with ``ru_timeline()`` under
``timeline``, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import random
import signal
import ssl
import sys
import threading
import time
from pathlib import Path

from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopthread import LoopThreadServer  # noqa: E402
from cosmosmodel import (FALLBACK_RETRY_MS, FREE_COMMANDS, HELLO_COMMANDS,  # noqa: E402
                         READ_COMMANDS, SETTING_NAMES, SSR_TIMEOUT_CODE, WRITE_FIELDS,
                         Settings, WriteBatch, check_names, oversized_write_reply,
                         partial_write_reply, read_charge, replica_set_hello, throttle_errmsg,
                         throttle_reply, too_large_errmsg)
from mongowire import (HEADER, MORE_TO_COME, OP_MSG, OP_QUERY, OP_REPLY, OpMsg,  # noqa: E402
                       WireError, appname, op_msg_payload, op_query_appname, op_query_command,
                       op_reply_first, read_message)


class _Closed(Exception):
    """The connection was closed on purpose (drop fault)."""


# ----------------------------------------------------------------- proxy

class CosmosProxy(LoopThreadServer):
    """See the module docstring. Thread-safe: configure(), counters() and
    reset_counters() may be called from any thread."""

    THREAD_NAME = "cosmosproxy"

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 27017, *,
                 port: int | None = None, host: str = "127.0.0.1", **settings):
        check_names(settings)
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self._host = host
        self._port = port or 0
        self._lock = threading.Lock()
        self._settings = Settings(**settings)
        self._tokens = 0.0
        self._refilled = time.monotonic()
        self._in_flight = 0  # charged requests forwarded upstream and not yet answered
        self._in_flight_by_app: dict[str, int] = {}  # the same by the client's appname
        self._fill_bucket()
        self._restart_faults()
        self._zero_counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._links: set[_Link] = set()
        self._next_id = 1 << 30  # request ids of the proxy's own upstream messages

    # ------------------------------------------------------------ public API
    @property
    def settings(self) -> Settings:
        """The current settings (an immutable snapshot)."""
        return self._settings

    def __getattr__(self, name: str):
        # proxy.base_ru, proxy.ru_per_second, ...: the current value of a setting.
        if name in SETTING_NAMES:
            return getattr(self._settings, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def uri(self, query: str = "") -> str:
        return f"mongodb://{self._host}:{self._port}/?{query}"

    def configure(self, **settings) -> None:
        check_names(settings)
        if self._loop is not None and {"tls_cert_file", "tls_key_file"} & settings.keys():
            raise ValueError("the listener's TLS files are read at start(); set them earlier")
        with self._lock:
            self._settings = dataclasses.replace(self._settings, **settings)
            if {"ru_per_second", "burst_seconds"} & settings.keys():
                self._fill_bucket()
            self._restart_faults()

    def counters(self) -> dict:
        with self._lock:
            snap = {k: v for k, v in self._counters.items() if k not in ("by_command", "timeline")}
            snap["by_command"] = {k: dict(v) for k, v in self._counters["by_command"].items()}
            snap["elapsed_s"] = time.monotonic() - self._started_mono
            return snap

    def ru_timeline(self) -> list[dict]:
        """Per second since the last reset: RU charged, charged requests, throttled, and
        ``lost``: the refill lost while the bucket sat full, by how many charged requests
        were at the upstream server meanwhile ({"0": RU, "2": RU, ...}), and ``lost_by_app``
        the same by the clients' application names (the handshake's appname) and their
        requests there ({"": RU, "cosmocopy/1.0.0=2,app=1": RU, ...})."""
        with self._lock:
            self._refill(time.monotonic())
            return [{"t": t, **v, "lost": dict(v["lost"]), "lost_by_app": dict(v["lost_by_app"])}
                    for t, v in sorted(self._counters["timeline"].items())]

    def reset_counters(self) -> None:
        with self._lock:
            self._zero_counters()
            self._restart_faults()

    # ------------------------------------------------------------ state (under the lock)
    def _fill_bucket(self) -> None:
        s = self._settings
        self._refilled = time.monotonic()
        if s.ru_per_second is not None:
            self._tokens = s.ru_per_second * s.burst_seconds

    def _restart_faults(self) -> None:
        s = self._settings
        self._rng = random.Random(s.seed)
        self._ordinals = {"getMore": 0, "charged": 0}
        self._partial_left = s.partial_write_count if s.partial_write_at is not None else 0

    def _zero_counters(self) -> None:
        self._started_mono = time.monotonic()
        self._counters = {
            "requests": 0, "free_requests": 0, "charged_requests": 0, "throttled": 0,
            "partial_writes": 0, "too_large": 0, "ssr_waits": 0, "ssr_timeouts": 0, "ru_charged": 0.0,
            "cursor_not_found": 0, "empty_batches": 0, "dropped": 0,
            "by_command": {}, "timeline": {}, "started_at": time.time(),
        }

    def _refill(self, now: float) -> None:
        s = self._settings
        if s.ru_per_second is not None:
            cap = s.ru_per_second * s.burst_seconds
            if s.ru_per_second > 0 and now > self._refilled:
                full_at = self._refilled + max(0.0, cap - self._tokens) / s.ru_per_second
                if full_at < now:
                    self._lost(full_at, now, s.ru_per_second)
            self._tokens = min(cap, self._tokens + (now - self._refilled) * s.ru_per_second)
        self._refilled = now

    def _lost(self, start: float, end: float, rate: float) -> None:
        """The bucket sat full from ``start`` to ``end`` (monotonic): the refill of that time
        was lost. Kept per second of the timeline, by how many charged requests were at the
        upstream server meanwhile (a client whose every worker waits on the server could not
        have spent it; one with a worker idle could have)."""
        base = self._started_mono
        start = max(start, base)
        key = str(self._in_flight)
        by_app = ",".join(f"{app}={n}" for app, n in sorted(self._in_flight_by_app.items()) if n)
        # The second counts up on its own: recomputed from ``start`` as ``int(start - base)``,
        # a boundary ``base + second + 1`` that rounds to ``start - base`` just under a whole
        # number gave the same second again, and the loop never ended (a benchmark run hung).
        second = int(start - base)
        while start < end:
            upto = min(end, base + second + 1)
            if upto > start:
                slot = self._slot(second)
                slot["lost"][key] = slot["lost"].get(key, 0.0) + (upto - start) * rate
                slot["lost_by_app"][by_app] = (slot["lost_by_app"].get(by_app, 0.0)
                                               + (upto - start) * rate)
                start = upto
            second += 1

    def _slot(self, second: int) -> dict:
        return self._counters["timeline"].setdefault(
            second, {"ru": 0.0, "requests": 0, "throttled": 0, "lost": {}, "lost_by_app": {}})

    def _upstream(self, delta: int, app: str) -> None:
        """A charged request of a client named ``app`` went to the upstream server (1) or came
        back from it (-1)."""
        with self._lock:
            self._refill(time.monotonic())
            self._in_flight += delta
            self._in_flight_by_app[app] = self._in_flight_by_app.get(app, 0) + delta

    def _wait_seconds(self) -> float:
        """0 when a request may go now, else how long until tokens > 0."""
        with self._lock:
            self._refill(time.monotonic())
            rate = self._settings.ru_per_second
            if rate is None or self._tokens > 0:
                return 0.0
            return math.inf if rate == 0 else -self._tokens / rate

    def _retry_after_ms(self) -> int:
        fixed = self._settings.retry_after_ms
        if fixed is not None:
            return fixed
        wait = self._wait_seconds()
        return FALLBACK_RETRY_MS if math.isinf(wait) else max(1, math.ceil(wait * 1000))

    def _affordable(self, costs: list[float]) -> int | None:
        """How many leading statements the tokens pay for (None: all, or no budget)."""
        with self._lock:
            self._refill(time.monotonic())
            if self._settings.ru_per_second is None:
                return None
            tokens = self._tokens
            if tokens <= 0:
                return 0
            left = tokens - self._settings.base_ru
            for k, cost in enumerate(costs):
                left -= cost
                if left < 0:
                    return max(k, 1)  # while tokens > 0 one statement goes, as Cosmos lets a request go
            return None

    def _take_partial_cut(self, n: int) -> int | None:
        with self._lock:
            at = self._settings.partial_write_at
            if at is None or self._partial_left <= 0 or n <= at:
                return None
            self._partial_left -= 1
            if self._partial_left == 0:
                self._settings = dataclasses.replace(self._settings, partial_write_at=None)
            return at

    def _draw_throttle(self, statements: int | None) -> int | None:
        """None: not throttled at random (throttle_rate); else how many leading statements of
        a write go (0 for a read, a command or a write of one statement)."""
        with self._lock:
            rate = self._settings.throttle_rate
            if rate <= 0 or self._rng.random() >= rate:
                return None
            if statements is None or statements < 2:
                return 0
            return self._rng.randint(1, statements - 1)

    def _draw_faults(self, command: str) -> tuple[str | None, bool]:
        """(getMore fault or None, drop?) for one charged request."""
        with self._lock:
            s, rng = self._settings, self._rng
            getmore_fault = None
            if command == "getMore":
                self._ordinals["getMore"] += 1
                nth = self._ordinals["getMore"]
                cnf = nth in s.cursor_not_found_on or (
                    s.cursor_not_found_rate > 0 and rng.random() < s.cursor_not_found_rate)
                empty = nth in s.empty_batch_on or (
                    s.empty_batch_rate > 0 and rng.random() < s.empty_batch_rate)
                getmore_fault = "cursor_not_found" if cnf else "empty_batch" if empty else None
            self._ordinals["charged"] += 1
            drop = self._ordinals["charged"] in s.drop_on or (
                s.drop_rate > 0 and rng.random() < s.drop_rate)
            return getmore_fault, drop

    def _record(self, command: str, *, charged: bool, ru: float = 0.0, throttled: bool = False,
                **extra: int) -> None:
        with self._lock:
            c = self._counters
            c["requests"] += 1
            per = c["by_command"].setdefault(command, {"requests": 0, "throttled": 0, "ru": 0.0})
            per["requests"] += 1
            if not charged:
                c["free_requests"] += 1
                return
            self._tokens -= ru
            c["charged_requests"] += 1
            c["ru_charged"] += ru
            per["ru"] += ru
            second = int(time.monotonic() - self._started_mono)
            slot = self._slot(second)
            slot["ru"] += ru
            slot["requests"] += 1
            if throttled:
                c["throttled"] += 1
                per["throttled"] += 1
                slot["throttled"] += 1
            for key, value in extra.items():
                c[key] += value

    def _request_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------ asyncio side
    async def _listen(self) -> None:
        s = self._settings
        ctx = None
        if s.tls_cert_file:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(s.tls_cert_file, s.tls_key_file)
        self._server = await asyncio.start_server(self._accept, self._host, self._port, ssl=ctx)
        self._port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        links = list(self._links)
        for link in links:
            link.close()
            link.task.cancel()
        await asyncio.gather(*(link.task for link in links), return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ca = self._settings.upstream_tls_ca_file
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port,
                ssl=ssl.create_default_context(cafile=ca) if ca else None,
                server_hostname=self.upstream_host if ca else None)
        except (OSError, ssl.SSLError):
            writer.close()
            return
        link = _Link(self, reader, writer, up_reader, up_writer)
        self._links.add(link)
        try:
            await link.run()
        except asyncio.CancelledError:
            pass  # stop(): asyncio's stream callback would report a cancelled task as an error
        finally:
            self._links.discard(link)


class _Link:
    """One client connection and its own upstream connection. Requests on a
    connection are handled one at a time, as drivers send them."""

    def __init__(self, proxy: CosmosProxy, reader, writer, up_reader, up_writer):
        self.proxy = proxy
        self.reader, self.writer = reader, writer
        self.up_reader, self.up_writer = up_reader, up_writer
        self.task = asyncio.current_task()
        # What getLastRequestStatistics reports: the last charged request here.
        self.last_command, self.last_charge, self.last_ms = None, 0.0, 0.0
        self.app = ""  # the client's application name, from its handshake

    def close(self) -> None:
        for w in (self.writer, self.up_writer):
            try:
                w.close()
            except Exception:
                pass

    async def run(self) -> None:
        try:
            while True:
                fields, payload = await read_message(self.reader)
                opcode = fields[3]
                if opcode == OP_MSG:
                    await self._on_msg(fields, payload)
                elif opcode == OP_QUERY:
                    await self._on_query(fields, payload)
                else:
                    self.proxy._record(f"opcode {opcode}", charged=False)
                    await self._pass_through(fields, payload)
        except (asyncio.IncompleteReadError, ConnectionError, WireError, ssl.SSLError, _Closed):
            pass
        finally:
            self.close()

    # ------------------------------------------------------------ plumbing
    async def _roundtrip(self, fields, payload: bytes, *, charged: bool = False):
        """Send a request upstream (its header rebuilt from ``fields``' ids and
        opcode) and read the reply. A charged request counts as in flight at the
        server meanwhile (see ``lost`` in the timeline)."""
        self.up_writer.write(HEADER.pack(16 + len(payload), *fields[1:]))
        self.up_writer.write(payload)
        if not charged:
            return await read_message(self.up_reader)
        self.proxy._upstream(1, self.app)
        try:
            return await read_message(self.up_reader)
        finally:
            self.proxy._upstream(-1, self.app)

    async def _reply(self, fields, payload: bytes) -> None:
        """Send a reply to the client; relay the rest of an exhaust stream."""
        self.writer.write(HEADER.pack(16 + len(payload), *fields[1:]))
        self.writer.write(payload)
        await self.writer.drain()
        while fields[3] == OP_MSG and int.from_bytes(payload[:4], "little") & MORE_TO_COME:
            fields, payload = await read_message(self.up_reader)
            self.writer.write(HEADER.pack(*fields))
            self.writer.write(payload)
            await self.writer.drain()

    async def _answer(self, request_id: int, doc: dict) -> None:
        payload = op_msg_payload(doc)
        await self._reply((0, self.proxy._request_id(), request_id, OP_MSG), payload)

    async def _pass_through(self, fields, payload: bytes) -> None:
        await self._reply(*await self._roundtrip(fields, payload))

    # ------------------------------------------------------------ requests
    async def _on_query(self, fields, payload: bytes) -> None:
        cmd = op_query_command(payload)
        name = cmd[1] if cmd else "OP_QUERY"
        self.proxy._record(name, charged=False)
        if name in HELLO_COMMANDS:
            self.app = op_query_appname(payload) or self.app
        reply_fields, reply = await self._roundtrip(fields, payload)
        set_name = self.proxy.settings.replica_set
        if set_name and name in HELLO_COMMANDS and reply_fields[3] == OP_REPLY:
            prefix, first, rest = op_reply_first(reply)
            first = replica_set_hello(first, name, set_name, self._me())
            reply = prefix + first + b"".join(rest)
        await self._reply(reply_fields, reply)

    def _me(self) -> str:
        return f"{self.proxy.host}:{self.proxy.port}"

    async def _on_msg(self, fields, payload: bytes) -> None:
        proxy = self.proxy
        msg = OpMsg.parse(payload)
        name = msg.command
        s = proxy.settings
        if msg.flags & MORE_TO_COME:  # no reply expected: forward, never throttle
            proxy._record(name, charged=False)
            self.up_writer.write(HEADER.pack(*fields))
            self.up_writer.write(payload)
            return
        if name == "getLastRequestStatistics" and s.answer_request_statistics:
            proxy._record(name, charged=False)
            await self._answer(fields[1], {
                "_t": "GetRequestStatisticsResponse", "ok": 1.0,
                "CommandName": self.last_command or "", "RequestCharge": float(self.last_charge),
                "RequestDurationInMilliSeconds": float(self.last_ms)})
            return
        if name in FREE_COMMANDS:
            proxy._record(name, charged=False)
            if name in HELLO_COMMANDS:
                self.app = appname(RawBSONDocument(msg.body)) or self.app
            reply_fields, reply = await self._roundtrip(fields, payload)
            if s.replica_set and name in HELLO_COMMANDS:
                body = OpMsg.parse(reply).body
                reply = op_msg_payload(replica_set_hello(body, name, s.replica_set, self._me()))
            await self._reply(reply_fields, reply)
            return
        started = time.monotonic()
        charge = await self._charged(fields, payload, msg, name)
        self.last_command, self.last_charge = name, charge
        self.last_ms = (time.monotonic() - started) * 1000

    async def _charged(self, fields, payload: bytes, msg: OpMsg, name: str) -> float:
        """One request under the cost model; returns its charge."""
        proxy = self.proxy
        s = proxy.settings
        request_id = fields[1]
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        getmore_fault, drop = proxy._draw_faults(name)
        if getmore_fault:
            return await self._getmore_fault(request_id, msg, getmore_fault)
        write = WriteBatch.parse(msg, name) if name in WRITE_FIELDS else None
        cut = proxy._take_partial_cut(len(write.statements)) if write else None
        partial_mode = write is not None and s.write_throttle == "partial"
        waited = 0
        drawn = proxy._draw_throttle(len(write.statements) if partial_mode else None)
        if drawn is not None:
            if partial_mode and drawn > 0:
                return await self._partial_write(request_id, name, msg, write, drawn, waited)
            proxy._record(name, charged=True, throttled=True)
            await self._answer(request_id, throttle_reply(s, proxy._retry_after_ms()))
            return 0.0
        if proxy._wait_seconds() > 0:
            if s.server_side_retry:
                waited = 1
                if not await self._ssr_wait():
                    return await self._ssr_timeout(fields, payload, name, write)
            elif partial_mode:
                cut = 0
            else:
                proxy._record(name, charged=True, throttled=True)
                await self._answer(request_id, throttle_reply(s, proxy._retry_after_ms()))
                return 0.0
        elif partial_mode and not s.server_side_retry:
            affordable = proxy._affordable(write.costs(s))
            if affordable is not None and (cut is None or affordable < cut):
                cut = affordable
        if write is not None and s.max_document_bytes is not None:
            sizes = write.document_sizes()
            if max(sizes, default=0) > s.max_document_bytes:
                return await self._oversized_write(request_id, name, msg, write, sizes, waited)
        if write is not None and cut is not None and cut < len(write.statements):
            return await self._partial_write(request_id, name, msg, write, cut, waited)

        reply_fields, reply = await self._roundtrip(fields, payload, charged=True)
        if write is not None:
            charge = write.charge(s, len(write.statements))
        elif name in READ_COMMANDS and reply_fields[3] == OP_MSG:
            charge = read_charge(s, OpMsg.parse(reply).body)
        else:
            charge = s.base_ru
        proxy._record(name, charged=True, ru=charge, ssr_waits=waited, dropped=int(drop))
        if drop:
            whole = HEADER.pack(16 + len(reply), *reply_fields[1:]) + reply
            self.writer.write(whole[:len(whole) // 2])
            await self.writer.drain()
            raise _Closed
        await self._reply(reply_fields, reply)
        return charge

    async def _getmore_fault(self, request_id: int, msg: OpMsg, fault: str) -> float:
        proxy, s = self.proxy, self.proxy.settings
        body = RawBSONDocument(msg.body)
        cursor_id, coll, db = int(body["getMore"]), body.get("collection"), body.get("$db")
        if fault == "cursor_not_found":
            proxy._record("getMore", charged=True, cursor_not_found=1)
            try:  # best effort, so that FerretDB frees the cursor
                await self._roundtrip((0, proxy._request_id(), 0, OP_MSG), op_msg_payload(
                    {"killCursors": coll, "cursors": [Int64(cursor_id)], "$db": db}))
            except (asyncio.IncompleteReadError, ConnectionError, WireError):
                raise _Closed from None
            await self._answer(request_id, {
                "ok": 0.0, "errmsg": f"cursor id {cursor_id} not found", "code": 43,
                "codeName": "CursorNotFound"})
            return 0.0
        # A short page with a live cursor, as Cosmos returns under pressure.
        proxy._record("getMore", charged=True, ru=s.base_ru, empty_batches=1)
        await self._answer(request_id, {
            "cursor": {"nextBatch": [], "id": Int64(cursor_id), "ns": f"{db}.{coll}"}, "ok": 1.0})
        return s.base_ru

    async def _ssr_wait(self) -> bool:
        """Wait for tokens > 0; False when that would pass ssr_limit_ms (then
        the whole limit has been waited)."""
        deadline = time.monotonic() + self.proxy.settings.ssr_limit_ms / 1000
        while True:
            wait = self.proxy._wait_seconds()
            if wait <= 0:
                return True
            left = deadline - time.monotonic()
            if wait > left:
                await asyncio.sleep(max(0.0, left))
                return False
            await asyncio.sleep(wait + 0.001)

    async def _ssr_timeout(self, fields, payload: bytes, name: str, write) -> float:
        proxy, s = self.proxy, self.proxy.settings
        charge = 0.0
        if write is not None and s.ssr_apply_write_on_timeout:
            await self._roundtrip(fields, payload, charged=True)  # applied; the client hears 50
            charge = write.charge(s, len(write.statements))
        proxy._record(name, charged=True, ru=charge, ssr_waits=1, ssr_timeouts=1)
        await self._answer(fields[1], {
            "ok": 0.0, "errmsg": "Request timed out. Retries due to rate limiting: True.",
            "code": SSR_TIMEOUT_CODE, "codeName": "ExceededTimeLimit"})
        return charge

    async def _oversized_write(self, request_id: int, name: str, msg: OpMsg, write: WriteBatch,
                               sizes: list[int], waited: int) -> float:
        """Refuse the statements whose document is over max_document_bytes (code 16), forward
        the others (an ordered write: those before the first refused one)."""
        proxy, s = self.proxy, self.proxy.settings
        limit = s.max_document_bytes
        refused = [i for i, size in enumerate(sizes) if size > limit]
        stop = refused[0] if write.ordered else len(sizes)
        kept = [i for i in range(stop) if sizes[i] <= limit]
        charge = 0.0
        if not kept:
            upstream = {"n": 0, "nModified": 0} if name == "update" else {"n": 0}
        else:
            reply_fields, reply = await self._roundtrip(
                (0, request_id, 0, OP_MSG), write.select(msg, kept).payload(), charged=True)
            upstream = dict(RawBSONDocument(OpMsg.parse(reply).body).items())
            charge = write.charge_of(s, kept)
            if upstream.get("ok") != 1:  # a command error: the client sees it as is
                proxy._record(name, charged=True, ru=charge, ssr_waits=waited)
                await self._reply(reply_fields, reply)
                return charge
        if write.ordered:
            refused = refused[:1]
        proxy._record(name, charged=True, ru=charge, ssr_waits=waited, too_large=len(refused))
        errors = [(i, too_large_errmsg(sizes[i], limit)) for i in refused]
        await self._answer(request_id, oversized_write_reply(upstream, write.ordered, kept, errors))
        return charge

    async def _partial_write(self, request_id: int, name: str, msg: OpMsg, write: WriteBatch,
                             k: int, waited: int) -> float:
        proxy, s = self.proxy, self.proxy.settings
        charge = 0.0
        if k == 0:
            upstream = {"n": 0, "nModified": 0} if name == "update" else {"n": 0}
        else:
            reply_fields, reply = await self._roundtrip(
                (0, request_id, 0, OP_MSG), write.cut(msg, k).payload(), charged=True)
            upstream = dict(RawBSONDocument(OpMsg.parse(reply).body).items())
            charge = write.charge(s, k)
            if upstream.get("ok") != 1:  # a command error: the client sees it as is
                proxy._record(name, charged=True, ru=charge, ssr_waits=waited)
                await self._reply(reply_fields, reply)
                return charge
        proxy._record(name, charged=True, ru=charge, throttled=True, partial_writes=1,
                      ssr_waits=waited)
        errmsg = throttle_errmsg(s, proxy._retry_after_ms())
        n = len(write.statements)
        await self._answer(request_id, partial_write_reply(upstream, write.ordered, k, n, errmsg))
        return charge


# ----------------------------------------------------------------- command line

def _parse_kind(kind: str, text: str):
    if kind.endswith("?") and text.lower() in ("none", ""):
        return None
    base = kind.rstrip("?")
    if base == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")
    if base == "ints":
        return frozenset(int(i) for i in text.split(",") if i.strip())
    return {"float": float, "int": int, "str": str}[base](text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Cosmos DB for MongoDB (RU) imitation in front of a MongoDB server.")
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: free)")
    parser.add_argument("--stats-file", help="write counters() as JSON here on exit")
    for f in dataclasses.fields(Settings):
        flags = ["--" + f.name.replace("_", "-")]
        if f.name == "ru_per_second":
            flags.insert(0, "--ru")
        kind = f.metadata["kind"]
        parser.add_argument(*flags, dest=f.name, default=argparse.SUPPRESS,
                            type=lambda text, kind=kind: _parse_kind(kind, text),
                            help=f"{f.metadata['doc']} (default {f.default!r})")
    args = vars(parser.parse_args(argv))
    host, _, port = args.pop("upstream").rpartition(":")
    listen_port, stats_file = args.pop("port"), args.pop("stats_file")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    proxy = CosmosProxy(host or "127.0.0.1", int(port), port=listen_port, **args).start()
    print(f"listening on {proxy.host}:{proxy.port}", flush=True)
    while not stop.wait(0.2):
        pass
    counters = proxy.counters()
    counters["timeline"] = proxy.ru_timeline()
    proxy.stop()
    if stats_file:
        Path(stats_file).write_text(json.dumps(counters, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
