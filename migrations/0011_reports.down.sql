DROP TABLE IF EXISTS report_target_failures;
DROP TABLE IF EXISTS report_deliveries;
DROP TABLE IF EXISTS report_artifacts;
DROP TABLE IF EXISTS report_runs;
DROP TABLE IF EXISTS reports;
