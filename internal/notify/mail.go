// Package notify sends email. Everything that tells a person something (invites, password
// resets, reconnect requests, dunning, reports) goes through one Mailer.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one email. Text is the plain-text body; HTML, when set, is the alternative.
type Message struct {
	To      []string
	Subject string
	Text    string
	HTML    string
	// Attachments, when any, follow the body as files.
	Attachments []Attachment
	// MessageID, when set, is the Message-ID header (with or without its angle brackets):
	// a sender that retries gives every try the same id, so receivers can tell a repeat.
	// Empty means a random one.
	MessageID string
}

// Attachment is a file attached to a message.
type Attachment struct {
	Filename    string
	ContentType string // e.g. "application/pdf"; empty means application/octet-stream
	Content     []byte
}

// Mailer sends messages.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends mail through an SMTP relay named by a URL:
// smtp://[user:pass@]host:port (STARTTLS when the server offers it) or smtps://host:port.
type SMTP struct {
	host, addr string
	implicit   bool
	auth       smtp.Auth
	from       *mail.Address
	timeout    time.Duration
}

// NewSMTP parses the relay URL and the From address.
func NewSMTP(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("SMTP_URL: scheme %q is not smtp or smtps", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, errors.New("SMTP_URL: no host")
	}
	if port == "" {
		port = "25"
		if u.Scheme == "smtps" {
			port = "465"
		}
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("MAIL_FROM %q: %w", from, err)
	}
	s := &SMTP{host: host, addr: net.JoinHostPort(host, port), implicit: u.Scheme == "smtps", from: fromAddr, timeout: 30 * time.Second}
	if u.User != nil {
		pw, _ := u.User.Password()
		s.auth = smtp.PlainAuth("", u.User.Username(), pw, host)
	}
	return s, nil
}

// Send delivers m to every recipient in one SMTP transaction.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if len(m.To) == 0 {
		return errors.New("send mail: no recipients")
	}
	for _, to := range m.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return fmt.Errorf("send mail: recipient %q: %w", to, err)
		}
	}
	body, err := s.render(m)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: s.timeout}
	var conn net.Conn
	if s.implicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: s.host}}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("send mail: connect to %s: %w", s.addr, err)
	}
	deadline := time.Now().Add(s.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("send mail: greet %s: %w", s.addr, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && !s.implicit {
		if err := c.StartTLS(&tls.Config{ServerName: s.host}); err != nil {
			return fmt.Errorf("send mail: starttls: %w", err)
		}
	}
	if s.auth != nil {
		if err := c.Auth(s.auth); err != nil {
			return fmt.Errorf("send mail: auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("send mail: MAIL FROM: %w", err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("send mail: RCPT TO %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("send mail: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("send mail: write body: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("send mail: end body: %w", err)
	}
	return c.Quit()
}

func (s *SMTP) render(m Message) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", s.from.String())
	hdr("To", strings.Join(m.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", time.Now().UTC().Format(time.RFC1123Z))
	msgID := "<" + hex.EncodeToString(id) + "@" + domainOf(s.from.Address) + ">"
	if m.MessageID != "" {
		var err error
		if msgID, err = messageID(m.MessageID); err != nil {
			return nil, fmt.Errorf("render mail: %w", err)
		}
	}
	hdr("Message-ID", msgID)
	hdr("MIME-Version", "1.0")
	// With attachments the body becomes the first part of a multipart/mixed, the files
	// the parts after it; without, the message is exactly what it always was.
	mixed := "otq-mixed-" + hex.EncodeToString(id)
	if len(m.Attachments) > 0 {
		hdr("Content-Type", `multipart/mixed; boundary="`+mixed+`"`)
		b.WriteString("\r\n")
		b.WriteString("--" + mixed + "\r\n")
	}
	part := func(ctype, text string) error {
		hdr("Content-Type", ctype+"; charset=utf-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write([]byte(text)); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
		b.WriteString("\r\n")
		return nil
	}
	if m.HTML == "" {
		if err := part("text/plain", m.Text); err != nil {
			return nil, fmt.Errorf("render mail: %w", err)
		}
	} else {
		boundary := "otq-" + hex.EncodeToString(id)
		hdr("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
		b.WriteString("\r\n")
		for _, p := range []struct{ ctype, text string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			b.WriteString("--" + boundary + "\r\n")
			if err := part(p.ctype, p.text); err != nil {
				return nil, fmt.Errorf("render mail: %w", err)
			}
		}
		b.WriteString("--" + boundary + "--\r\n")
	}
	if len(m.Attachments) == 0 {
		return b.Bytes(), nil
	}
	for _, a := range m.Attachments {
		ctype, disposition, err := attachmentHeaders(a)
		if err != nil {
			return nil, fmt.Errorf("render mail: %w", err)
		}
		b.WriteString("--" + mixed + "\r\n")
		hdr("Content-Type", ctype)
		hdr("Content-Disposition", disposition)
		hdr("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		writeBase64(&b, a.Content)
	}
	b.WriteString("--" + mixed + "--\r\n")
	return b.Bytes(), nil
}

// messageID is id as a Message-ID header value: in angle brackets, one line, ASCII.
func messageID(id string) (string, error) {
	id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	if id == "" || !strings.Contains(id, "@") || strings.ContainsFunc(id, func(r rune) bool {
		return r <= ' ' || r > '~' || r == '<' || r == '>'
	}) {
		return "", fmt.Errorf("message id %q is not of the form <left@right>", id)
	}
	return "<" + id + ">", nil
}

// attachmentHeaders are the Content-Type and Content-Disposition of a. A name that is not
// plain ASCII is sent twice: RFC 2231 in the disposition's filename*, which current clients
// read, and an encoded word in the type's name, which older ones read.
func attachmentHeaders(a Attachment) (ctype, disposition string, err error) {
	if a.Filename == "" {
		return "", "", errors.New("attachment without a file name")
	}
	media, params := "application/octet-stream", map[string]string{}
	if a.ContentType != "" {
		if media, params, err = mime.ParseMediaType(a.ContentType); err != nil {
			return "", "", fmt.Errorf("attachment %q: content type %q: %w", a.Filename, a.ContentType, err)
		}
	}
	params["name"] = mime.QEncoding.Encode("utf-8", a.Filename)
	ctype = mime.FormatMediaType(media, params)
	disposition = mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename})
	if ctype == "" || disposition == "" {
		return "", "", fmt.Errorf("attachment %q: cannot encode content type %q", a.Filename, a.ContentType)
	}
	return ctype, disposition, nil
}

// writeBase64 writes content in base64 lines of 76 characters (RFC 2045).
func writeBase64(b *bytes.Buffer, content []byte) {
	enc := base64.StdEncoding.EncodeToString(content)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc + "\r\n")
	}
}

func domainOf(addr string) string {
	if _, d, ok := strings.Cut(addr, "@"); ok && d != "" {
		return d
	}
	return "omnitrackiq.local"
}
