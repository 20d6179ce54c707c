"""Lambda entry point: ``{batch_id, shard, count}`` -> records + metadata."""

from __future__ import annotations

import logging
from typing import Any

from faker import VERSION as FAKER_VERSION

from .events import parse_generate_event
from .records import generate_records, seed_for

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event: Any, context: Any) -> dict[str, Any]:
    request = parse_generate_event(event)
    records = generate_records(request.batch_id, request.shard, request.count)
    logger.info("generated %d records for batch %s shard %d", len(records), request.batch_id, request.shard)
    return {
        "batch_id": request.batch_id,
        "shard": request.shard,
        "count": len(records),
        "seed": seed_for(request.batch_id, request.shard),
        "faker_version": FAKER_VERSION,
        "records": records,
    }
