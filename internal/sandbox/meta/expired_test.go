package meta_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	metaconn "github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// TestExpiredReportRunIsReadAgain: the report run a cursor points at disappears (Meta
// expires results; a restarted sandbox forgets them). The connector starts a new run for the
// same window instead of failing, and the read still ends with every row.
func TestExpiredReportRunIsReadAgain(t *testing.T) {
	for _, phase := range []string{"while polling", "between rows pages"} {
		t.Run(phase, func(t *testing.T) {
			cfg := sandbox.Config{Now: func() time.Time { return testNow }}
			var current atomic.Pointer[sandbox.Server]
			current.Store(sandbox.New(cfg))
			srv := httptest.NewServer(http.StripPrefix("/meta", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				current.Load().ServeHTTP(w, r)
			})))
			defer srv.Close()
			c := metaconn.New(metaconn.Options{BaseURL: srv.URL + "/meta", PageSize: 20, PollInterval: time.Millisecond})
			req := channels.ReadRequest{Window: win(t, "2025-03-01", today), Level: channels.LevelAd}

			seen := map[string]bool{}
			cur := ""
			swapped := false
			for i := 0; i < 200; i++ {
				p, err := c.ReadPage(context.Background(), demo, req, cur)
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				for _, r := range p.Rows {
					seen[r.AdID+r.Date.Format(channels.DateLayout)] = true
				}
				if p.Next == "" {
					break
				}
				cur = p.Next
				// Forget every report run: after the start call, or after the first rows page.
				if !swapped && ((phase == "while polling" && i == 0) || (phase != "while polling" && len(p.Rows) > 0)) {
					current.Store(sandbox.New(cfg))
					swapped = true
				}
			}
			if !swapped {
				t.Fatal("the sandbox was never restarted")
			}
			want, err := current.Load().Totals(sandbox.DemoAccountID, "2025-03-01", today, "ad")
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != want.Rows {
				t.Fatalf("read %d distinct rows, want %d", len(seen), want.Rows)
			}
		})
	}
}
