package billingsvc

import (
	"errors"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
)

// FuzzVerifyEvent signs any payload with the endpoint's secret, as Stripe (or someone who
// stole the secret) would, and checks that verification yields an event or a
// BadEventError (a 400), never a panic; a wrong signature is always refused.
func FuzzVerifyEvent(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","object":"event","type":"invoice.paid","created":1764979200,"data":{"object":{"id":"in_1","object":"invoice"}}}`))
	f.Add([]byte(`{"id":"evt_2","type":"customer.subscription.updated","data":{"object":null}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`not json`))
	const secret = "whsec_fuzz"
	s := &Service{WebhookSecret: secret}
	f.Fuzz(func(t *testing.T, payload []byte) {
		now := time.Now()
		_, err := s.VerifyEvent(payload, stripemock.Sign(payload, secret, now))
		var bad *BadEventError
		if err != nil && !errors.As(err, &bad) {
			t.Fatalf("VerifyEvent(%q): %T %v, want a BadEventError", payload, err, err)
		}
		if _, err := s.VerifyEvent(payload, stripemock.Sign(payload, "whsec_other", now)); err == nil {
			t.Fatalf("a payload signed with another secret was accepted: %q", payload)
		}
	})
}
