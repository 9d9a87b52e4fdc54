DROP TABLE IF EXISTS backfills;
ALTER TABLE connections DROP COLUMN IF EXISTS last_error_at, DROP COLUMN IF EXISTS last_error_workflow_id,
    DROP COLUMN IF EXISTS last_error;
DROP TABLE IF EXISTS sync_run_session_keys;
DROP TABLE IF EXISTS sync_run_ad_keys;
UPDATE sync_runs SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE sync_runs
    DROP COLUMN IF EXISTS rows_removed,
    DROP COLUMN IF EXISTS read_completed_at,
    DROP COLUMN IF EXISTS last_attempt_error,
    DROP COLUMN IF EXISTS stalled_attempts,
    DROP COLUMN IF EXISTS claim_progress,
    DROP COLUMN IF EXISTS progress,
    DROP COLUMN IF EXISTS writer_seq,
    DROP CONSTRAINT sync_runs_status_check,
    ADD CONSTRAINT sync_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'skipped'));
