package meta

import (
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
)

const (
	phasePoll = "poll"
	phaseRows = "rows"
)

// cursor is the state of a read between ReadPage calls. It is stored in the database and in
// Temporal heartbeats, so it holds no secret: only the report run, the paging position and
// bookkeeping.
type cursor struct {
	// Run is the report_run_id of the async job.
	Run string `json:"run"`
	// Phase is "poll" while the run is not known to be complete, "rows" once rows are read.
	Phase string `json:"phase"`
	// After is Meta's paging cursor of the next rows page ("" = first page).
	After string `json:"after,omitempty"`
	// Restarts counts report runs started again after a failed or skipped one.
	Restarts int `json:"restarts,omitempty"`
	// Started is when the current run was started (unix seconds), for the job timeout.
	Started int64 `json:"started,omitempty"`
	// Req identifies the request (level and window) the cursor belongs to.
	Req string `json:"req"`
}

func (c cursor) encode() string { return cursorx.Encode(c) }

func decodeCursor(s string) (cursor, error) {
	return cursorx.Decode(channels.Meta, "meta", s, func(c cursor) bool {
		return c.Run != "" && (c.Phase == phasePoll || c.Phase == phaseRows)
	})
}
