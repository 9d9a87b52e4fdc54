package activities

import (
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// TestOrdersReadBounds: an incremental orders read starts ordersCursorOverlap before the
// cursor; a backfill window covers its days' creation times in the shop's timezone.
func TestOrdersReadBounds(t *testing.T) {
	cursor := time.Date(2026, 11, 20, 15, 4, 5, 0, time.UTC)
	conn := store.Connection{Timezone: "America/New_York", CursorUpdatedAt: &cursor}
	w := channels.Window{From: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)}
	if got, want := *ordersUpdatedMin(conn, kindIncremental, w), cursor.Add(-5*time.Minute); !got.Equal(want) {
		t.Errorf("incremental updated_at_min %s, want %s", got, want)
	}
	ny, _ := time.LoadLocation("America/New_York")
	from, to := ordersCreatedRange(w, ny)
	if want := time.Date(2026, 10, 1, 4, 0, 0, 0, time.UTC); !from.Equal(want) {
		t.Errorf("created_at_min %s, want %s", from.UTC(), want)
	}
	if want := time.Date(2026, 10, 31, 3, 59, 59, 999_999_999, time.UTC); !to.Equal(want) {
		t.Errorf("created_at_max %s, want %s", to.UTC(), want)
	}
}
