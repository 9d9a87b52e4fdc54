package mailpit_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/mailpit"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
)

// TestSMTPToMailpit sends through the real SMTP sender to a real mailpit and reads it back.
func TestSMTPToMailpit(t *testing.T) {
	bin, err := mailpit.Bin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := mailpit.Start(ctx, bin, "127.0.0.1:0", "127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	m, err := notify.NewSMTP(p.SMTPURL(), "OmniTrackIQ <no-reply@omnitrackiq.test>")
	if err != nil {
		t.Fatal(err)
	}
	body := "Héllo, a line longer than seventy-six characters so quoted-printable has to wrap it somewhere."
	if err := m.Send(ctx, notify.Message{To: []string{"Ana@Example.com"}, Subject: "Bienvenue à OmniTrackIQ", Text: body, HTML: "<p>" + body + "</p>"}); err != nil {
		t.Fatal(err)
	}
	c := &mailpit.Client{BaseURL: p.HTTPURL}
	got, err := c.WaitFor(ctx, "ana@example.com", "Bienvenue", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "Bienvenue à OmniTrackIQ" || strings.TrimSpace(got.Text) != body || !strings.Contains(got.HTML, body) {
		t.Fatalf("got subject %q text %q html %q", got.Subject, got.Text, got.HTML)
	}
	if got.From.Address != "no-reply@omnitrackiq.test" {
		t.Fatalf("from = %+v", got.From)
	}
}
