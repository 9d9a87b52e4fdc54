package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// shopPattern is the only form of shop the OAuth flow accepts (channel-apis.md §6): the
// shop names the host the code is exchanged at, so anything looser could send our client
// secret elsewhere.
var shopPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$`)

// ValidShop reports whether shop is a myshopify.com domain.
func ValidShop(shop string) bool { return len(shop) <= 255 && shopPattern.MatchString(shop) }

// shopifyCallbackMaxAge bounds the age of a callback's timestamp. The state expires sooner;
// this only refuses captured callbacks with a fresh state, and allows for clock skew.
const shopifyCallbackMaxAge = 24 * time.Hour

// VerifyShopifyQuery checks the hmac parameter of a Shopify OAuth callback: hex HMAC-SHA256
// with the app's client secret over the other parameters (less the legacy signature),
// sorted by key, joined as k=v with &. The comparison is constant time.
func VerifyShopifyQuery(secret []byte, q url.Values) bool {
	if len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(q.Get("hmac"))
	if err != nil || len(got) != sha256.Size || len(q["hmac"]) != 1 {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(shopifyMessage(q)))
	return hmac.Equal(got, m.Sum(nil))
}

// SignShopifyQuery returns the hmac Shopify would send for q, for fakes and tests.
func SignShopifyQuery(secret []byte, q url.Values) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(shopifyMessage(q)))
	return hex.EncodeToString(m.Sum(nil))
}

func shopifyMessage(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		// Shopify joins repeated values with a comma; there are none in an OAuth callback.
		parts = append(parts, k+"="+strings.Join(q[k], ","))
	}
	return strings.Join(parts, "&")
}

// shopifyTimestampFresh reports whether the callback's timestamp is recent.
func shopifyTimestampFresh(ts string, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	t := time.Unix(sec, 0)
	return t.After(now.Add(-shopifyCallbackMaxAge)) && t.Before(now.Add(5*time.Minute))
}
