// Package secretbox encrypts provider tokens at rest with AES-256-GCM under named keys, so
// the key can rotate: the current key seals, older keys still open what they sealed.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// DefaultKeyID names ENCRYPTION_KEY when ENCRYPTION_KEY_ID is not set.
const DefaultKeyID = "k1"

// Sealed format: magic (2 bytes) | id length (1 byte) | id | nonce (12 bytes) | ciphertext+tag.
// The header is part of the additional data, so it cannot be altered without the open failing.
// Ciphertexts from before key ids (nonce | ciphertext+tag) carry no header; they open as
// "legacy" under any configured key.
var magic = [2]byte{0xF7, 0x01}

const maxKeyIDLen = 32

// Key is a named 32-byte key.
type Key struct {
	ID     string
	Secret []byte
}

// Box seals under its current key and opens under any of its keys.
type Box struct {
	currentID string
	current   cipher.AEAD
	byID      map[string]cipher.AEAD
	// order is the ids, current first, for opening headerless (legacy) ciphertexts.
	order []string
}

// ParseKey accepts a 32-byte key as 64 hex characters or standard/URL base64.
func ParseKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("ENCRYPTION_KEY is empty: set it to 32 random bytes, hex or base64 (openssl rand -hex 32)")
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64")
}

// ValidKeyID reports whether id can name a key: 1 to 32 letters, digits, '.', '_' or '-'.
func ValidKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("key id %q must be 1 to %d characters", id, maxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("key id %q may contain only letters, digits, '.', '_' and '-'", id)
		}
	}
	return nil
}

// New returns a Box whose only key is key, named DefaultKeyID.
func New(key []byte) (*Box, error) {
	return NewKeyring(Key{ID: DefaultKeyID, Secret: key})
}

// NewKeyring returns a Box that seals under current and opens under current and old.
func NewKeyring(current Key, old ...Key) (*Box, error) {
	b := &Box{currentID: current.ID, byID: map[string]cipher.AEAD{}}
	for i, k := range append([]Key{current}, old...) {
		if err := ValidKeyID(k.ID); err != nil {
			return nil, err
		}
		if _, dup := b.byID[k.ID]; dup {
			return nil, fmt.Errorf("key id %q is configured twice", k.ID)
		}
		aead, err := newAEAD(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.ID, err)
		}
		b.byID[k.ID] = aead
		b.order = append(b.order, k.ID)
		if i == 0 {
			b.current = aead
		}
	}
	return b, nil
}

// ParseKeyring builds a Box from the configuration's text: the current key and its id, and
// the old keys as "id:key,id:key" (each key hex or base64). Errors never quote a key.
func ParseKeyring(currentID, currentKey, oldKeys string) (*Box, error) {
	if currentID == "" {
		currentID = DefaultKeyID
	}
	if err := ValidKeyID(currentID); err != nil {
		return nil, fmt.Errorf("ENCRYPTION_KEY_ID: %w", err)
	}
	secret, err := ParseKey(currentKey)
	if err != nil {
		return nil, err
	}
	var old []Key
	for i, item := range strings.Split(oldKeys, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, key, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("ENCRYPTION_OLD_KEYS: entry %d must be id:key", i+1)
		}
		if err := ValidKeyID(id); err != nil {
			return nil, fmt.Errorf("ENCRYPTION_OLD_KEYS: entry %d: %w", i+1, err)
		}
		s, err := ParseKey(key)
		if err != nil {
			return nil, fmt.Errorf("ENCRYPTION_OLD_KEYS: key %q must be 32 bytes, as 64 hex characters or base64", id)
		}
		old = append(old, Key{ID: id, Secret: s})
	}
	return NewKeyring(Key{ID: currentID, Secret: secret}, old...)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// KeyID is the id of the key Seal uses.
func (b *Box) KeyID() string { return b.currentID }

// SealedKeyID is the key id in a sealed value's header, or "" for a headerless (legacy)
// value. It does not verify the value.
func SealedKeyID(sealed []byte) string {
	id, _, ok := parseHeader(sealed)
	if !ok {
		return ""
	}
	return id
}

// SealedKeyID is the package's SealedKeyID, for callers that hold a Box.
func (b *Box) SealedKeyID(sealed []byte) string { return SealedKeyID(sealed) }

func header(id string) []byte {
	h := make([]byte, 0, 3+len(id))
	h = append(h, magic[0], magic[1], byte(len(id)))
	return append(h, id...)
}

// parseHeader splits a sealed value into its key id and the rest (nonce | ciphertext).
func parseHeader(sealed []byte) (id string, rest []byte, ok bool) {
	if len(sealed) < 3 || sealed[0] != magic[0] || sealed[1] != magic[1] {
		return "", nil, false
	}
	n := int(sealed[2])
	if n == 0 || n > maxKeyIDLen || len(sealed) < 3+n {
		return "", nil, false
	}
	id = string(sealed[3 : 3+n])
	if ValidKeyID(id) != nil {
		return "", nil, false
	}
	return id, sealed[3+n:], true
}

func withHeader(h, additional []byte) []byte {
	out := make([]byte, 0, len(h)+len(additional))
	return append(append(out, h...), additional...)
}

// Seal encrypts plaintext under the current key; additional data binds the ciphertext to
// its owner (a connection id, say) so a ciphertext copied to another row does not open.
func (b *Box) Seal(plaintext, additional []byte) ([]byte, error) {
	h := header(b.currentID)
	nonce := make([]byte, b.current.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	out := append(append([]byte{}, h...), nonce...)
	return b.current.Seal(out, nonce, plaintext, withHeader(h, additional)), nil
}

// Open decrypts what Seal produced with the same additional data, under whichever
// configured key sealed it. A value without a header, or whose header does not verify (a
// legacy value whose random nonce happens to start like a header), is tried as legacy.
func (b *Box) Open(sealed, additional []byte) ([]byte, error) {
	if id, rest, ok := parseHeader(sealed); ok {
		if aead, known := b.byID[id]; known {
			n := aead.NonceSize()
			if len(rest) >= n {
				if out, err := aead.Open(nil, rest[:n], rest[n:], withHeader(sealed[:len(sealed)-len(rest)], additional)); err == nil {
					return out, nil
				}
			}
		}
	}
	for _, id := range b.order {
		aead := b.byID[id]
		n := aead.NonceSize()
		if len(sealed) < n {
			continue
		}
		if out, err := aead.Open(nil, sealed[:n], sealed[n:], additional); err == nil {
			return out, nil
		}
	}
	if len(sealed) < b.current.NonceSize() {
		return nil, errors.New("open secret: ciphertext too short")
	}
	if id := SealedKeyID(sealed); id != "" {
		if _, known := b.byID[id]; !known {
			return nil, fmt.Errorf("open secret: sealed under key %q, which is not configured (ENCRYPTION_OLD_KEYS)", id)
		}
	}
	return nil, errors.New("open secret: wrong key or tampered ciphertext")
}

// ConnectionTokenAAD is the additional data that binds a connection's sealed access token
// to its workspace, channel and account.
func ConnectionTokenAAD(workspaceID, channel, accountID string) []byte {
	return []byte(workspaceID + ":" + channel + ":" + accountID)
}

// ConnectionRefreshTokenAAD binds a connection's sealed OAuth refresh token the same way,
// but differently from its access token, so the two ciphertexts cannot be swapped.
func ConnectionRefreshTokenAAD(workspaceID, channel, accountID string) []byte {
	return []byte(workspaceID + ":" + channel + ":" + accountID + ":refresh")
}

// ReportWebhookSecretAAD binds a report's sealed webhook signing secret to the report.
func ReportWebhookSecretAAD(reportID string) []byte {
	return []byte("report:" + reportID + ":webhook-secret")
}
