package secretbox

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	aad := ConnectionTokenAAD("ws1", "meta", "42")
	sealed, err := b.Seal([]byte("EAAB-token"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("EAAB-token")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	again, _ := b.Seal([]byte("EAAB-token"), aad)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same token are identical: nonce reuse")
	}
	got, err := b.Open(sealed, aad)
	if err != nil || string(got) != "EAAB-token" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(sealed, ConnectionTokenAAD("ws2", "meta", "42")); err == nil {
		t.Fatal("opened with another workspace's additional data")
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, aad); err == nil {
		t.Fatal("opened with another key")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := b.Open(sealed, aad); err == nil {
		t.Fatal("opened a tampered ciphertext")
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	for _, s := range []string{strings.Repeat("ab", 32), base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw)} {
		k, err := ParseKey(s)
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("ParseKey(%q) = %x, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "abcd", strings.Repeat("ab", 16), "not a key at all, not a key at all, not a key"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted a bad key", s)
		}
	}
}
