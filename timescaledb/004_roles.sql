-- 004: application roles. NOLOGIN group roles: deployments create LOGIN users that are members
-- (e.g. CREATE ROLE grafana LOGIN PASSWORD '...' IN ROLE streaming_reader), so no password lives here.
-- Roles are cluster-wide while this migration runs per database, so two databases migrating at once can
-- race on CREATE ROLE; the loser's duplicate error means the role now exists, which is all we need.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'streaming_writer') THEN
    BEGIN
      CREATE ROLE streaming_writer NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      RAISE NOTICE 'streaming_writer was created concurrently by another migrator';
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'streaming_reader') THEN
    BEGIN
      CREATE ROLE streaming_reader NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      RAISE NOTICE 'streaming_reader was created concurrently by another migrator';
    END;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO streaming_writer, streaming_reader;

-- The sink: append-only on time-series tables, upsert on offsets, registry maintenance.
GRANT SELECT, INSERT ON metrics, features, anomaly_scores, alerts, predictions, dead_letters, sink_batches TO streaming_writer;
GRANT SELECT, INSERT, UPDATE ON sink_offsets, model_registry TO streaming_writer;
GRANT SELECT ON metrics_1m, metrics_1h TO streaming_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO streaming_writer;

-- Grafana: read everything (views and continuous aggregates included), write nothing.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO streaming_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO streaming_reader;
