package activities

import (
	"context"
	"errors"
)

// errReportsPending marks the report activities the foundation commit declares and the
// next commits implement.
var errReportsPending = errors.New("report activities: not built yet")

// PrepareReportRun creates (or finds) the run row and its delivery rows.
func (r *Reports) PrepareReportRun(ctx context.Context, in PrepareReportRunInput) (PreparedReportRun, error) {
	return PreparedReportRun{}, errReportsPending
}

// RenderReport queries, renders and stores the run's artifacts.
func (r *Reports) RenderReport(ctx context.Context, in RenderReportInput) (RenderedReport, error) {
	return RenderedReport{}, errReportsPending
}

// DeliverReport sends one delivery unless it was already sent.
func (r *Reports) DeliverReport(ctx context.Context, in DeliverReportInput) (DeliveredReport, error) {
	return DeliveredReport{}, errReportsPending
}

// RecordDeliveryFailure marks a delivery failed and counts the target's streak.
func (r *Reports) RecordDeliveryFailure(ctx context.Context, in DeliveryFailedInput) (DeliveryFailureOutcome, error) {
	return DeliveryFailureOutcome{}, errReportsPending
}

// FinishReportRun records the run's outcome.
func (r *Reports) FinishReportRun(ctx context.Context, in FinishReportRunInput) error {
	return errReportsPending
}
