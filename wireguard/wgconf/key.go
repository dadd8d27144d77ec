package wgconf

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"

	"golang.org/x/crypto/curve25519"
)

// Key is a WireGuard key: a Curve25519 private or public key, or a
// preshared key, 32 bytes.
type Key [32]byte

// ParseKey parses a key in the base64 form wg(8) prints.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, errors.New("not a WireGuard key (44 characters of base64 for 32 bytes)")
	}
	copy(k[:], b)
	return k, nil
}

// GenerateKey returns a new private key, clamped as RFC 7748 §5 says (wg
// genkey does the same).
func GenerateKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return k, err
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k, nil
}

// PublicKey returns the public key of the private key k (wg pubkey).
func (k Key) PublicKey() Key {
	var pub Key
	b, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		// Only a low-order public key makes X25519 fail, never the
		// base point.
		panic("wgconf: X25519 with the base point failed: " + err.Error())
	}
	copy(pub[:], b)
	return pub
}

// IsZero reports whether k is all zeros (no key).
func (k Key) IsZero() bool { return k == Key{} }

// String returns the key in base64, as wg(8) prints it.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Hex returns the key in hexadecimal, as wireguard-go's UAPI takes it.
func (k Key) Hex() string { return hex.EncodeToString(k[:]) }
