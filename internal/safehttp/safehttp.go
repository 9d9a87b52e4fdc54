// Package safehttp sends report webhooks without letting a tenant make the worker call
// internal services: URLs are checked at the edge, the dialer re-checks every address it
// connects to (so a name that resolves differently later, DNS rebinding, is refused too),
// redirects are never followed, and every body is signed with the report's secret.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says which networks webhooks may reach.
type Policy struct {
	// AllowPrivate lets webhooks reach loopback, private, link-local and other non-public
	// addresses over plain http (development and tests only).
	AllowPrivate bool
}

// ErrRefused is matched (errors.Is) by every error that refuses a URL or an address: the
// target is unacceptable, so retrying cannot help.
var ErrRefused = errors.New("webhook target refused")

// RefusedError explains why a URL or address was refused, in words a user understands.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// CheckURL checks that raw is an absolute http(s) URL without credentials, using https
// unless p allows private targets, whose host resolves (within ctx) only to public
// addresses unless p allows private ones. Every refusal is a *RefusedError.
func CheckURL(ctx context.Context, raw string, p Policy) error {
	u, err := checkForm(raw, p)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if kind := nonPublic(ip); kind != "" && !p.AllowPrivate {
			return refused("webhook host %q is %s; webhooks must reach the public internet", host, kind)
		}
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return refused("webhook host %q does not resolve: %v", host, err)
	}
	if len(addrs) == 0 {
		return refused("webhook host %q does not resolve to any address", host)
	}
	if p.AllowPrivate {
		return nil
	}
	for _, ip := range addrs {
		if kind := nonPublic(ip); kind != "" {
			return refused("webhook host %q resolves to %s, %s; webhooks must reach the public internet", host, ip.Unmap(), kind)
		}
	}
	return nil
}

// checkForm checks the URL's shape without resolving its host.
func checkForm(raw string, p Policy) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, refused("webhook URL %q is not a valid URL", raw)
	}
	if !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return nil, refused("webhook URL %q must be an absolute http(s) URL with a host", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowPrivate {
			return nil, refused("webhook URL %q must use https", raw)
		}
	default:
		return nil, refused("webhook URL %q must use https, not %s", raw, u.Scheme)
	}
	if u.User != nil {
		return nil, refused("webhook URL %q must not contain a user name or password", u.Redacted())
	}
	return u, nil
}

// Networks that are not the public internet, with the words that name them. Each is named
// for what it is, so a refusal explains itself ("a private address").
var nonPublicPrefixes = []struct {
	prefix netip.Prefix
	kind   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (\"this network\") address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

// nonPublic names the kind of non-public address ip is, or returns "" for a public one.
// IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are judged as the IPv4 they carry.
func nonPublic(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		// 64:ff9b::/96 (NAT64) carries an IPv4 address in its last four bytes, 2002::/16
		// (6to4) in bytes 2..5: judge the address the packets would really reach.
		if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
			if kind := nonPublic(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); kind != "" {
				return kind
			}
		}
		if netip.MustParsePrefix("2002::/16").Contains(ip) {
			if kind := nonPublic(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); kind != "" {
				return kind
			}
		}
	}
	switch {
	case !ip.IsValid():
		return "not a valid address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified():
		return "an unspecified address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata lives there)"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	if ip.Is4() {
		for _, n := range nonPublicPrefixes {
			if n.prefix.Contains(ip) {
				return n.kind
			}
		}
		if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return "a broadcast address"
		}
	}
	return ""
}

// NewClient returns a client for webhooks: its dialer refuses non-public addresses unless
// p allows them, checking the address it actually connects to; it never uses a proxy
// (which would hide the target's address) and never follows redirects (a public URL must
// not bounce the worker to an internal one); timeout bounds each whole request.
func NewClient(p Policy, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkDialed(address, p)
		},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checkDialed refuses a connection to a non-public address unless p allows it.
func checkDialed(address string, p Policy) error {
	if p.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return refused("webhook address %q cannot be checked: %v", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return refused("webhook address %q is not an IP address", host)
	}
	if kind := nonPublic(ip); kind != "" {
		return refused("webhook host %q is %s; webhooks must reach the public internet", ip.Unmap(), kind)
	}
	return nil
}
