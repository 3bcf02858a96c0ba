package dockerconfig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// authsField is the top-level field of a .dockerconfigjson document that contains the entries.
const authsField = "auths"

// Config is a decoded docker config document. It keeps the original bytes, so Merge and Remove
// rewrite only the entry concerned and leave every other byte as it was.
//
// Field names are matched without regard to case ("Auths", "USERNAME"), as encoding/json
// matches struct fields and so as the kubelet reads them. String, GoString and fmt verbs print
// only the entry keys.
type Config struct {
	data   []byte
	legacy bool

	top object
	// authsIndex is the index in top.members of the "auths" field, or -1 when the document
	// has none or is a legacy .dockercfg document.
	authsIndex int
	// auths is the object that contains the entries: the "auths" value, or the whole
	// document when legacy. hasAuths is false when "auths" is missing or null.
	auths    object
	hasAuths bool

	entries []AuthEntry
}

// Decode parses a .dockerconfigjson document, {"auths": {KEY: {...}}}.
//
// A document without "auths", or with "auths": null, has no entries and is not an error.
// Unknown top-level fields and unknown entry fields are kept. The error is an *Error that
// wraps ErrInvalidJSON, ErrDuplicateKey or ErrInvalidAuth, and it never quotes a value.
func Decode(data []byte) (*Config, error) {
	return decode(data, false)
}

// DecodeLegacy parses a .dockercfg document, the format of Secrets of type
// kubernetes.io/dockercfg, where the entries are the top-level fields: {KEY: {...}}.
func DecodeLegacy(data []byte) (*Config, error) {
	return decode(data, true)
}

func decode(data []byte, legacy bool) (*Config, error) {
	config := &Config{data: bytes.Clone(data), legacy: legacy}
	if err := config.index(); err != nil {
		return nil, err
	}
	return config, nil
}

// Bytes returns a copy of the document, including any edits.
func (c *Config) Bytes() []byte {
	return bytes.Clone(c.data)
}

// Legacy reports whether the document is in the .dockercfg format.
func (c *Config) Legacy() bool {
	return c.legacy
}

// Entries returns every entry in document order.
func (c *Config) Entries() []AuthEntry {
	entries := make([]AuthEntry, len(c.entries))
	for i, entry := range c.entries {
		entries[i] = cloneEntry(entry)
	}
	return entries
}

// Entry returns the entry whose key is exactly key, as the document writes it.
func (c *Config) Entry(key string) (AuthEntry, bool) {
	for _, entry := range c.entries {
		if entry.Key == key {
			return cloneEntry(entry), true
		}
	}
	return AuthEntry{}, false
}

// Lookup returns the entries whose keys give the same registry key as server, such as both
// "https://index.docker.io/v1/" and "docker.io" for server "index.docker.io". Keys that
// imageref.RegistryKey rejects, such as keys with a repository path, match only if they equal
// the registry key exactly. The error is the one RegistryKey returns for server.
func (c *Config) Lookup(server string) ([]AuthEntry, error) {
	want, err := imageref.RegistryKey(server)
	if err != nil {
		return nil, err
	}

	var found []AuthEntry
	for _, entry := range c.entries {
		key, err := imageref.RegistryKey(entry.Key)
		if err != nil {
			key = entry.Key
		}
		if key == want {
			found = append(found, cloneEntry(entry))
		}
	}
	return found, nil
}

// OtherFields returns the names of the top-level fields other than "auths", such as
// "credHelpers" or "HttpHeaders", in document order. A legacy document has none.
func (c *Config) OtherFields() []string {
	if c.legacy {
		return nil
	}
	var names []string
	for _, m := range c.top.members {
		if !strings.EqualFold(m.name, authsField) {
			names = append(names, m.name)
		}
	}
	return names
}

// String returns the entry keys only.
func (c *Config) String() string {
	keys := make([]string, len(c.entries))
	for i, entry := range c.entries {
		keys[i] = entry.Key
	}
	return fmt.Sprintf("{Legacy:%t Keys:[%s]}", c.legacy, strings.Join(keys, " "))
}

// GoString returns the entry keys only, in Go syntax.
func (c *Config) GoString() string {
	keys := make([]string, len(c.entries))
	for i, entry := range c.entries {
		keys[i] = fmt.Sprintf("%q", entry.Key)
	}
	return fmt.Sprintf("&dockerconfig.Config{Legacy:%t, Keys:[]string{%s}}",
		c.legacy, strings.Join(keys, ", "))
}

// Format implements fmt.Formatter so that no verb prints the document bytes.
func (c *Config) Format(state fmt.State, verb rune) {
	formatMasked(state, verb, c.String(), c.GoString())
}

// index parses c.data and fills in every field but data and legacy.
func (c *Config) index() error {
	top, err := scanObject(c.data, 0, len(c.data), "", "the document")
	if err != nil {
		return err
	}
	c.top, c.authsIndex, c.auths, c.hasAuths, c.entries = top, -1, object{}, false, nil

	if c.legacy {
		c.auths, c.hasAuths = c.top, true
	} else if err := c.findAuths(); err != nil {
		return err
	}
	if !c.hasAuths {
		return nil
	}

	seen := make(map[string]bool, len(c.auths.members))
	for _, m := range c.auths.members {
		if seen[m.name] {
			return newError(m.name, ErrDuplicateKey,
				"the key appears more than once. Remove the extra entries")
		}
		seen[m.name] = true

		entry, err := c.decodeEntry(m)
		if err != nil {
			return err
		}
		c.entries = append(c.entries, entry)
	}
	return nil
}

// findAuths sets authsIndex, auths and hasAuths from the top-level "auths" field.
func (c *Config) findAuths() error {
	for i, m := range c.top.members {
		if !strings.EqualFold(m.name, authsField) {
			continue
		}
		if c.authsIndex >= 0 {
			return newError("", ErrDuplicateKey,
				"the document has more than one \"auths\" field. Keep one")
		}
		c.authsIndex = i
	}
	if c.authsIndex < 0 {
		return nil
	}

	m := c.top.members[c.authsIndex]
	if rawKind(c.data[m.valueStart:m.valueEnd]) == "null" {
		return nil
	}
	auths, err := scanObject(c.data, m.valueStart, m.valueEnd, "", "the \"auths\" field")
	if err != nil {
		return err
	}
	c.auths, c.hasAuths = auths, true
	return nil
}

// decodeEntry reads one entry and resolves its username and password.
func (c *Config) decodeEntry(m member) (AuthEntry, error) {
	entry := AuthEntry{Key: m.name}
	if rawKind(c.data[m.valueStart:m.valueEnd]) == "null" {
		return entry, nil
	}

	fields, err := scanObject(c.data, m.valueStart, m.valueEnd, m.name, "the entry")
	if err != nil {
		return AuthEntry{}, err
	}

	var username, password, auth string
	for _, field := range fields.members {
		raw := c.data[field.valueStart:field.valueEnd]
		var target *string
		switch {
		case strings.EqualFold(field.name, "username"):
			target = &username
		case strings.EqualFold(field.name, "password"):
			target = &password
		case strings.EqualFold(field.name, "email"):
			target = &entry.Email
		case strings.EqualFold(field.name, "auth"):
			target = &auth
		default:
			if entry.Extra == nil {
				entry.Extra = make(map[string]json.RawMessage)
			}
			entry.Extra[field.name] = bytes.Clone(raw)
			continue
		}

		*target = ""
		if err := json.Unmarshal(raw, target); err != nil {
			return AuthEntry{}, newError(m.name, ErrInvalidJSON,
				"the field %q is %s, but it must be a string", field.name, rawKind(raw))
		}
	}

	entry.Username, entry.Password = username, password
	if auth != "" {
		entry.Username, entry.Password, err = decodeAuth(m.name, auth)
		if err != nil {
			return AuthEntry{}, err
		}
	}
	return entry, nil
}

// decodeAuth splits the "auth" field, base64(username:password), at the first colon, so a
// password may contain colons. Like the kubelet (v1.37.2), it reads padded base64 when the
// value ends in "=" and unpadded base64 otherwise.
func decodeAuth(key, auth string) (username, password string, err error) {
	encoding := base64.RawStdEncoding
	if strings.HasSuffix(strings.TrimSpace(auth), "=") {
		encoding = base64.StdEncoding
	}

	decoded, err := encoding.DecodeString(auth)
	if err != nil {
		var corrupt base64.CorruptInputError
		position := ""
		if errors.As(err, &corrupt) {
			position = fmt.Sprintf(" at byte %d", int64(corrupt))
		}
		return "", "", newError(key, ErrInvalidAuth,
			"the \"auth\" field is not valid base64 (invalid data%s). It must be "+
				"base64(username:password)", position)
	}

	username, password, found := strings.Cut(string(decoded), ":")
	if !found {
		return "", "", newError(key, ErrInvalidAuth,
			"the decoded \"auth\" field has no colon. It must be base64(username:password)")
	}
	return username, password, nil
}

func cloneEntry(entry AuthEntry) AuthEntry {
	entry.Extra = maps.Clone(entry.Extra)
	for name, raw := range entry.Extra {
		entry.Extra[name] = slices.Clone(raw)
	}
	return entry
}
