package dockerconfig

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// redacted replaces a credential in formatted output.
const redacted = "REDACTED"

// Entry is the credentials for one registry, as Encode and Config.Merge write them.
//
// Its String, GoString and Format methods replace the password with "REDACTED", so fmt verbs
// on an Entry, a pointer to one, or a slice, map or exported struct field that contains one
// never print it. NOTE: fmt cannot call methods on unexported struct fields, so a struct that
// keeps an Entry in an unexported field prints the password with %v.
type Entry struct {
	// Server is the registry server. The key written is imageref.RegistryKey(Server).
	Server string
	// Username is the user name. It must not be empty or contain a colon.
	Username string
	// Password is the password or access token. It must not be empty.
	Password string
	// Email is optional and omitted from the document when empty.
	Email string
}

// String returns the entry with its password replaced by "REDACTED".
func (e Entry) String() string {
	return fmt.Sprintf("{Server:%s Username:%s Password:%s Email:%s}",
		e.Server, e.Username, mask(e.Password), e.Email)
}

// GoString returns the entry in Go syntax with its password replaced by "REDACTED".
func (e Entry) GoString() string {
	return fmt.Sprintf("dockerconfig.Entry{Server:%q, Username:%q, Password:%q, Email:%q}",
		e.Server, e.Username, mask(e.Password), e.Email)
}

// Format implements fmt.Formatter so that every verb, not only %s and %v, masks the password.
func (e Entry) Format(state fmt.State, verb rune) {
	formatMasked(state, verb, e.String(), e.GoString())
}

// AuthEntry is one entry of a decoded document, with the username and password resolved.
//
// Like Entry, its String, GoString and Format methods mask the password, and they print only
// the names of the Extra fields.
type AuthEntry struct {
	// Key is the entry's key exactly as the document writes it, such as
	// "https://index.docker.io/v1/".
	Key string
	// Username and Password come from the "auth" field when it is set, as the kubelet reads
	// them, and from the "username" and "password" fields otherwise.
	Username string
	Password string
	Email    string
	// Extra contains the entry's other fields, such as "identitytoken", as raw JSON. They may
	// be credentials.
	Extra map[string]json.RawMessage
}

// String returns the entry with its password masked and only the names of its Extra fields.
func (e AuthEntry) String() string {
	return fmt.Sprintf("{Key:%s Username:%s Password:%s Email:%s Extra:[%s]}",
		e.Key, e.Username, mask(e.Password), e.Email, strings.Join(e.extraNames(), " "))
}

// GoString returns the entry in Go syntax with its password masked and the values of its Extra
// fields replaced by "REDACTED".
func (e AuthEntry) GoString() string {
	extra := make([]string, 0, len(e.Extra))
	for _, name := range e.extraNames() {
		extra = append(extra, fmt.Sprintf("%q:%q", name, redacted))
	}
	return fmt.Sprintf(
		"dockerconfig.AuthEntry{Key:%q, Username:%q, Password:%q, Email:%q, Extra:{%s}}",
		e.Key, e.Username, mask(e.Password), e.Email, strings.Join(extra, ", "))
}

// Format implements fmt.Formatter so that every verb masks the credentials.
func (e AuthEntry) Format(state fmt.State, verb rune) {
	formatMasked(state, verb, e.String(), e.GoString())
}

func (e AuthEntry) extraNames() []string {
	return slices.Sorted(maps.Keys(e.Extra))
}

// mask returns "REDACTED" for a set credential and "" for an empty one, so formatted output
// still shows whether a password is missing.
func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// formatMasked writes goSyntax for %#v, a quoted plain for %q, and plain for any other verb.
func formatMasked(state fmt.State, verb rune, plain, goSyntax string) {
	switch {
	case verb == 'v' && state.Flag('#'):
		_, _ = io.WriteString(state, goSyntax)
	case verb == 'q':
		_, _ = fmt.Fprintf(state, "%q", plain)
	default:
		_, _ = io.WriteString(state, plain)
	}
}
