package dockerconfig

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors name the rule that an input broke. Functions in this package wrap them in an
// *Error, so callers test them with errors.Is. Invalid servers give the imageref error instead,
// which wraps an imageref sentinel such as imageref.ErrPath.
var (
	ErrInvalidJSON     = errors.New("invalid docker config JSON")
	ErrDuplicateKey    = errors.New("duplicate registry key")
	ErrInvalidAuth     = errors.New("invalid auth field")
	ErrMissingUsername = errors.New("missing username")
	ErrMissingPassword = errors.New("missing password")
	ErrUsernameColon   = errors.New("username contains a colon")
	ErrInvalidUTF8     = errors.New("invalid UTF-8")
)

// Error is a problem with a docker config document or with one of its entries. Detail never
// contains a credential.
type Error struct {
	// Key is the registry key or server of the entry concerned, or empty for the document.
	Key string
	// Err is one of the sentinel errors, such as ErrInvalidAuth.
	Err error
	// Detail describes the problem and the fix.
	Detail string
}

// Error returns a message that names the entry and the fix.
func (e *Error) Error() string {
	if e.Key == "" {
		return "invalid docker config: " + e.Detail
	}
	return fmt.Sprintf("invalid docker config entry %q: %s", redactUserInfo(e.Key), e.Detail)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func newError(key string, sentinel error, format string, args ...any) error {
	return &Error{Key: key, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// redactUserInfo replaces anything before the last "@" of a registry key, because a key
// written as "user:password@host" would carry a credential.
func redactUserInfo(key string) string {
	prefix := ""
	if scheme, rest, found := strings.Cut(key, "://"); found {
		prefix, key = scheme+"://", rest
	}

	at := strings.LastIndexByte(key, '@')
	if at < 0 {
		return prefix + key
	}
	return prefix + "REDACTED" + key[at:]
}
