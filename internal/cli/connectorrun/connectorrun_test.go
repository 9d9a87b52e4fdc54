package connectorrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

var testNow = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)

// startSandbox serves the sandbox under /meta and makes sleeps instant, recording them.
func startSandbox(t *testing.T) (*sandbox.Server, string, *[]time.Duration) {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Now: func() time.Time { return testNow }})
	mux := http.NewServeMux()
	mux.Handle("/meta/", http.StripPrefix("/meta", sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var slept []time.Duration
	orig := sleep
	sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	}
	t.Cleanup(func() { sleep = orig })
	t.Setenv(tokenEnvMeta, "")
	return sb, srv.URL + "/meta", &slept
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		res = append(res, m)
	}
	return res
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(sortStrings(ks), ",")
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

const campaignKeys = "account_id,campaign_id,campaign_name,channel,clicks,conversion_value_micros,conversions,currency,date,impressions,spend_micros"

func TestCampaignRows(t *testing.T) {
	sb, base, slept := startSandbox(t)
	code, out, errOut := run(t, "--channel", "meta", "--base-url", base, "--account", "act_100200300",
		"--token", sandbox.DefaultToken, "--from", "2025-03-01", "--to", "2025-03-07", "--page-size", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows := lines(t, out)
	if len(rows) != 7*3 {
		t.Fatalf("%d rows; want 21", len(rows))
	}
	want, _ := sb.Totals(sandbox.DemoAccountID, "2025-03-01", "2025-03-07", "campaign")
	var spend, value int64
	for _, r := range rows {
		if keys(r) != campaignKeys {
			t.Fatalf("keys = %s", keys(r))
		}
		if r["channel"] != "meta" || r["account_id"] != "100200300" || r["currency"] != "USD" {
			t.Fatalf("row = %v", r)
		}
		s, _ := r["spend_micros"].(json.Number).Int64()
		v, _ := r["conversion_value_micros"].(json.Number).Int64()
		spend += s
		value += v
		if c := r["conversions"].(json.Number).String(); strings.Contains(c, ".") && strings.HasSuffix(c, "0") {
			t.Errorf("conversions %s has trailing zeros", c)
		}
	}
	if spend != want.SpendMicros || value != want.ConversionValueMicros {
		t.Errorf("spend %d value %d; want %d %d", spend, value, want.SpendMicros, want.ConversionValueMicros)
	}
	// The first status poll answers "Job Running": the command waits the poll interval.
	if len(*slept) != 1 || (*slept)[0] != 5*time.Second {
		t.Errorf("slept %v; want one 5s poll wait", *slept)
	}
	if strings.Contains(out+errOut, sandbox.DefaultToken) {
		t.Error("output shows the token")
	}
	if !strings.Contains(errOut, "level=INFO") || !strings.Contains(errOut, "rows=21") {
		t.Errorf("stderr lacks the slog summary: %s", errOut)
	}
}

func TestFinerLevelsAndFractionalConversions(t *testing.T) {
	sb, base, _ := startSandbox(t)
	// 150% of whole purchases makes halves.
	if err := sb.Restate(sandbox.DemoAccountID, "2025-03-10", 150); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tokenEnvMeta, sandbox.DefaultToken)
	code, out, errOut := run(t, "--channel=meta", "--base-url="+base, "--account=100200300", "--from=2025-03-10", "--to=2025-03-10", "--level=ad")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rows := lines(t, out)
	if len(rows) != 12 {
		t.Fatalf("%d rows", len(rows))
	}
	half := false
	for _, r := range rows {
		if keys(r) != "account_id,ad_id,adset_id,campaign_id,campaign_name,channel,clicks,conversion_value_micros,conversions,currency,date,impressions,spend_micros" {
			t.Fatalf("ad keys = %s", keys(r))
		}
		if r["ad_id"] == "" || r["adset_id"] == "" {
			t.Fatalf("row = %v", r)
		}
		if strings.HasSuffix(r["conversions"].(json.Number).String(), ".5") {
			half = true
		}
	}
	if !half {
		t.Error("no fractional conversions printed after a 150% restatement")
	}
	// The raw line uses a JSON number for conversions, not a string.
	if !strings.Contains(out, `"conversions":`) || strings.Contains(out, `"conversions":"`) {
		t.Errorf("conversions not a JSON number: %s", strings.SplitN(out, "\n", 2)[0])
	}

	code, out, errOut = run(t, "--channel", "meta", "--base-url", base, "--account", "100200300", "--from", "2025-03-10", "--to", "2025-03-10", "--level", "adset")
	if code != 0 {
		t.Fatalf("adset exit %d: %s", code, errOut)
	}
	rows = lines(t, out)
	if len(rows) != 6 || keys(rows[0]) != "account_id,adset_id,campaign_id,campaign_name,channel,clicks,conversion_value_micros,conversions,currency,date,impressions,spend_micros" {
		t.Fatalf("adset rows %d keys %s", len(rows), keys(rows[0]))
	}
}

func TestUsageErrors(t *testing.T) {
	_, base, _ := startSandbox(t)
	ok := []string{"--channel", "meta", "--base-url", base, "--account", "100200300", "--token", "x", "--from", "2025-03-01", "--to", "2025-03-02"}
	with := func(k, v string) []string {
		out := append([]string(nil), ok...)
		for i := 0; i < len(out); i += 2 {
			if out[i] == k {
				out[i+1] = v
				return out
			}
		}
		return append(out, k, v)
	}
	without := func(k string) []string {
		var out []string
		for i := 0; i < len(ok); i += 2 {
			if ok[i] != k {
				out = append(out, ok[i], ok[i+1])
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"bad from", with("--from", "2025-3-1"), `from "2025-3-1" is not a YYYY-MM-DD date`},
		{"bad to", with("--to", "tomorrow"), `to "tomorrow" is not a YYYY-MM-DD date`},
		{"from after to", with("--from", "2025-03-05"), "from 2025-03-05 is after to 2025-03-02"},
		{"missing from", without("--from"), "--from and --to are required"},
		{"unknown channel", with("--channel", "snapchat"), "want one of meta, google_ads, tiktok, shopify, ga4"},
		{"unsupported channel", with("--channel", "tiktok"), "channel tiktok is not supported yet"},
		{"no channel", without("--channel"), "--channel is required"},
		{"bad account", with("--account", "act_12x"), "--account"},
		{"no account", without("--account"), "--account is required"},
		{"no token", without("--token"), "no access token: pass --token or set META_ACCESS_TOKEN"},
		{"bad level", with("--level", "creative"), `--level "creative"`},
		{"bad page size", with("--page-size", "0"), "--page-size must be positive"},
		{"unknown flag", with("--nope", "1"), "flag provided but not defined"},
		{"extra args", append(append([]string(nil), ok...), "extra"), "unexpected arguments: extra"},
	} {
		code, out, errOut := run(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.name, code, errOut, tc.msg)
		}
	}
	if code, _, _ := run(t, "-h"); code != 0 {
		t.Errorf("-h exit %d", code)
	}
}

func TestProviderFailures(t *testing.T) {
	sb, base, slept := startSandbox(t)
	args := []string{"--channel", "meta", "--base-url", base, "--account", "100200300", "--token", sandbox.DefaultToken,
		"--from", "2025-03-01", "--to", "2025-03-02"}

	// Expired token: exit 1 with one clear line, no retries.
	if err := sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, args...)
	if code != 1 || out != "" || len(*slept) != 0 {
		t.Fatalf("expired: exit %d, out %q, slept %v", code, out, *slept)
	}
	if !strings.Contains(errOut, "\nmeta auth error (HTTP 400, code 190): Error validating access token: Session has expired") {
		t.Errorf("expired: stderr %q", errOut)
	}
	if strings.Contains(errOut, sandbox.DefaultToken) {
		t.Error("stderr shows the token")
	}

	// A wrong token.
	sb.ClearFaults()
	bad := append([]string(nil), args...)
	bad[7] = "wrong-secret-token"
	code, _, errOut = run(t, bad...)
	if code != 1 || !strings.Contains(errOut, "meta auth error (HTTP 400, code 190)") || strings.Contains(errOut, "wrong-secret-token") {
		t.Errorf("wrong token: exit %d, %q", code, errOut)
	}

	// Rate limits and server errors are retried; the rows still arrive.
	*slept = nil
	if err := sb.SetFaults(sandbox.Faults{RateLimit: &sandbox.RateLimitFault{Code: 80004, Times: 2, RegainMinutes: 3}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, args...)
	if code != 0 || len(lines(t, out)) != 6 {
		t.Fatalf("rate limited: exit %d, %s", code, errOut)
	}
	if len(*slept) < 2 || (*slept)[0] != 3*time.Minute || (*slept)[1] != 3*time.Minute {
		t.Errorf("rate limited: slept %v; want 3m twice first", *slept)
	}
	*slept = nil
	if err := sb.SetFaults(sandbox.Faults{ServerErrors: 3}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, args...)
	if code != 0 || len(lines(t, out)) != 6 {
		t.Fatalf("server errors: exit %d, %s", code, errOut)
	}
	if len(*slept) < 3 || (*slept)[0] != time.Second || (*slept)[1] != 2*time.Second || (*slept)[2] != 4*time.Second {
		t.Errorf("server errors: slept %v; want 1s, 2s, 4s backoff", *slept)
	}

	// Too many server errors: give up with exit 1.
	if err := sb.SetFaults(sandbox.Faults{ServerErrors: 100}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, args...)
	if code != 1 || !strings.Contains(errOut, "meta transient error (HTTP 500, code 1): An unknown error occurred") {
		t.Errorf("persistent server errors: exit %d, %q", code, errOut)
	}

	// An unreachable base URL: a transient error without the token or a query string.
	sb.ClearFaults()
	code, _, errOut = run(t, "--channel", "meta", "--base-url", "http://127.0.0.1:1/meta", "--account", "100200300",
		"--token", "secret-xyz", "--from", "2025-03-01", "--to", "2025-03-02")
	if code != 1 || strings.Contains(errOut, "secret-xyz") || strings.Contains(errOut, "access_token") {
		t.Errorf("unreachable: exit %d, %q", code, errOut)
	}
}

func TestHighUsageWaits(t *testing.T) {
	sb, base, slept := startSandbox(t)
	if err := sb.SetFaults(sandbox.Faults{HighUsage: true}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "--channel", "meta", "--base-url", base, "--account", "100200300", "--token", sandbox.DefaultToken,
		"--from", "2025-03-01", "--to", "2025-03-01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if len(*slept) == 0 {
		t.Fatal("no waits")
	}
	for _, d := range *slept {
		if d < time.Minute {
			t.Errorf("wait %v under high usage; want >= 1m", d)
		}
	}
}

func TestCancelled(t *testing.T) {
	_, base, _ := startSandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"--channel", "meta", "--base-url", base, "--account", "100200300", "--token", sandbox.DefaultToken,
		"--from", "2025-03-01", "--to", "2025-03-01"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "context canceled") {
		t.Errorf("cancelled: exit %d, %q", code, errb.String())
	}
}
