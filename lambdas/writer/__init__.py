"""Writer Lambda: one shard's records -> one JSON Lines object in S3."""
