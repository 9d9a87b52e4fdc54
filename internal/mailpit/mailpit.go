// Package mailpit runs a mailpit process (the local SMTP catcher `make tools` installs) and
// reads what it caught through its HTTP API, so tests assert on the email a person would get.
package mailpit

import (
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// Process is a running mailpit.
type Process struct {
	SMTPAddr string // host:port of its SMTP server
	HTTPURL  string // base URL of its web UI and API
	cmd      *exec.Cmd
	done     chan struct{}
}

// Bin finds the mailpit binary: $MAILPIT, else ./bin/mailpit in this or a parent directory
// holding go.mod.
func Bin() (string, error) { return toolbin.Find("MAILPIT", "mailpit") }

// Start runs mailpit on the given addresses ("127.0.0.1:0" picks free ports) and waits until
// its API answers. Its messages live in a temporary database removed when it stops.
func Start(ctx context.Context, bin, smtpAddr, httpAddr string, logTo io.Writer) (*Process, error) {
	var err error
	if smtpAddr, err = resolvePort(smtpAddr); err != nil {
		return nil, err
	}
	if httpAddr, err = resolvePort(httpAddr); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", httpAddr,
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check", "--max", "5000")
	cmd.Stdout, cmd.Stderr = logTo, logTo
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mailpit %s: %w", bin, err)
	}
	p := &Process{SMTPAddr: smtpAddr, HTTPURL: "http://" + httpAddr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := &Client{BaseURL: p.HTTPURL}
		if _, err := c.Search(ctx, "is:unread"); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("mailpit exited at start: %v", cmd.ProcessState)
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("wait for mailpit: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("mailpit did not answer within 30s")
		}
	}
}

// resolvePort turns host:0 into host:<a free port>.
func resolvePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("mailpit address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("pick a port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// SMTPURL is the SMTP_URL that sends to this mailpit.
func (p *Process) SMTPURL() string { return "smtp://" + p.SMTPAddr }

// Stop ends the process.
func (p *Process) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Client reads mailpit's API (https://mailpit.axllent.org/docs/api-v1/).
type Client struct {
	BaseURL string
	HTTP    *http.Client
}

// Address is a mailbox of a message.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is a message as mailpit lists it.
type Summary struct {
	ID      string    `json:"ID"`
	From    Address   `json:"From"`
	To      []Address `json:"To"`
	Subject string    `json:"Subject"`
	Created time.Time `json:"Created"`
}

// Message is a whole message.
type Message struct {
	ID      string    `json:"ID"`
	From    Address   `json:"From"`
	To      []Address `json:"To"`
	Subject string    `json:"Subject"`
	Text    string    `json:"Text"`
	HTML    string    `json:"HTML"`
	// MessageID is the Message-ID header (without angle brackets).
	MessageID   string       `json:"MessageID"`
	Attachments []Attachment `json:"Attachments"`
}

// Attachment is an attached file of a message; Part reads its bytes.
type Attachment struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
	Size        int    `json:"Size"`
}

// Part reads the decoded bytes of one part (an attachment) of a message.
func (c *Client) Part(ctx context.Context, messageID, partID string) ([]byte, error) {
	path := "/api/v1/message/" + url.PathEscape(messageID) + "/part/" + url.PathEscape(partID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit %s: HTTP %d", path, resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("mailpit %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("mailpit %s: decode: %w", path, err)
	}
	return nil
}

// Search lists the messages matching a mailpit search query (e.g. `to:"a@b.c"`), newest first.
func (c *Client) Search(ctx context.Context, query string) ([]Summary, error) {
	var r struct {
		Messages []Summary `json:"messages"`
	}
	if err := c.get(ctx, "/api/v1/search?limit=200&query="+url.QueryEscape(query), &r); err != nil {
		return nil, err
	}
	return r.Messages, nil
}

// To lists the messages sent to the address, newest first.
func (c *Client) To(ctx context.Context, addr string) ([]Summary, error) {
	return c.Search(ctx, `to:"`+addr+`"`)
}

// Get reads a whole message.
func (c *Client) Get(ctx context.Context, id string) (Message, error) {
	var m Message
	err := c.get(ctx, "/api/v1/message/"+url.PathEscape(id), &m)
	return m, err
}

// WaitFor polls until a message to addr whose subject contains subject arrives, and returns it.
func (c *Client) WaitFor(ctx context.Context, addr, subject string, timeout time.Duration) (Message, error) {
	deadline := time.Now().Add(timeout)
	for {
		msgs, err := c.To(ctx, addr)
		if err == nil {
			for _, m := range msgs {
				if strings.Contains(m.Subject, subject) {
					return c.Get(ctx, m.ID)
				}
			}
		}
		if time.Now().After(deadline) {
			return Message{}, fmt.Errorf("no mail to %s with subject %q within %s (last error: %v)", addr, subject, timeout, err)
		}
		select {
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
