-- 005: per-entity models and drift events.
-- * model_registry.entity: NULL for a fleet model, the entity's name for a model trained on that entity alone
--   (`streaming train --entity X`, used with Models:Scope=PerEntity). One version is active per (model_name, entity).
-- * drift events (kind 'drift', from the drift monitor) share the alerts table with anomaly alerts: the sink stores every
--   alerts-topic record that is not a downtime prediction there, and 001's CHECK only allowed 'anomaly' and 'downtime'.
ALTER TABLE model_registry ADD COLUMN IF NOT EXISTS entity text;
CREATE INDEX IF NOT EXISTS model_registry_entity_status_idx ON model_registry (model_name, entity, status);

ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ('anomaly', 'downtime', 'drift'));
