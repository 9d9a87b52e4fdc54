package meta_test

import (
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	metaconn "github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// The connector asks for every status, so a deleted or archived ad's delivery is read and
// the rows add up to the sandbox totals.
func TestConnectorReadsDeletedAndArchivedAds(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{PageSize: 50})
	ads := e.sb.Accounts()[0].Campaigns[1].AdSets[1].Ads
	if err := e.sb.SetAdStatus(ads[0].ID, sandbox.StatusDeleted); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.SetAdStatus(ads[1].ID, sandbox.StatusArchived); err != nil {
		t.Fatal(err)
	}
	rows, _, err := readAll(t, e.c, demo, channels.ReadRequest{Level: channels.LevelAd, Window: win(t, "2025-03-01", "2025-03-14")})
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.sb.Totals(sandbox.DemoAccountID, "2025-03-01", "2025-03-14", "ad")
	if err != nil {
		t.Fatal(err)
	}
	var spend int64
	seen := map[string]bool{}
	for _, r := range rows {
		spend += r.SpendMicros
		seen[r.AdID] = true
	}
	if len(rows) != want.Rows || spend != want.SpendMicros {
		t.Errorf("read %d rows, spend %d; sandbox totals %d rows, spend %d", len(rows), spend, want.Rows, want.SpendMicros)
	}
	if !seen[ads[0].ID] || !seen[ads[1].ID] {
		t.Errorf("deleted ad read: %v, archived ad read: %v", seen[ads[0].ID], seen[ads[1].ID])
	}
}
