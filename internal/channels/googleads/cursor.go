package googleads

import (
	"encoding/json"
	"fmt"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// cursor is the state of a read between ReadPage calls. It is stored in the database and in
// Temporal heartbeats, so it holds no credential: Google's page token and bookkeeping.
type cursor struct {
	// Req identifies the request (level and window) the cursor belongs to.
	Req string `json:"req"`
	// PageToken is the nextPageToken of the previous page.
	PageToken string `json:"page_token"`
	// Restarts counts reads started again after a rejected page token.
	Restarts int `json:"restarts,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// decodeCursor parses a cursor and checks that it belongs to the request fp.
func decodeCursor(s, fp string) (cursor, error) {
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.Req == "" || c.PageToken == "" || c.Restarts < 0 {
		return cursor{}, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("invalid google ads cursor %q", s)}
	}
	if c.Req != fp {
		return cursor{}, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
			Message: fmt.Sprintf("cursor belongs to another read (%s), not %s", c.Req, fp)}
	}
	return c, nil
}

func fingerprint(level channels.Level, w channels.Window) string {
	return fmt.Sprintf("%s:%s", level, w.String())
}
