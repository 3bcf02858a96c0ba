package imageref

import (
	"errors"
	"fmt"
)

// Sentinel errors name the rule that an input broke. RegistryKey, Parse, ParseNodeImageName and
// NewMatcher wrap them in a *ServerError or a *ReferenceError, so callers test them with
// errors.Is.
var (
	ErrEmpty            = errors.New("empty value")
	ErrWhitespace       = errors.New("contains whitespace")
	ErrScheme           = errors.New("invalid scheme")
	ErrUserInfo         = errors.New("contains user info")
	ErrQueryOrFragment  = errors.New("contains a query or fragment")
	ErrPath             = errors.New("contains a path")
	ErrInvalidHost      = errors.New("invalid host")
	ErrInvalidPort      = errors.New("invalid port")
	ErrEmptyComponent   = errors.New("empty path component")
	ErrUppercase        = errors.New("repository contains uppercase letters")
	ErrInvalidComponent = errors.New("invalid path component")
	ErrNameTooLong      = errors.New("repository name too long")
	ErrImageID          = errors.New("image ID used as a name")
	ErrInvalidTag       = errors.New("invalid tag")
	ErrInvalidDigest    = errors.New("invalid digest")
	ErrUnsupportedAlgo  = errors.New("unsupported digest algorithm")
)

// maxQuotedLength caps how much of an input an error message repeats, so a pasted file or a
// very long string does not flood a diagnostic.
const maxQuotedLength = 300

// ServerError is the error RegistryKey returns for a registry server it cannot normalize.
type ServerError struct {
	// Server is the rejected input. User info in it is already replaced by "REDACTED".
	Server string
	// Err is one of the sentinel errors, such as ErrPath.
	Err error
	// Detail describes the problem and the fix.
	Detail string
}

// Error returns a message that names the server and the fix.
func (e *ServerError) Error() string {
	return fmt.Sprintf("invalid registry server %s: %s", quote(e.Server), e.Detail)
}

// Unwrap returns the sentinel error, so errors.Is(err, ErrPath) works.
func (e *ServerError) Unwrap() error { return e.Err }

// ReferenceError is the error Parse returns for an image reference it cannot parse.
type ReferenceError struct {
	// Reference is the rejected input.
	Reference string
	// Err is one of the sentinel errors, such as ErrInvalidTag.
	Err error
	// Detail describes the problem and the fix.
	Detail string
}

// Error returns a message that names the reference and the fix.
func (e *ReferenceError) Error() string {
	return fmt.Sprintf("invalid image reference %s: %s", quote(e.Reference), e.Detail)
}

// Unwrap returns the sentinel error, so errors.Is(err, ErrInvalidTag) works.
func (e *ReferenceError) Unwrap() error { return e.Err }

func serverError(server string, sentinel error, format string, args ...any) error {
	return &ServerError{Server: server, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

func referenceError(reference string, sentinel error, format string, args ...any) error {
	detail := fmt.Sprintf(format, args...)
	return &ReferenceError{Reference: reference, Err: sentinel, Detail: detail}
}

// quote quotes s for an error message and shortens it to maxQuotedLength bytes.
func quote(s string) string {
	if len(s) <= maxQuotedLength {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q (%d bytes, truncated)", s[:maxQuotedLength], len(s))
}
