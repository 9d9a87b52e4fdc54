package ga4

import (
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
)

// cursor is the state of a read between ReadSessions calls. It is stored in the database
// and in Temporal heartbeats, so it holds no secret: only the paging position, the name of
// the key-event metric the property accepts and the window it belongs to.
type cursor struct {
	// Offset is the report row of the next page.
	Offset int64 `json:"offset"`
	// Metric is MetricKeyEvents or MetricConversions.
	Metric string `json:"metric"`
	// Req is the window (Window.String) the cursor belongs to.
	Req string `json:"req"`
}

func (c cursor) encode() string { return cursorx.Encode(c) }

func decodeCursor(s string) (cursor, error) {
	return cursorx.Decode(channels.GA4, "ga4", s, func(c cursor) bool {
		return c.Offset >= 0 && c.Req != "" && (c.Metric == MetricKeyEvents || c.Metric == MetricConversions)
	})
}
