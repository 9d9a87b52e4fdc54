package workflows

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays histories recorded from real runs on the dev server
// (`temporal workflow show -o json`). A change that would break runs in flight fails here:
// guard it with workflow.GetVersion and record a new history next to the old one.
func TestReplayRecordedHistories(t *testing.T) {
	cases := []struct{ name, file string }{
		{"incremental ChannelSync", "testdata/channel_sync.history.json"},
		{"Backfill with child windows", "testdata/backfill.history.json"},
		{"ChannelSync of Shopify orders", "testdata/channel_sync_shopify.history.json"},
		{"WorkspaceSync of five connections", "testdata/workspace_sync.history.json"},
		{"ChannelSync waiting out 14 TikTok rate limits on timers", "testdata/channel_sync_rate_limited.history.json"},
		{"Backfill cancelled mid-window", "testdata/backfill_cancelled.history.json"},
		{"ChannelSync window of a cancelled backfill", "testdata/channel_sync_cancelled.history.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(ChannelSync, workflow.RegisterOptions{Name: "ChannelSync"})
			r.RegisterWorkflowWithOptions(Backfill, workflow.RegisterOptions{Name: "Backfill"})
			r.RegisterWorkflowWithOptions(WorkspaceSync, workflow.RegisterOptions{Name: "WorkspaceSync"})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, tc.file); err != nil {
				t.Fatalf("replay %s: %v", tc.file, err)
			}
		})
	}
}
