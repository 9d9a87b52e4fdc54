package auth

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is the bcrypt cost of new password hashes.
const PasswordCost = 12

// Password length limits. bcrypt reads at most 72 bytes, so a longer password would be
// silently truncated: refuse it instead.
const (
	MinPasswordLen   = 10
	MaxPasswordBytes = 72
)

// ErrWrongPassword is returned by CheckPassword for a password that does not match.
var ErrWrongPassword = errors.New("wrong password")

// ValidatePassword says what is wrong with a new password, or returns nil.
func ValidatePassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return fmt.Errorf("must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordBytes:
		return fmt.Errorf("must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// HashPassword hashes a valid password with bcrypt at PasswordCost.
func HashPassword(pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", fmt.Errorf("password %w", err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword compares a password with its hash in constant time.
func CheckPassword(hash, pw string) error {
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return ErrWrongPassword
	}
	if err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	return nil
}

// dummyHash is compared against when the email is unknown, so that a login takes as long
// whether or not the account exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("omnitrackiq-no-such-user"), PasswordCost)

// BurnPasswordCheck spends the time of one CheckPassword without a user.
func BurnPasswordCheck(pw string) {
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
}
