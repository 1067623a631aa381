-- 007: the sink's stored offsets know which Kafka cluster they count. Offsets of another cluster's topics (a demo on the
-- embedded Kafka, then a run against a real broker on the same database) must stop the sink with a clear error instead of
-- skipping that cluster's records. NULL: stored before this migration (not checked until the next batch stamps it).
ALTER TABLE sink_offsets ADD COLUMN IF NOT EXISTS cluster_id text;
