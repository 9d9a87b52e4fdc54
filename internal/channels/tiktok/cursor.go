package tiktok

import (
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
)

// cursor is the state of a read between ReadPage calls. It is stored in the database and in
// Temporal heartbeats, so it holds no secret: only the position and the advertiser currency.
type cursor struct {
	// Slice is the index of the 30-day slice of the window being read (0 = the first).
	Slice int `json:"slice"`
	// Page is the report page of the slice to read next (1-based, as TikTok counts).
	Page int `json:"page"`
	// Size is the page_size the read started with: page numbers only mean the same rows with
	// the same size, so a resumed read keeps it even if the client's PageSize changed.
	Size int `json:"size"`
	// Currency is the advertiser's currency, read once from advertiser/info/ per read.
	Currency string `json:"currency,omitempty"`
	// Req identifies the request (level and window) the cursor belongs to.
	Req string `json:"req"`
}

func (c cursor) encode() string { return cursorx.Encode(c) }

func decodeCursor(s string) (cursor, error) {
	return cursorx.Decode(channels.TikTok, "tiktok", s, func(c cursor) bool {
		return c.Slice >= 0 && c.Page >= 1 && c.Size >= 1 && c.Size <= MaxPageSize && c.Req != ""
	})
}
