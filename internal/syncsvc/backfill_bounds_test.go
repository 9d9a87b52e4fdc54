package syncsvc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// TestStartBackfillRefusesDaysNoProviderServes checks the bound before anything is reserved
// or started: the Service has neither a store nor a Temporal client, so reaching them would
// panic.
func TestStartBackfillRefusesDaysNoProviderServes(t *testing.T) {
	s := &Service{}
	conn := store.Connection{ID: "c1", WorkspaceID: "w1", Channel: "meta"}
	earliest := channels.EarliestBackfillDay(time.Now())
	day := func(d time.Time) string { return d.Format(channels.DateLayout) }
	for _, tc := range []struct{ from, to string }{
		{"0000-01-01", "0000-12-31"},
		{"0000-01-01", day(time.Now())},
		{"1969-12-31", "1970-01-01"},
		{day(earliest.AddDate(0, 0, -1)), day(earliest)},
		{"2024-13-01", "2024-12-31"},
	} {
		_, started, err := s.StartBackfill(context.Background(), conn, tc.from, tc.to)
		var verr *ValidationError
		if !errors.As(err, &verr) || started {
			t.Errorf("%s..%s: got %v (started %v), want a *ValidationError", tc.from, tc.to, err, started)
			continue
		}
		if !strings.Contains(verr.Msg, tc.from) {
			t.Errorf("%s..%s: message %q does not name the day", tc.from, tc.to, verr.Msg)
		}
	}
}
