-- 002: metrics_1m and metrics_1h, the rollups dashboards read.
-- Preferred: continuous aggregates with real-time aggregation (materialized_only = false), so the newest,
-- not-yet-materialized buckets are still answered from raw rows.
-- Fallback (plain PostgreSQL, or TimescaleDB under the Apache license, where continuous aggregates raise
-- feature_not_supported): ordinary tables with the SAME name and columns, refreshed by MaintenanceLoop.
-- Dashboards query the same names either way.

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AND to_regclass('metrics_1m') IS NULL THEN
    -- Both views in one sub-transaction: either both are continuous aggregates or neither is.
    BEGIN
      EXECUTE $v$
        CREATE MATERIALIZED VIEW metrics_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 minute', time) AS bucket, entity, metric,
               count(*) AS samples, avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value
        FROM metrics GROUP BY 1, 2, 3 WITH NO DATA
      $v$;
      EXECUTE $v$
        CREATE MATERIALIZED VIEW metrics_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
        SELECT time_bucket(INTERVAL '1 hour', time) AS bucket, entity, metric,
               count(*) AS samples, avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, sum(value) AS sum_value
        FROM metrics GROUP BY 1, 2, 3 WITH NO DATA
      $v$;
    EXCEPTION WHEN feature_not_supported THEN
      RAISE NOTICE 'continuous aggregates unavailable (%): metrics_1m/metrics_1h become rollup tables refreshed by MaintenanceLoop', SQLERRM;
    END;
  END IF;

  IF to_regclass('metrics_1m') IS NULL THEN
    CREATE TABLE metrics_1m (
      bucket    timestamptz      NOT NULL,
      entity    text             NOT NULL,
      metric    text             NOT NULL,
      samples   bigint           NOT NULL,
      avg_value double precision NOT NULL,
      min_value double precision NOT NULL,
      max_value double precision NOT NULL,
      sum_value double precision NOT NULL,
      PRIMARY KEY (entity, metric, bucket)
    );
    CREATE INDEX metrics_1m_bucket_idx ON metrics_1m (bucket DESC);
    CREATE TABLE metrics_1h (LIKE metrics_1m INCLUDING ALL);
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
      PERFORM create_hypertable('metrics_1m', 'bucket', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false);
      PERFORM create_hypertable('metrics_1h', 'bucket', chunk_time_interval => INTERVAL '90 days', create_default_indexes => false);
    END IF;
  END IF;
END
$$;
