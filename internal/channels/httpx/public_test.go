package httpx_test

import (
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

func TestHideAddresses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"meta transient error: GET /v21.0/act_1: could not reach graph.facebook.com: connection refused",
			"meta transient error: GET /v21.0/act_1: could not reach graph.facebook.com: connection refused"},
		{"dial tcp 10.0.3.7:443: connect: connection refused", "dial tcp [address]: connect: connection refused"},
		{"dial tcp db.internal:5432: connect: connection refused", "dial tcp [address]: connect: connection refused"},
		{"dial tcp [fd00::7]:443: i/o timeout", "dial tcp [address]: i/o timeout"},
		{"read tcp 10.1.2.3:51234->52.1.2.3:443: read: connection reset by peer", "read tcp [address]->[address]: read: connection reset by peer"},
		{"lookup graph.facebook.com on 10.0.0.2:53: no such host", "lookup [address] on [address]: no such host"},
		{"load connection c1: failed to connect to `host=pg.internal user=omni database=omni`: dial error",
			"load connection c1: failed to connect to `[address]`: dial error"},
		{"upstream 192.168.1.20 said no", "upstream [address] said no"},
		{"refused to follow a redirect (HTTP 302) to https://login.example.com/x", "refused to follow a redirect (HTTP 302) to https://login.example.com/x"},
		{"token endpoint: invalid_grant: Token has been expired or revoked.", "token endpoint: invalid_grant: Token has been expired or revoked."},
		{"read body", "read body"},
	} {
		if got := httpx.HideAddresses(tc.in); got != tc.want {
			t.Errorf("HideAddresses(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
