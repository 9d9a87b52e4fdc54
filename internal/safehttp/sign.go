package safehttp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed delivery. The signature header is "v1=<hex>", where hex is
// Sign(secret, timestamp, body) and timestamp is the value of the timestamp header (Unix
// seconds). Receivers recompute it and reject old timestamps, so a captured delivery cannot
// be replayed later.
const (
	SignatureHeader = "X-OmniTrackIQ-Signature"
	TimestampHeader = "X-OmniTrackIQ-Timestamp"
	signatureScheme = "v1="
)

// Sign is hex(HMAC-SHA256(secret, "<timestamp>." + body)).
func Sign(secret []byte, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.", timestamp)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SignatureValue is the value of SignatureHeader for a signature from Sign.
func SignatureValue(sig string) string { return signatureScheme + sig }

// Verify checks a delivery as a receiver would: header is the signature header (one or
// more comma-separated "v1=<hex>" values; any may match), tsHeader the timestamp header,
// which must lie within tolerance of now.
func Verify(secret []byte, header, tsHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(tsHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("verify webhook: timestamp %q is not Unix seconds", tsHeader)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("verify webhook: timestamp %d is outside the %s tolerance", ts, tolerance)
	}
	want, _ := hex.DecodeString(Sign(secret, ts, body))
	found := false
	for _, part := range strings.Split(header, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), signatureScheme)
		if !ok {
			continue
		}
		found = true
		got, err := hex.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !found {
		return errors.New("verify webhook: no v1 signature in the header")
	}
	return errors.New("verify webhook: signature does not match")
}
