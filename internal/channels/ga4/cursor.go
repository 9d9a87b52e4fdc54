package ga4

import (
	"encoding/json"
	"fmt"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
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

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.Offset < 0 || c.Req == "" ||
		(c.Metric != MetricKeyEvents && c.Metric != MetricConversions) {
		return cursor{}, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("invalid ga4 cursor %q", s)}
	}
	return c, nil
}
