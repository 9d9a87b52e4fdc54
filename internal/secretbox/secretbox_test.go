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

// legacySeal is what Seal produced before key ids: nonce | ciphertext, no header.
func legacySeal(t *testing.T, key, plaintext, additional []byte) []byte {
	t.Helper()
	aead, err := newAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{3}, aead.NonceSize())
	return aead.Seal(append([]byte{}, nonce...), nonce, plaintext, additional)
}

func TestKeyring(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	aad := ConnectionTokenAAD("ws", "meta", "1")
	oldBox, err := NewKeyring(Key{ID: "old", Secret: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, err := oldBox.Seal([]byte("tok"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if got := SealedKeyID(sealedOld); got != "old" {
		t.Fatalf("SealedKeyID = %q, want old", got)
	}
	legacy := legacySeal(t, oldKey, []byte("legacy-tok"), aad)
	if got := SealedKeyID(legacy); got != "" {
		t.Fatalf("legacy SealedKeyID = %q, want empty", got)
	}

	rotated, err := NewKeyring(Key{ID: "new", Secret: newKey}, Key{ID: "old", Secret: oldKey})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KeyID() != "new" {
		t.Fatalf("KeyID = %q", rotated.KeyID())
	}
	for name, c := range map[string]struct {
		sealed []byte
		want   string
	}{"old key": {sealedOld, "tok"}, "legacy": {legacy, "legacy-tok"}} {
		got, err := rotated.Open(c.sealed, aad)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: Open = %q, %v", name, got, err)
		}
	}
	sealedNew, err := rotated.Seal([]byte("tok2"), aad)
	if err != nil || SealedKeyID(sealedNew) != "new" {
		t.Fatalf("Seal under new key: id %q, %v", SealedKeyID(sealedNew), err)
	}
	onlyNew, _ := NewKeyring(Key{ID: "new", Secret: newKey})
	if got, err := onlyNew.Open(sealedNew, aad); err != nil || string(got) != "tok2" {
		t.Fatalf("new-only box: Open = %q, %v", got, err)
	}
	_, err = onlyNew.Open(sealedOld, aad)
	if err == nil || !strings.Contains(err.Error(), `"old"`) {
		t.Fatalf("a value under a removed key opened or the error does not name the key: %v", err)
	}

	// An altered key id does not open.
	forged := append([]byte{}, sealedNew...)
	forged[3] = 'o' // "new" -> "oew": unknown, and the legacy attempt fails too
	if _, err := rotated.Open(forged, aad); err == nil {
		t.Fatal("opened a value with an altered key id")
	}
	if _, err := rotated.Open(sealedNew, ConnectionTokenAAD("ws", "meta", "2")); err == nil {
		t.Fatal("opened with other additional data")
	}
}

func TestLegacyThatLooksLikeAHeader(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	aead, _ := newAEAD(key)
	// A legacy nonce that starts with the magic and a plausible id length and id.
	nonce := []byte{magic[0], magic[1], 2, 'k', '1', 0, 0, 0, 0, 0, 0, 0}
	legacy := aead.Seal(append([]byte{}, nonce...), nonce, []byte("x"), nil)
	b, err := NewKeyring(Key{ID: "k1", Secret: key})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(legacy, nil); err != nil || string(got) != "x" {
		t.Fatalf("Open = %q, %v", got, err)
	}
}

func TestParseKeyring(t *testing.T) {
	k1, k2, k3 := strings.Repeat("11", 32), strings.Repeat("22", 32), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	b, err := ParseKeyring("", k1, "")
	if err != nil || b.KeyID() != DefaultKeyID {
		t.Fatalf("default id: %v, %v", b, err)
	}
	b, err = ParseKeyring("k3", k3, " k1:"+k1+", k2:"+k2+" ")
	if err != nil || b.KeyID() != "k3" || len(b.byID) != 3 {
		t.Fatalf("ParseKeyring = %+v, %v", b, err)
	}
	for _, c := range []struct{ id, key, old string }{
		{"k 1", k1, ""},
		{"k1", "", ""},
		{"k1", k1, "k2"},
		{"k1", k1, "k2:short"},
		{"k1", k1, "k1:" + k2},
		{"k1", k1, ":" + k2},
		{strings.Repeat("x", 33), k1, ""},
	} {
		_, err := ParseKeyring(c.id, c.key, c.old)
		if err == nil {
			t.Errorf("ParseKeyring(%q, _, %q) accepted bad input", c.id, c.old)
			continue
		}
		if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), k2) {
			t.Errorf("error quotes a key: %v", err)
		}
	}
}
