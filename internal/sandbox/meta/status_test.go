package meta_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	metaconn "github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// insightsAds reads the synchronous insights of the demo account at ad level over two days
// with the given filtering parameter ("" for none) and returns the ad ids seen and the
// spend in micros, or the Graph error code.
func insightsAds(t *testing.T, e *env, filtering string) (ads map[string]bool, spend int64, code int) {
	t.Helper()
	q := url.Values{
		"access_token": {sandbox.DefaultToken}, "level": {"ad"}, "time_increment": {"1"}, "limit": {"5000"},
		"fields":     {`["ad_id","spend"]`},
		"time_range": {`{"since":"2025-03-01","until":"2025-03-02"}`},
	}
	if filtering != "" {
		q.Set("filtering", filtering)
	}
	resp, err := http.Get(e.srv.URL + "/meta/v23.0/act_" + sandbox.DemoAccountID + "/insights?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct {
			AdID  string `json:"ad_id"`
			Spend string `json:"spend"`
		} `json:"data"`
		Error *struct {
			Code int    `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Error != nil {
		if resp.StatusCode != http.StatusBadRequest || body.Error.Type != "OAuthException" {
			t.Errorf("error answer: HTTP %d type %s", resp.StatusCode, body.Error.Type)
		}
		return nil, 0, body.Error.Code
	}
	ads = map[string]bool{}
	for _, r := range body.Data {
		ads[r.AdID] = true
		m, err := money.ParseMicros(r.Spend)
		if err != nil {
			t.Fatal(err)
		}
		spend += m
	}
	return ads, spend, 0
}

func TestDeletedAndArchivedAdsNeedTheStatusFilter(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{})
	ads := e.sb.Accounts()[0].Campaigns[0].AdSets[0].Ads
	deleted, archived := ads[0].ID, ads[1].ID
	if err := e.sb.SetAdStatus(deleted, sandbox.StatusDeleted); err != nil {
		t.Fatal(err)
	}
	code, body := adminDo(t, "POST", e.srv.URL+"/meta/_sandbox/ad_status", `{"ad_id":"`+archived+`","effective_status":"ARCHIVED"}`)
	if code != 200 || e.sb.AdStatus(archived) != sandbox.StatusArchived {
		t.Fatalf("POST ad_status: %d %s", code, body)
	}
	total, err := e.sb.Totals(sandbox.DemoAccountID, "2025-03-01", "2025-03-02", "ad")
	if err != nil {
		t.Fatal(err)
	}
	every, _ := json.Marshal([]map[string]any{{"field": "ad.effective_status", "operator": "IN", "value": sandbox.AdEffectiveStatuses}})

	cases := []struct {
		name         string
		filtering    string
		wantDeleted  bool
		wantArchived bool
		wantAds      int
	}{
		{"no filter hides deleted and archived", "", false, false, 10},
		{"every status shows them", string(every), true, true, 12},
		{"IN ARCHIVED only", `[{"field":"ad.effective_status","operator":"IN","value":["ARCHIVED"]}]`, false, true, 1},
		{"NOT_IN DELETED", `[{"field":"ad.effective_status","operator":"NOT_IN","value":["DELETED"]}]`, false, true, 11},
		{"EQUAL DELETED", `[{"field":"ad.effective_status","operator":"EQUAL","value":"DELETED"}]`, true, false, 1},
		{"empty list keeps the default", `[]`, false, false, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, spend, code := insightsAds(t, e, tc.filtering)
			if code != 0 {
				t.Fatalf("error code %d", code)
			}
			if got[deleted] != tc.wantDeleted || got[archived] != tc.wantArchived || len(got) != tc.wantAds {
				t.Errorf("deleted shown %v, archived shown %v, %d ads; want %v, %v, %d",
					got[deleted], got[archived], len(got), tc.wantDeleted, tc.wantArchived, tc.wantAds)
			}
			if tc.wantAds == 12 && spend != total.SpendMicros {
				t.Errorf("every status: spend %d, totals %d", spend, total.SpendMicros)
			}
			if tc.wantAds < 12 && spend >= total.SpendMicros {
				t.Errorf("a filtered report has spend %d, not below the totals %d", spend, total.SpendMicros)
			}
		})
	}

	// Totals count every ad whatever its status; the accounts endpoint shows the statuses.
	if all, _ := e.sb.Totals(sandbox.DemoAccountID, "2025-03-01", "2025-03-02", "ad"); all.Rows != 24 {
		t.Errorf("totals rows = %d, want 24 (12 ads x 2 days)", all.Rows)
	}
	if got := e.sb.Accounts()[0].Campaigns[0].AdSets[0].Ads[0].Status; got != sandbox.StatusDeleted {
		t.Errorf("Accounts shows status %q", got)
	}
}

func TestMalformedFilteringIsCode100(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{})
	for _, f := range []string{
		`not json`,
		`{"field":"ad.effective_status","operator":"IN","value":["ACTIVE"]}`,
		`[{"field":"ad.effective_status","operator":"IN"}]`,
		`[{"field":"ad.effective_status","operator":"WITHIN","value":["ACTIVE"]}]`,
		`[{"field":"ad.effective_status","operator":"IN","value":["GONE"]}]`,
		`[{"field":"ad.effective_status","operator":"IN","value":"ACTIVE"}]`,
		`[{"field":"campaign.name","operator":"CONTAIN","value":"Brand"}]`,
	} {
		if _, _, code := insightsAds(t, e, f); code != 100 {
			t.Errorf("filtering %s: code %d, want 100", f, code)
		}
	}
	for _, bad := range []string{`{"ad_id":"1","effective_status":"DELETED"}`, `{"ad_id":"x","effective_status":"GONE"}`, `{"nope":1}`} {
		if code, body := adminDo(t, "POST", e.srv.URL+"/meta/_sandbox/ad_status", bad); code != 400 || !strings.Contains(body, "error") {
			t.Errorf("POST ad_status %s: %d %s", bad, code, body)
		}
	}
}
