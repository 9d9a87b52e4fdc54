package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessTTL is the lifetime of an access token.
const AccessTTL = 15 * time.Minute

// Issuer and audience of access tokens.
const (
	TokenIssuer   = "omnitrackiq"
	TokenAudience = "omnitrackiq-api"
)

// MinSigningKeyBytes is the shortest HS256 key accepted (RFC 7518 §3.2: at least the hash size).
const MinSigningKeyBytes = 32

// Claims are an access token's claims. Session is the refresh-token family the token was
// issued with, so that revoking the family (logout, password change, reuse) revokes it too.
type Claims struct {
	Session string `json:"sid"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies access tokens: HS256 only, signed with one secret key.
type Tokens struct {
	key []byte
	now func() time.Time
}

// NewTokens returns a Tokens for the key (JWT_SECRET). now is the clock; nil is time.Now.
func NewTokens(key []byte, now func() time.Time) (*Tokens, error) {
	if len(key) < MinSigningKeyBytes {
		return nil, fmt.Errorf("JWT signing key is %d bytes, want at least %d (openssl rand -hex 32)", len(key), MinSigningKeyBytes)
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: key, now: now}, nil
}

// Issue returns a signed access token for the user and session, and when it expires.
func (t *Tokens) Issue(userID, session string) (string, time.Time, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, fmt.Errorf("generate jti: %w", err)
	}
	now := t.now().Truncate(time.Second)
	exp := now.Add(AccessTTL)
	claims := Claims{
		Session: session,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, exp, nil
}

// ErrInvalidToken is returned for every token that does not verify; the reason is wrapped.
var ErrInvalidToken = errors.New("invalid access token")

// Verify checks the signature (HS256 only: "none" and every other algorithm are refused),
// issuer, audience, expiry and issue time, and that subject, session and id are present.
func (t *Tokens) Verify(token string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" || c.Session == "" || c.ID == "" || c.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: missing sub, sid, jti or iat", ErrInvalidToken)
	}
	return c, nil
}
