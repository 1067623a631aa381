-- 006: each processor output is stored once, whatever the topic repeats.
-- The processor publishes features, scores and alert events at least once on brokers whose transactions do not hide an
-- aborted batch (librdkafka's mock cluster; a kill between a batch's flush and its commit repeats that batch). The sink
-- therefore inserts these rows with ON CONFLICT DO NOTHING against these natural keys (each includes the hypertable's
-- time column, as TimescaleDB requires). Duplicates already stored are removed first. Where the server refuses (e.g.
-- compressed chunks), the key is skipped with a NOTICE and rows are inserted as before.
DO $$
BEGIN
  BEGIN
    DELETE FROM features a USING features b
      WHERE a.window_start = b.window_start AND a.entity = b.entity AND a.metric = b.metric AND a.ctid > b.ctid;
    CREATE UNIQUE INDEX IF NOT EXISTS features_natural_key ON features (entity, metric, window_start);
  EXCEPTION WHEN feature_not_supported OR object_not_in_prerequisite_state THEN
    RAISE NOTICE 'features: no unique natural key (%)', SQLERRM;
  END;
  BEGIN
    DELETE FROM anomaly_scores a USING anomaly_scores b
      WHERE a.time = b.time AND a.entity = b.entity AND a.model = b.model AND a.model_version = b.model_version AND a.ctid > b.ctid;
    CREATE UNIQUE INDEX IF NOT EXISTS anomaly_scores_natural_key ON anomaly_scores (entity, model, model_version, time);
  EXCEPTION WHEN feature_not_supported OR object_not_in_prerequisite_state THEN
    RAISE NOTICE 'anomaly_scores: no unique natural key (%)', SQLERRM;
  END;
  BEGIN
    DELETE FROM alerts a USING alerts b
      WHERE a.time = b.time AND a.payload->>'event_id' = b.payload->>'event_id' AND a.ctid > b.ctid;
    CREATE UNIQUE INDEX IF NOT EXISTS alerts_event_key ON alerts ((payload->>'event_id'), time);
  EXCEPTION WHEN feature_not_supported OR object_not_in_prerequisite_state THEN
    RAISE NOTICE 'alerts: no unique event key (%)', SQLERRM;
  END;
  BEGIN
    DELETE FROM predictions a USING predictions b
      WHERE a.time = b.time AND a.payload->>'event_id' = b.payload->>'event_id' AND a.ctid > b.ctid;
    CREATE UNIQUE INDEX IF NOT EXISTS predictions_event_key ON predictions ((payload->>'event_id'), time);
  EXCEPTION WHEN feature_not_supported OR object_not_in_prerequisite_state THEN
    RAISE NOTICE 'predictions: no unique event key (%)', SQLERRM;
  END;
END $$;
