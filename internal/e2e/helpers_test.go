package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// creds are what a request carries to authenticate: a bearer (API key or access token) and
// the workspace a signed-in user names. The zero value is an anonymous caller.
type creds struct {
	bearer, workspace string
}

// send sends a request to the API (path relative to it, or an absolute URL) and returns the
// status and raw body. Redirects are not followed: the OAuth callback's is an answer too.
func (e *env) send(method, path string, c creds, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			if err != nil {
				e.t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = e.API.URL + path
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.workspace != "" {
		req.Header.Set(api.WorkspaceHeader, c.workspace)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// request is send with the JSON answer decoded.
func (e *env) request(method, path string, c creds, body any) (int, map[string]any) {
	e.t.Helper()
	status, raw := e.send(method, path, c, body)
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: status %d, body not JSON: %s", method, path, status, raw)
		}
	}
	return status, out
}

// call sends a request with the workspace's API key and decodes the JSON answer.
func (e *env) call(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	return e.request(method, path, creds{bearer: e.APIKey}, body)
}

// connectMeta connects the sandbox's demo ad account through the API.
func (e *env) connectMeta() string {
	e.t.Helper()
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "meta", "account_id": "act_100200300", "access_token": "sandbox-meta-token",
	})
	if status != http.StatusCreated {
		e.t.Fatalf("create connection: %d %v", status, body)
	}
	return body["id"].(string)
}

// triggerSync starts a sync through the API and returns its workflow id.
func (e *env) triggerSync(connID string) string {
	e.t.Helper()
	status, body := e.call("POST", "/v1/connections/"+connID+"/syncs", nil)
	if status != http.StatusAccepted && status != http.StatusOK {
		e.t.Fatalf("trigger sync: %d %v", status, body)
	}
	return body["workflow_id"].(string)
}

// waitWorkflow waits for the latest run of a workflow and returns its error.
func (e *env) waitWorkflow(workflowID string, timeout time.Duration, result any) error {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	return e.Temporal.GetWorkflow(ctx, workflowID, "").Get(ctx, result)
}

// syncAndWait triggers a sync and waits for it to succeed.
func (e *env) syncAndWait(connID string) workflows.ChannelSyncResult {
	e.t.Helper()
	id := e.triggerSync(connID)
	var res workflows.ChannelSyncResult
	if err := e.waitWorkflow(id, 3*time.Minute, &res); err != nil {
		e.t.Fatalf("sync %s: %v", id, err)
	}
	if res.Status != "succeeded" {
		e.t.Fatalf("sync %s: status %s", id, res.Status)
	}
	return res
}

// tableState is everything about ad_metrics_daily that an idempotent re-run must not change.
type tableState struct {
	Rows        int64
	Spend       int64
	Impressions int64
	Clicks      int64
	Conversions string
	Value       int64
	Digest      string
}

func (e *env) table() tableState {
	e.t.Helper()
	var s tableState
	err := e.Store.Pool.QueryRow(e.ctx, `
		SELECT count(*), coalesce(sum(spend_micros),0), coalesce(sum(impressions),0), coalesce(sum(clicks),0),
			coalesce(sum(conversions),0)::text, coalesce(sum(conversion_value_micros),0),
			coalesce(md5(string_agg(concat_ws('|', channel, account_id, campaign_id, adset_id, ad_id, date,
				campaign_name, adset_name, ad_name, currency, spend_micros, impressions, clicks, conversions,
				conversion_value_micros, synced_at), ',' ORDER BY channel, account_id, campaign_id, adset_id, ad_id, date)), '')
		FROM ad_metrics_daily WHERE workspace_id = $1`, e.Workspace).
		Scan(&s.Rows, &s.Spend, &s.Impressions, &s.Clicks, &s.Conversions, &s.Value, &s.Digest)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// contentOnly drops the synced_at-sensitive digest, for comparing tables loaded by different runs.
func (s tableState) contentOnly() tableState { s.Digest = ""; return s }

// daySpend is the stored spend of one day.
func (e *env) daySpend(day time.Time) int64 {
	e.t.Helper()
	var v int64
	if err := e.Store.Pool.QueryRow(e.ctx, `SELECT coalesce(sum(spend_micros),0) FROM ad_metrics_daily
		WHERE workspace_id = $1 AND date = $2`, e.Workspace, day.Format(channels.DateLayout)).Scan(&v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// runningSyncs lists the running ChannelSync workflows of a connection, by search attribute.
func (e *env) runningSyncs(connID string) []string {
	e.t.Helper()
	resp, err := e.Temporal.ListWorkflow(e.ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: `ConnectionId = "` + connID + `" AND WorkflowType = "ChannelSync" AND ExecutionStatus = "Running"`,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, ex := range resp.GetExecutions() {
		ids = append(ids, ex.GetExecution().GetWorkflowId())
	}
	return ids
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

var _ = client.CheckHealthRequest{}
