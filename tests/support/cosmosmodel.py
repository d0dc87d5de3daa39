"""What Cosmos DB for MongoDB (RU) charges and answers, as plain functions
for the fault proxy (cosmosproxy.py): the settings table, the cost model,
the 16500 / partial-write / replica-set reply documents. No I/O here.

Sources: /work/shared/reference/protocol-facts.md section A (A1 error
shapes, A3 server-side retry, A4 charges and getLastRequestStatistics).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field

import bson
from bson.raw_bson import RawBSONDocument

from mongowire import OpMsg


FREE_COMMANDS = frozenset({
    "hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo",
    "getLastRequestStatistics", "saslStart", "saslContinue", "endSessions",
    "killCursors", "getParameter", "getCmdLineOpts",
})
HELLO_COMMANDS = frozenset({"hello", "isMaster", "ismaster"})
READ_COMMANDS = frozenset({"find", "getMore", "aggregate"})
WRITE_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}

THROTTLE_CODE = 16500
TOO_LARGE_CODE = 16  # RequestEntityTooLarge (413)
SSR_TIMEOUT_CODE = 50
FALLBACK_RETRY_MS = 1000  # RetryAfterMs when the bucket never refills (ru_per_second=0)

_REASON = ("({\r\n  \"Errors\": [\r\n    \"Request rate is large. More Request Units may be "
           "needed, so no changes were made. Please retry this request later. Learn more: "
           "http://aka.ms/cosmosdb-error-429\"\r\n  ]\r\n})")


def _opt(default, doc: str, kind: str):
    return field(default=default, metadata={"doc": doc, "kind": kind})


@dataclass(frozen=True)
class Settings:
    """Every setting of the proxy: name, default, kind (for the CLI), doc."""

    ru_per_second: float | None = _opt(None, "RU/s budget; None = unlimited", "float?")
    burst_seconds: float = _opt(1.0, "bucket capacity in seconds of budget", "float")
    base_ru: float = _opt(1.0, "RU per charged request", "float")
    read_doc_ru: float = _opt(0.25, "RU per document returned", "float")
    read_kb_ru: float = _opt(0.25, "RU per KiB of documents returned", "float")
    write_doc_ru: float = _opt(5.0, "RU per statement written", "float")
    write_kb_ru: float = _opt(1.0, "RU per KiB of statements written", "float")
    retry_after_ms: int | None = _opt(None, "fixed RetryAfterMs; None = computed", "int?")
    throttle_codename: str | None = _opt("TooManyRequests",
                                         "codeName of 16500 replies; none = absent", "str?")
    throttle_retry_after: bool = _opt(True, "current errmsg format (False = 2019 format)",
                                      "bool")
    write_throttle: str = _opt("partial", "'partial' writeErrors or 'command' 16500", "str")
    partial_write_at: int | None = _opt(None, "cut the next writes after this many statements",
                                        "int?")
    partial_write_count: int = _opt(1, "how many writes partial_write_at cuts", "int")
    max_document_bytes: int | None = _opt(None, "refuse written documents larger than this "
                                          "(code 16 per document); None = no limit", "int?")
    server_side_retry: bool = _opt(False, "wait for budget instead of answering 16500", "bool")
    ssr_limit_ms: int = _opt(60000, "longest server-side wait before code 50", "int")
    ssr_apply_write_on_timeout: bool = _opt(False, "apply a timed-out write anyway", "bool")
    seed: int = _opt(0, "seed of the fault RNG", "int")
    throttle_rate: float = _opt(0.0, "probability of a 16500 per charged request whatever the "
                                "budget (a write with write_throttle='partial' is cut part-way)",
                                "float")
    cursor_not_found_rate: float = _opt(0.0, "probability of CursorNotFound per getMore",
                                        "float")
    cursor_not_found_on: frozenset = _opt(frozenset(), "getMore ordinals to answer 43", "ints")
    empty_batch_rate: float = _opt(0.0, "probability of an empty page per getMore", "float")
    empty_batch_on: frozenset = _opt(frozenset(), "getMore ordinals to answer empty", "ints")
    drop_rate: float = _opt(0.0, "probability of a cut reply per charged request", "float")
    drop_on: frozenset = _opt(frozenset(), "charged-request ordinals to cut", "ints")
    latency_ms: float = _opt(0, "delay before each charged request", "float")
    answer_request_statistics: bool = _opt(True, "answer getLastRequestStatistics", "bool")
    replica_set: str | None = _opt(None, "report this replica set in hello", "str?")
    tls_cert_file: str | None = _opt(None, "listener certificate (PEM); read at start()",
                                     "str?")
    tls_key_file: str | None = _opt(None, "listener private key (PEM); read at start()",
                                    "str?")
    upstream_tls_ca_file: str | None = _opt(None, "connect upstream with TLS, trusting this CA",
                                            "str?")

    def __post_init__(self):
        for name in ("cursor_not_found_on", "empty_batch_on", "drop_on"):
            object.__setattr__(self, name, frozenset(int(i) for i in getattr(self, name)))
        if self.ru_per_second is not None and self.ru_per_second < 0:
            raise ValueError("ru_per_second must be >= 0 or None")
        if not 0.0 <= self.throttle_rate <= 1.0:
            raise ValueError("throttle_rate must be between 0 and 1")
        if self.burst_seconds <= 0:
            raise ValueError("burst_seconds must be > 0")
        if self.write_throttle not in ("partial", "command"):
            raise ValueError("write_throttle must be 'partial' or 'command'")
        if self.partial_write_at is not None and self.partial_write_at < 0:
            raise ValueError("partial_write_at must be >= 0 or None")
        if self.max_document_bytes is not None and self.max_document_bytes <= 0:
            raise ValueError("max_document_bytes must be > 0 or None")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")


SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(Settings))


def check_names(names) -> None:
    unknown = sorted(set(names) - SETTING_NAMES)
    if unknown:
        raise TypeError(f"unknown CosmosProxy setting(s): {', '.join(unknown)}")


# ----------------------------------------------------------------- replies

def throttle_errmsg(s: Settings, retry_ms: int) -> str:
    activity = uuid.uuid4()
    if s.throttle_retry_after:
        return (f"Error={THROTTLE_CODE}, RetryAfterMs={retry_ms}, Details='Response status code "
                f"does not indicate success: TooManyRequests (429); Substatus: 3200; "
                f"ActivityId: {activity}; Reason: {_REASON};'")
    return ('Message: {"Errors":["Request rate is large"]}, '
            f"ActivityId: {activity}, Request URI: /apps/{uuid.uuid4()}/services/"
            f"{uuid.uuid4()}/partitions/{uuid.uuid4()}/replicas/132135135135135135p/, "
            "RequestStats: , SDK: Microsoft.Azure.Documents.Common/2.7.0, StatusCode: 429, "
            "SubStatusCode: 3200, RequestCharge: 0.38")


def throttle_reply(s: Settings, retry_ms: int) -> dict:
    msg = throttle_errmsg(s, retry_ms)
    if not s.throttle_retry_after:
        return {"_t": "OKMongoResponse", "ok": 0.0, "code": THROTTLE_CODE, "errmsg": msg,
                "$err": msg}
    reply = {"ok": 0.0, "errmsg": msg, "code": THROTTLE_CODE}
    if s.throttle_codename is not None:
        reply["codeName"] = s.throttle_codename
    return reply


def partial_write_reply(upstream: dict, ordered: bool, k: int, n: int, errmsg: str) -> dict:
    """Upstream's reply to the first k statements, plus 16500 writeErrors for
    the statements that were not forwarded."""
    errors = list(upstream.get("writeErrors", ()))
    if ordered:
        missing = [] if errors else [k]  # an ordered write stops at its first error
    else:
        missing = range(k, n)
    errors += [{"index": i, "code": THROTTLE_CODE, "errmsg": errmsg} for i in missing]
    reply = {key: value for key, value in upstream.items() if key not in ("writeErrors", "ok")}
    reply["writeErrors"] = errors
    reply["ok"] = 1.0
    return reply


def too_large_errmsg(size: int, limit: int) -> str:
    """The errmsg of a document Cosmos refuses for its size: the 16500 format with the 413
    status (protocol-facts.md A2, code 16; the Reason text is inferred)."""
    return (f"Error={TOO_LARGE_CODE}, Details='Response status code does not indicate success: "
            f"RequestEntityTooLarge (413); Substatus: 0; ActivityId: {uuid.uuid4()}; Reason: "
            f"(Message: {{\"Errors\":[\"Request size is too large: the document is {size} "
            f"bytes, the limit is {limit}\"]}});'")


def oversized_write_reply(upstream: dict, ordered: bool, kept: list[int],
                          refused: list[tuple[int, str]]) -> dict:
    """Upstream's reply to the ``kept`` statements (its indices into them mapped back to the
    whole write's), plus a code-16 writeError for each ``refused`` (index, errmsg); an ordered
    write stops at its first error, so it reports only the first of all of them."""
    errors = [{**e, "index": kept[e["index"]]} for e in upstream.get("writeErrors", ())]
    errors += [{"index": i, "code": TOO_LARGE_CODE, "errmsg": m} for i, m in refused]
    errors.sort(key=lambda e: e["index"])
    if ordered:
        errors = errors[:1]
    reply = {key: value for key, value in upstream.items() if key not in ("writeErrors", "ok")}
    if "upserted" in reply:
        reply["upserted"] = [{**u, "index": kept[u["index"]]} for u in reply["upserted"]]
    if errors:
        reply["writeErrors"] = errors
    reply["ok"] = 1.0
    return reply


def replica_set_hello(doc: bytes, command: str, set_name: str, me: str) -> bytes:
    reply = dict(RawBSONDocument(doc).items())
    ok = reply.pop("ok", 1.0)
    reply.pop("isWritablePrimary" if command != "hello" else "ismaster", None)
    reply["isWritablePrimary" if command == "hello" else "ismaster"] = True
    reply.update(secondary=False, setName=set_name, setVersion=1, hosts=[me], primary=me, me=me,
                 ok=ok)
    return bson.encode(reply)


def _doc_ru(s: Settings, count: int, size: int, per_doc: float, per_kb: float) -> float:
    return count * per_doc + size / 1024 * per_kb


def read_charge(s: Settings, reply_body: bytes) -> float:
    cursor = RawBSONDocument(reply_body).get("cursor")
    if cursor is None:
        return s.base_ru
    batch = cursor.get("firstBatch")
    if batch is None:
        batch = cursor.get("nextBatch", ())
    size = sum(len(d.raw) for d in batch)
    return s.base_ru + _doc_ru(s, len(batch), size, s.read_doc_ru, s.read_kb_ru)


# ----------------------------------------------------------------- writes

class WriteBatch:
    """The statements of an insert/update/delete, from the body array or from
    the OP_MSG document sequence of the same name."""

    __slots__ = ("field", "statements", "in_body", "ordered")

    def __init__(self, field_name: str, statements: list[bytes], in_body: bool, ordered: bool):
        self.field, self.statements, self.in_body, self.ordered = (
            field_name, statements, in_body, ordered)

    @classmethod
    def parse(cls, msg: OpMsg, command: str) -> "WriteBatch":
        name = WRITE_FIELDS[command]
        body = RawBSONDocument(msg.body)
        ordered = bool(body.get("ordered", True))
        if name in msg.sequences:
            return cls(name, msg.sequences[name], False, ordered)
        return cls(name, [d.raw for d in body.get(name, ())], True, ordered)

    def costs(self, s: Settings) -> list[float]:
        return [_doc_ru(s, 1, len(st), s.write_doc_ru, s.write_kb_ru) for st in self.statements]

    def charge(self, s: Settings, k: int) -> float:
        return self.charge_of(s, range(k))

    def charge_of(self, s: Settings, indices) -> float:
        """The charge for forwarding the statements at ``indices``."""
        size = sum(len(self.statements[i]) for i in indices)
        return s.base_ru + _doc_ru(s, len(indices), size, s.write_doc_ru, s.write_kb_ru)

    def document_sizes(self) -> list[int]:
        """The size of the document each statement writes: an insert's document, an update's
        replacement or modifier ("u"); 0 for a delete."""
        if self.field == "documents":
            return [len(st) for st in self.statements]
        if self.field == "updates":
            sizes = []
            for st in self.statements:
                u = RawBSONDocument(st).get("u")
                sizes.append(len(u.raw) if isinstance(u, RawBSONDocument) else 0)
            return sizes
        return [0] * len(self.statements)

    def cut(self, msg: OpMsg, k: int) -> OpMsg:
        """The same command carrying only the first k statements."""
        return self.select(msg, range(k))

    def select(self, msg: OpMsg, indices) -> OpMsg:
        """The same command carrying only the statements at ``indices``, in that order."""
        kept = [self.statements[i] for i in indices]
        if not self.in_body:
            return OpMsg(msg.flags, msg.body, {**msg.sequences, self.field: kept})
        body = RawBSONDocument(msg.body)
        return OpMsg(msg.flags, bson.encode(
            {key: ([RawBSONDocument(st) for st in kept] if key == self.field else value)
             for key, value in body.items()}), msg.sequences)
