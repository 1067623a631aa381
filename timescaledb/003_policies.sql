-- 003: compression, retention and continuous-aggregate refresh policies, where the server offers them.
-- Each group is tried in its own sub-transaction: under the Apache license every one of these raises
-- feature_not_supported, which is reported as a NOTICE (the migrator logs notices) and the capability
-- check then reports the feature as absent, so MaintenanceLoop takes over retention and rollup refresh.
-- Retention periods match MaintenanceOptions' defaults: raw 30 days, events 90 days, 1m rollup 90 days,
-- 1h rollup 730 days.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    RAISE NOTICE 'timescaledb extension not installed: no compression, retention or refresh policies';
    RETURN;
  END IF;

  -- Segment by entity (and metric) so per-entity range queries decompress only their own segments.
  BEGIN
    ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'entity, metric', timescaledb.compress_orderby = 'time DESC');
    ALTER TABLE features SET (timescaledb.compress, timescaledb.compress_segmentby = 'entity, metric', timescaledb.compress_orderby = 'window_start DESC');
    ALTER TABLE anomaly_scores SET (timescaledb.compress, timescaledb.compress_segmentby = 'entity', timescaledb.compress_orderby = 'time DESC');
    PERFORM add_compression_policy('metrics', INTERVAL '1 day', if_not_exists => true);
    PERFORM add_compression_policy('features', INTERVAL '3 days', if_not_exists => true);
    PERFORM add_compression_policy('anomaly_scores', INTERVAL '3 days', if_not_exists => true);
  EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'compression unavailable (%)', SQLERRM;
  END;

  BEGIN
    PERFORM add_retention_policy('metrics', INTERVAL '30 days', if_not_exists => true);
    PERFORM add_retention_policy('features', INTERVAL '30 days', if_not_exists => true);
    PERFORM add_retention_policy('anomaly_scores', INTERVAL '30 days', if_not_exists => true);
    PERFORM add_retention_policy('sink_batches', INTERVAL '30 days', if_not_exists => true);
    PERFORM add_retention_policy('alerts', INTERVAL '90 days', if_not_exists => true);
    PERFORM add_retention_policy('predictions', INTERVAL '90 days', if_not_exists => true);
    PERFORM add_retention_policy('dead_letters', INTERVAL '90 days', if_not_exists => true);
    PERFORM add_retention_policy('metrics_1m', INTERVAL '90 days', if_not_exists => true);
    PERFORM add_retention_policy('metrics_1h', INTERVAL '730 days', if_not_exists => true);
  EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'retention policies unavailable (%): MaintenanceLoop applies retention', SQLERRM;
  END;

  IF EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = 'metrics_1m') THEN
    BEGIN
      PERFORM add_continuous_aggregate_policy('metrics_1m', start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 minute',
                                              schedule_interval => INTERVAL '1 minute', if_not_exists => true);
      PERFORM add_continuous_aggregate_policy('metrics_1h', start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
                                              schedule_interval => INTERVAL '30 minutes', if_not_exists => true);
    EXCEPTION WHEN feature_not_supported THEN
      RAISE NOTICE 'continuous aggregate policies unavailable (%): MaintenanceLoop refreshes the aggregates', SQLERRM;
    END;
  END IF;
END
$$;
