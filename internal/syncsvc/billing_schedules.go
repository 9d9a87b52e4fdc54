package syncsvc

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

var _ activities.WorkspaceSchedules = (*Service)(nil)

// billingResumedNote replaces SchedulesPausedNote when the episode ends.
const billingResumedNote = "resumed: workspace billing settled"

// PauseWorkspaceSchedules pauses the sync schedule of every connection of the workspace
// that is not disconnected, noting that billing paused it. A schedule already paused (by
// the user, or by an earlier attempt) is left as it is, so resuming never unpauses what
// someone else paused. Connections without a schedule are skipped.
func (s *Service) PauseWorkspaceSchedules(ctx context.Context, workspaceID string) error {
	return s.eachWorkspaceSchedule(ctx, workspaceID, func(h client.ScheduleHandle, paused bool, _ string) error {
		if paused {
			return nil
		}
		return h.Pause(ctx, client.SchedulePauseOptions{Note: activities.SchedulesPausedNote})
	})
}

// ResumeWorkspaceSchedules unpauses the schedules PauseWorkspaceSchedules paused (their
// note says so); schedules paused for any other reason stay paused.
func (s *Service) ResumeWorkspaceSchedules(ctx context.Context, workspaceID string) error {
	return s.eachWorkspaceSchedule(ctx, workspaceID, func(h client.ScheduleHandle, paused bool, note string) error {
		if !paused || note != activities.SchedulesPausedNote {
			return nil
		}
		return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: billingResumedNote})
	})
}

// eachWorkspaceSchedule calls fn with the schedule of each connection of the workspace that
// is not disconnected, and its paused state and note. All are tried; the errors are joined.
func (s *Service) eachWorkspaceSchedule(ctx context.Context, workspaceID string,
	fn func(h client.ScheduleHandle, paused bool, note string) error) error {
	conns, err := s.Store.ListConnections(ctx, workspaceID)
	if err != nil {
		return fmt.Errorf("list connections of workspace %s: %w", workspaceID, err)
	}
	var errs []error
	for _, conn := range conns {
		if conn.Status == store.ConnectionDisconnected {
			continue
		}
		h := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(conn.ID))
		desc, err := h.Describe(ctx)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("describe schedule of connection %s: %w", conn.ID, err))
			continue
		}
		var paused bool
		var note string
		if st := desc.Schedule.State; st != nil {
			paused, note = st.Paused, st.Note
		}
		if err := fn(h, paused, note); err != nil && !errors.As(err, &nf) {
			errs = append(errs, fmt.Errorf("schedule of connection %s: %w", conn.ID, err))
		}
	}
	return errors.Join(errs...)
}
