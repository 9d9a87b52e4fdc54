package shopify

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
)

// WebhookTargets are the base URLs the admin endpoints may deliver webhooks to: the API
// the sandbox stands in for Shopify in front of. The admin endpoints take no token, so
// without this list anyone who reaches the sandbox could make it POST signed bodies to
// any address it can reach (a metadata service, an internal admin port). The zero value
// allows no target. Build it with ParseWebhookTargets.
type WebhookTargets struct {
	bases []*url.URL
}

// ParseWebhookTargets parses base URLs such as "http://127.0.0.1:8080": absolute http or
// https URLs without credentials, query or fragment. A target is allowed when it has a
// base's scheme, host and port and its path is the base's path or below it.
func ParseWebhookTargets(raw ...string) (WebhookTargets, error) {
	var t WebhookTargets
	for _, r := range raw {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return WebhookTargets{}, fmt.Errorf("webhook target %q must be an absolute http or https URL without credentials, query or fragment", r)
		}
		if u.Path = path.Clean("/" + u.Path); u.Path == "/" {
			u.Path = ""
		}
		t.bases = append(t.bases, u)
	}
	return t, nil
}

// String lists the bases, for error messages.
func (t WebhookTargets) String() string {
	s := make([]string, len(t.bases))
	for i, b := range t.bases {
		s[i] = b.String()
	}
	return strings.Join(s, ", ")
}

// Check returns nil when target is one of the bases or below one, and otherwise an error
// that names the allowed bases.
func (t WebhookTargets) Check(target string) error {
	if len(t.bases) == 0 {
		return errors.New("the sandbox has no API URL configured, so its admin endpoints deliver webhooks nowhere (omnitrackiq sandbox: SANDBOX_API_URL, else PUBLIC_URL)")
	}
	u, err := url.Parse(target)
	if err == nil && u.User == nil {
		for _, b := range t.bases {
			if sameOrigin(b, u) && underPath(b.Path, u.Path) {
				return nil
			}
		}
	}
	return fmt.Errorf("webhook url %q is not under the API the sandbox is configured for (%s)", target, t)
}

func sameOrigin(base, u *url.URL) bool {
	if u.Scheme != base.Scheme || port(u) != port(base) {
		return false
	}
	bh, uh := strings.ToLower(base.Hostname()), strings.ToLower(u.Hostname())
	// "localhost" and the loopback addresses name the same machine: a dev stack configured
	// with http://127.0.0.1:8080 also accepts http://localhost:8080.
	return bh == uh || loopback(bh) && loopback(uh)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// underPath reports whether p is base or a path below it, by whole segments, after
// resolving dot segments so "/api/../admin" cannot climb out of "/api".
func underPath(base, p string) bool {
	if p = path.Clean("/" + p); p == "/" {
		p = ""
	}
	return base == "" || p == base || strings.HasPrefix(p, base+"/")
}
