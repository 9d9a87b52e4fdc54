package notify

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
)

// part is one leaf of a parsed message.
type part struct {
	ctype, filename string
	body            []byte
}

// parse reads a rendered message back with net/mail and mime/multipart, as a client
// would, and returns its header and its leaves in order (quoted-printable and base64
// decoded).
func parse(t *testing.T, raw []byte) (mail.Header, []part) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	var leaves []part
	var walk func(ctype, cte, disposition string, body io.Reader)
	walk = func(ctype, cte, disposition string, body io.Reader) {
		media, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			t.Fatalf("content type %q: %v", ctype, err)
		}
		if strings.HasPrefix(media, "multipart/") {
			r := multipart.NewReader(body, params["boundary"])
			for {
				p, err := r.NextPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("next part of %s: %v", media, err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
			}
		}
		if cte == "base64" {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("read %s: %v", media, err)
		}
		leaf := part{ctype: media, body: b}
		if disposition != "" {
			_, dp, err := mime.ParseMediaType(disposition)
			if err != nil {
				t.Fatalf("disposition %q: %v", disposition, err)
			}
			leaf.filename = dp["filename"]
		}
		leaves = append(leaves, leaf)
	}
	walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return msg.Header, leaves
}

func newTestSMTP(t *testing.T) *SMTP {
	t.Helper()
	s, err := NewSMTP("smtp://127.0.0.1:2525", "OmniTrackIQ <reports@omnitrackiq.example>")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRenderAttachments(t *testing.T) {
	binary := make([]byte, 1000) // every byte value, several base64 lines
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	csvFile := []byte("Channel,Revenue\r\nTotal,1234.56\r\n")
	for _, tc := range []struct {
		name string
		html string
		want []part
	}{
		{"text and html", "<p>Weekly performance</p>", []part{
			{ctype: "text/plain", body: []byte("Weekly performance: 2026-03-02 – 2026-03-08")},
			{ctype: "text/html", body: []byte("<p>Weekly performance</p>")},
			{ctype: "text/csv", filename: "weekly_2026-03-02_2026-03-08.csv", body: csvFile},
			{ctype: "application/pdf", filename: "Größe – Bericht.pdf", body: binary},
		}},
		{"text only", "", []part{
			{ctype: "text/plain", body: []byte("Weekly performance: 2026-03-02 – 2026-03-08")},
			{ctype: "text/csv", filename: "weekly_2026-03-02_2026-03-08.csv", body: csvFile},
			{ctype: "application/pdf", filename: "Größe – Bericht.pdf", body: binary},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := newTestSMTP(t).render(Message{
				To:        []string{"ana@example.com"},
				Subject:   "Weekly performance: 2026-03-02 – 2026-03-08",
				Text:      "Weekly performance: 2026-03-02 – 2026-03-08",
				HTML:      tc.html,
				MessageID: "run_1.ana@omnitrackiq.example",
				Attachments: []Attachment{
					{Filename: "weekly_2026-03-02_2026-03-08.csv", ContentType: "text/csv; charset=utf-8", Content: csvFile},
					{Filename: "Größe – Bericht.pdf", ContentType: "application/pdf", Content: binary},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			hdr, leaves := parse(t, raw)
			if got := hdr.Get("Message-ID"); got != "<run_1.ana@omnitrackiq.example>" {
				t.Errorf("Message-ID %q", got)
			}
			if media, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); media != "multipart/mixed" {
				t.Errorf("top content type %q, want multipart/mixed", media)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(hdr.Get("Subject"))
			if err != nil || subject != "Weekly performance: 2026-03-02 – 2026-03-08" {
				t.Errorf("subject %q (%v)", subject, err)
			}
			if len(leaves) != len(tc.want) {
				t.Fatalf("%d parts, want %d", len(leaves), len(tc.want))
			}
			for i, w := range tc.want {
				got := leaves[i]
				if got.ctype != w.ctype || got.filename != w.filename || !bytes.Equal(got.body, w.body) {
					t.Errorf("part %d = %s %q %d bytes, want %s %q %d bytes", i, got.ctype, got.filename, len(got.body), w.ctype, w.filename, len(w.body))
				}
			}
			// Every line of the message is short, base64 ones 76 characters at most.
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				if len(sc.Text()) > 998 {
					t.Fatalf("line of %d characters", len(sc.Text()))
				}
			}
			if !bytes.Contains(raw, []byte("Content-Disposition: attachment; filename*=utf-8''Gr%C3%B6%C3%9Fe%20%E2%80%93%20Bericht.pdf\r\n")) {
				t.Errorf("no RFC 2231 file name for Größe – Bericht.pdf in\n%s", raw)
			}
			if !bytes.Contains(raw, []byte(`Content-Type: application/pdf; name="=?utf-8?q?`)) {
				t.Error("no encoded-word name for the PDF's content type")
			}
			// Base64 bodies run from the blank line after their header to the next boundary.
			inHeader, inBody, bodyLines := false, false, 0
			for _, line := range strings.Split(string(raw), "\r\n") {
				switch {
				case line == "Content-Transfer-Encoding: base64":
					inHeader = true
				case inHeader && line == "":
					inHeader, inBody = false, true
				case inBody && strings.HasPrefix(line, "--"):
					inBody = false
				case inBody:
					bodyLines++
					if len(line) > 76 {
						t.Fatalf("base64 line of %d characters", len(line))
					}
				}
			}
			if want := 1 + (4*len(binary)/3+75)/76; bodyLines != want {
				t.Errorf("%d base64 lines, want %d (one for the CSV, the PDF's in 76s)", bodyLines, want)
			}
		})
	}
}

// TestRenderWithoutAttachments checks that a message without attachments keeps its
// shape: multipart/alternative when it has HTML, a single text part when not.
func TestRenderWithoutAttachments(t *testing.T) {
	for _, tc := range []struct {
		html, media string
		parts       int
	}{
		{"<p>hi</p>", "multipart/alternative", 2},
		{"", "text/plain", 1},
	} {
		raw, err := newTestSMTP(t).render(Message{To: []string{"ana@example.com"}, Subject: "Hi", Text: "hi", HTML: tc.html})
		if err != nil {
			t.Fatal(err)
		}
		hdr, leaves := parse(t, raw)
		if media, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); media != tc.media {
			t.Errorf("content type %q, want %s", media, tc.media)
		}
		// A single-part body ends in the line break its multipart form gives the boundary.
		if len(leaves) != tc.parts || strings.TrimSuffix(string(leaves[0].body), "\r\n") != "hi" {
			t.Errorf("parts %+v", leaves)
		}
		id := hdr.Get("Message-ID")
		if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@omnitrackiq.example>") || len(id) != len("<@omnitrackiq.example>")+24 {
			t.Errorf("random Message-ID %q", id)
		}
		if bytes.Contains(raw, []byte("multipart/mixed")) {
			t.Error("a message without attachments is multipart/mixed")
		}
	}
}

func TestRenderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
		want string
	}{
		{"message id with a line break", Message{MessageID: "a@b>\r\nBcc: x@evil.example"}, "message id"},
		{"message id without a domain", Message{MessageID: "run_1"}, "message id"},
		{"attachment without a name", Message{Attachments: []Attachment{{ContentType: "text/csv", Content: []byte("x")}}}, "without a file name"},
		{"bad content type", Message{Attachments: []Attachment{{Filename: "a.csv", ContentType: "text/csv; =", Content: []byte("x")}}}, "content type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.To = []string{"ana@example.com"}
			_, err := newTestSMTP(t).render(tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one about %s", err, tc.want)
			}
		})
	}
}
