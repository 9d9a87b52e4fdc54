-- GET /v1/audit pages newest first by id within a workspace.
DROP INDEX IF EXISTS audit_log_workspace_idx;
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, id DESC);
