"""JSON Lines encoding: one compact record a line, byte-identical on reruns."""

from __future__ import annotations

import json
from typing import Any


def to_jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records).encode()
