"""The batch summary a run shows in the Airflow UI: counts and top quarantine reasons, never a record.

``read_manifest`` pushes it as the XCom ``batch_summary``. The UI shows an XCom as the metadata
database holds it, so the summary stays under the object-storage backend's threshold: the row is
the summary itself, not the path of an S3 object.
"""

from __future__ import annotations

from typing import Any

from employee_pipeline.manifest import Manifest
from employee_pipeline.quality import top_reasons

XCOM_KEY = "batch_summary"
# Reasons are the Glue job's fixed labels (32 characters at most): the cap only keeps an
# unexpected one from pushing the summary over the threshold.
REASON_CHARS = 40


def batch_summary(manifest: Manifest, bucket: str) -> dict[str, Any]:
    """What the batch's load read, kept and quarantined, the top reasons, and where the quarantined rows are."""
    read, quarantined = manifest.read, manifest.quarantined
    return {
        "batch_id": manifest.batch_id,
        "read": read,
        "valid": manifest.valid,
        "quarantined": quarantined,
        "quarantined_fraction": round(quarantined / read, 4) if read else 0.0,
        "top_quarantine_reasons": {reason[:REASON_CHARS]: int(count) for reason, count in top_reasons(manifest)},
        "quarantine": f"s3://{bucket}/{manifest.quarantine_prefix}",
    }
