-- 005: drift events (kind 'drift', from the drift monitor) share the alerts table with anomaly alerts: the sink stores
-- every alerts-topic record that is not a downtime prediction there, and 001's CHECK only allowed 'anomaly' and 'downtime'.
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ('anomaly', 'downtime', 'drift'));
