"""What the MWAA environment's source bucket receives: the DAGs, plugins.zip, requirements.txt and startup.sh."""

from __future__ import annotations

from infra.mwaa.bundle import SOURCE_BUCKET_LAYOUT, Bundle, BundleError, BundleFile, SourceBucketLayout, build_bundle

__all__ = ["SOURCE_BUCKET_LAYOUT", "Bundle", "BundleError", "BundleFile", "SourceBucketLayout", "build_bundle"]
