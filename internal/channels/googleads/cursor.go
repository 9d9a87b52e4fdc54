package googleads

import (
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
)

// cursor is the state of a read between ReadPage calls. It is stored in the database and in
// Temporal heartbeats, so it holds no credential: Google's page token and bookkeeping.
type cursor struct {
	// Req identifies the request (level and window) the cursor belongs to.
	Req string `json:"req"`
	// Phase is the query the read is in (phaseAdGroups, phaseCampaigns); cursors of older
	// releases have none and are in the first.
	Phase int `json:"phase,omitempty"`
	// PageToken is the nextPageToken of the previous page; empty at the start of a phase.
	PageToken string `json:"page_token"`
	// Restarts counts reads started again after a rejected page token.
	Restarts int `json:"restarts,omitempty"`
}

func (c cursor) encode() string { return cursorx.Encode(c) }

// decodeCursor parses a cursor and checks that it belongs to the request fp.
func decodeCursor(s, fp string) (cursor, error) {
	c, err := cursorx.Decode(channels.GoogleAds, "google ads", s, func(c cursor) bool {
		return c.Req != "" && c.Restarts >= 0 &&
			(c.Phase == phaseAdGroups && c.PageToken != "" || c.Phase == phaseCampaigns)
	})
	if err != nil {
		return cursor{}, err
	}
	if c.Req != fp {
		return cursor{}, cursorx.Mismatch(channels.GoogleAds, c.Req, fp)
	}
	return c, nil
}
