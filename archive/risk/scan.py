"""The offline scan contract (kept stable: it is how the product is evaluated).

Input lines: {"id", "text", "sender_role"} or {"id", "messages": [{"sender_role", "text"}, …]}.
Output, one line per input line: {"id", "labels", "findings": [{"category", "tier", "rule", "span",
"message_index"}]} or {"id", "error"} for a line that cannot be scanned. Streams; never stops on bad input."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from archive.risk.analyzer import Analyzer, Finding
from archive.risk.conversation import score_conversation


def scan_record(analyzer: Analyzer, rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict):
        return {"id": None, "error": "line is not a JSON object"}
    rid = rec.get("id")
    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not all(
            isinstance(m, dict) and isinstance(m.get("text"), str) for m in msgs
        ):
            return {"id": rid, "error": "messages must be a list of objects with a text string"}
        pairs = [(m["text"], _role(m.get("sender_role"))) for m in msgs]
        findings = score_conversation(analyzer, pairs)
    elif isinstance(rec.get("text"), str):
        findings = analyzer.scan_message(rec["text"], _role(rec.get("sender_role"))).findings
    else:
        return {"id": rid, "error": "record needs a text string or a messages list"}
    return {
        "id": rid,
        "labels": sorted({f.category for f in findings}),
        "findings": [f.as_dict() for f in findings],
    }


def _role(value: Any) -> str | None:
    return value if value in ("employee", "customer") else None


def scan_lines(analyzer: Analyzer, lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    for raw in lines:
        if not raw.strip():
            continue
        try:
            rec = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield {"id": None, "error": f"invalid JSON: {exc.msg}"}
            continue
        try:
            yield scan_record(analyzer, rec)
        except Exception as exc:  # one bad record never stops the stream
            rid = rec.get("id") if isinstance(rec, dict) else None
            yield {"id": rid, "error": f"scan failed: {type(exc).__name__}"}


def scan_stream(analyzer: Analyzer, src: IO[bytes], dst: IO[bytes]) -> tuple[int, int]:
    """Returns (records written, errors)."""
    n = errors = 0
    for out in scan_lines(analyzer, src):
        dst.write(orjson.dumps(out) + b"\n")
        n += 1
        errors += "error" in out
    return n, errors


__all__ = ["Finding", "scan_lines", "scan_record", "scan_stream"]
