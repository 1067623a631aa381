-- 001: the tables the sink writes and Grafana reads.
-- Idempotent (IF NOT EXISTS everywhere) so a half-applied manual run or a re-run is harmless;
-- the migrator also records the version in schema_migrations and runs this inside one transaction.
--
-- Layout choices (see timescaledb/README.md):
-- * metrics is NARROW (time, entity, metric, value): producers send heterogeneous metric sets that change
--   over time, so a wide table would need a migration per new sensor and would be mostly NULL.
-- * Every time-series table gets (entity, time DESC) - or (entity, metric, time DESC) - because the
--   dominant queries are "one entity over a time range" (drill-down, rollups, feature bands), plus a
--   plain (time DESC) index for fleet-wide "latest N minutes" scans. Default hypertable indexes are
--   disabled so the plain-PostgreSQL fallback gets exactly the same indexes.
-- * Chunk intervals: metrics 6 hours (the highest-volume table: a chunk plus its indexes should stay well
--   under a quarter of RAM); features/anomaly_scores 1 day; alerts/predictions/dead_letters/sink_batches
--   7 days (low volume; fewer, larger chunks keep planning cheap).

CREATE TABLE IF NOT EXISTS metrics (
  time   timestamptz      NOT NULL,
  entity text             NOT NULL,
  metric text             NOT NULL,
  value  double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_entity_metric_time_idx ON metrics (entity, metric, time DESC);
CREATE INDEX IF NOT EXISTS metrics_time_idx ON metrics (time DESC);

CREATE TABLE IF NOT EXISTS features (
  window_start   timestamptz      NOT NULL,
  window_end     timestamptz      NOT NULL,
  entity         text             NOT NULL,
  metric         text             NOT NULL,
  sample_count   integer          NOT NULL,
  mean           double precision NOT NULL,
  std            double precision NOT NULL,
  min_value      double precision NOT NULL,
  max_value      double precision NOT NULL,
  first_value    double precision NOT NULL,
  last_value     double precision NOT NULL,
  slope          double precision NOT NULL,
  ewma           double precision NOT NULL,
  p50            double precision,
  p95            double precision,
  rate_of_change double precision,
  missing_ratio  double precision
);
CREATE INDEX IF NOT EXISTS features_entity_metric_time_idx ON features (entity, metric, window_start DESC);
CREATE INDEX IF NOT EXISTS features_time_idx ON features (window_start DESC);

CREATE TABLE IF NOT EXISTS anomaly_scores (
  time          timestamptz      NOT NULL,
  entity        text             NOT NULL,
  model         text             NOT NULL,
  model_version text             NOT NULL,
  score         double precision NOT NULL,
  threshold     double precision NOT NULL,
  is_anomaly    boolean          NOT NULL
);
CREATE INDEX IF NOT EXISTS anomaly_scores_entity_time_idx ON anomaly_scores (entity, time DESC);
CREATE INDEX IF NOT EXISTS anomaly_scores_time_idx ON anomaly_scores (time DESC);

-- One row per alert event (open, update, resolved); an alert's current state is its latest row.
CREATE TABLE IF NOT EXISTS alerts (
  alert_id      uuid             NOT NULL,
  time          timestamptz      NOT NULL,
  entity        text             NOT NULL,
  kind          text             NOT NULL CHECK (kind IN ('anomaly', 'downtime')),
  status        text             NOT NULL CHECK (status IN ('open', 'update', 'resolved')),
  severity      text             NOT NULL,
  score         double precision NOT NULL,
  threshold     double precision NOT NULL,
  model         text             NOT NULL,
  model_version text             NOT NULL,
  top_metric    text,
  payload       jsonb            NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_entity_time_idx ON alerts (entity, time DESC);
CREATE INDEX IF NOT EXISTS alerts_alert_id_time_idx ON alerts (alert_id, time DESC);
CREATE INDEX IF NOT EXISTS alerts_time_idx ON alerts (time DESC);

CREATE TABLE IF NOT EXISTS predictions (
  time                     timestamptz      NOT NULL,
  entity                   text             NOT NULL,
  model                    text             NOT NULL,
  model_version            text             NOT NULL,
  time_to_downtime_seconds double precision,
  p_5m                     double precision NOT NULL,
  p_15m                    double precision NOT NULL,
  p_30m                    double precision NOT NULL,
  top_metric               text,
  payload                  jsonb            NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_entity_time_idx ON predictions (entity, time DESC);
CREATE INDEX IF NOT EXISTS predictions_time_idx ON predictions (time DESC);

CREATE TABLE IF NOT EXISTS dead_letters (
  time             timestamptz NOT NULL,
  source_topic     text        NOT NULL,
  source_partition integer     NOT NULL,
  source_offset    bigint      NOT NULL,
  reason           text        NOT NULL,
  detail           text        NOT NULL,
  payload          bytea       NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_reason_time_idx ON dead_letters (reason, time DESC);
CREATE INDEX IF NOT EXISTS dead_letters_time_idx ON dead_letters (time DESC);

-- One row per committed sink batch: feeds the pipeline-health dashboard (throughput, latency, lag).
CREATE TABLE IF NOT EXISTS sink_batches (
  time           timestamptz      NOT NULL,
  consumer_group text             NOT NULL,
  rows           integer          NOT NULL,
  duration_ms    double precision NOT NULL,
  lag_ms         double precision
);
CREATE INDEX IF NOT EXISTS sink_batches_time_idx ON sink_batches (time DESC);

CREATE TABLE IF NOT EXISTS model_registry (
  id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model_name    text        NOT NULL,
  version       text        NOT NULL,
  kind          text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  artifact_path text        NOT NULL,
  manifest      jsonb       NOT NULL DEFAULT '{}'::jsonb,
  status        text        NOT NULL DEFAULT 'candidate' CHECK (status IN ('active', 'candidate', 'retired')),
  activated_at  timestamptz,
  UNIQUE (model_name, version)
);

-- Exactly-once: the next Kafka offset to consume, committed in the same transaction as the rows.
CREATE TABLE IF NOT EXISTS sink_offsets (
  consumer_group text        NOT NULL,
  topic          text        NOT NULL,
  partition      integer     NOT NULL,
  next_offset    bigint      NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, topic, partition)
);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    PERFORM create_hypertable('metrics', 'time', chunk_time_interval => INTERVAL '6 hours', create_default_indexes => false, if_not_exists => true);
    PERFORM create_hypertable('features', 'window_start', chunk_time_interval => INTERVAL '1 day', create_default_indexes => false, if_not_exists => true);
    PERFORM create_hypertable('anomaly_scores', 'time', chunk_time_interval => INTERVAL '1 day', create_default_indexes => false, if_not_exists => true);
    PERFORM create_hypertable('alerts', 'time', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false, if_not_exists => true);
    PERFORM create_hypertable('predictions', 'time', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false, if_not_exists => true);
    PERFORM create_hypertable('dead_letters', 'time', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false, if_not_exists => true);
    PERFORM create_hypertable('sink_batches', 'time', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false, if_not_exists => true);
  ELSE
    RAISE NOTICE 'timescaledb extension not installed in this database: time-series tables stay plain PostgreSQL tables';
  END IF;
END
$$;
