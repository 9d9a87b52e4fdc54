package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StateTTL is how long a consent may take: the state expires this long after it is issued.
const StateTTL = 10 * time.Minute

// stateKeyLabel derives the state-signing key from JWT_SECRET, so the OAuth state and the
// access tokens never share a key: a signature of one kind is never valid as the other.
const stateKeyLabel = "omnitrackiq/oauth-state/v1"

// statePrefix versions the wire format of a state.
const statePrefix = "s1."

// Errors of VerifyState. Both mean the consent must be started again.
var (
	ErrStateInvalid = errors.New("the OAuth state is not valid")
	ErrStateExpired = errors.New("the OAuth state has expired")
)

// StateClaims is what a state binds: the oauth_states row that makes it single-use, and the
// workspace, user and provider the consent was started for. The callback compares them with
// the row, so a state cannot be replayed into another workspace even with a leaked row id.
type StateClaims struct {
	ID          string    `json:"i"`
	WorkspaceID string    `json:"w"`
	UserID      string    `json:"u"`
	Provider    string    `json:"p"`
	ExpiresAt   time.Time `json:"-"`
	Exp         int64     `json:"e"`
}

// StateSigner signs and verifies states with a key derived from the JWT secret.
type StateSigner struct {
	key []byte
	now func() time.Time
}

// NewStateSigner derives the signing key from secret (JWT_SECRET). now is the clock; nil is
// time.Now.
func NewStateSigner(secret []byte, now func() time.Time) (*StateSigner, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("OAuth state key: JWT secret is %d bytes, want at least 32", len(secret))
	}
	if now == nil {
		now = time.Now
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(stateKeyLabel))
	return &StateSigner{key: m.Sum(nil), now: now}, nil
}

// Sign returns the state for the claims: "s1." base64url(JSON) "." base64url(HMAC-SHA256).
func (s *StateSigner) Sign(c StateClaims) (string, error) {
	c.Exp = c.ExpiresAt.Unix()
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode OAuth state: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return statePrefix + body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body)), nil
}

func (s *StateSigner) mac(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(statePrefix + body))
	return m.Sum(nil)
}

// Verify checks the signature (in constant time), the provider and the expiry of a state.
// It does not make it single-use: the caller consumes the row the state names.
func (s *StateSigner) Verify(state, provider string) (StateClaims, error) {
	rest, ok := strings.CutPrefix(state, statePrefix)
	if !ok || len(state) > 1024 {
		return StateClaims{}, ErrStateInvalid
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return StateClaims{}, ErrStateInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(body)) {
		return StateClaims{}, ErrStateInvalid
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return StateClaims{}, ErrStateInvalid
	}
	var c StateClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.ID == "" || c.WorkspaceID == "" || c.UserID == "" {
		return StateClaims{}, ErrStateInvalid
	}
	if c.Provider != provider {
		return StateClaims{}, fmt.Errorf("%w: it was issued for %s, not %s", ErrStateInvalid, c.Provider, provider)
	}
	c.ExpiresAt = time.Unix(c.Exp, 0)
	if !s.now().Before(c.ExpiresAt) {
		return StateClaims{}, ErrStateExpired
	}
	return c, nil
}
