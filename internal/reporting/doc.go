// Package reporting is where a report meets the KPIs: it validates a definition against
// the metrics, dimensions and filters the analytics package can compute (Validator), and
// queries and formats a run's numbers into a report.Document (Build). It is apart from
// package report, whose types the store holds, so that the analytics package's own tests
// (which use the store through testdb) do not import themselves.
package reporting
