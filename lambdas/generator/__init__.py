"""Generator Lambda: deterministic mock employees for one (batch, shard)."""
