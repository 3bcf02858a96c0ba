package dockerconfig

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// authFields is one entry as written. The field order and omitempty tags are those of kubectl's
// DockerConfigEntry (k8s.io/kubectl v0.37.2), so the output matches kubectl byte for byte.
type authFields struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// Encode builds a .dockerconfigjson document: {"auths": {KEY: {"username", "password",
// "email", "auth"}}}.
//
// Each key is imageref.RegistryKey(entry.Server), and "auth" is base64(username:password).
// Keys are sorted, so the output does not depend on the order of entries. Two entries whose
// servers give the same key are an ErrDuplicateKey error.
//
// Strings are escaped as encoding/json does by default, which writes "<", ">" and "&" as
// \u003c, \u003e and \u0026. kubectl writes the same bytes, and any JSON decoder that follows
// RFC 8259 reads them back as the original characters.
func Encode(entries []Entry) ([]byte, error) {
	auths := make(map[string]authFields, len(entries))
	servers := make(map[string]string, len(entries))

	for _, entry := range entries {
		key, fields, err := entryFields(entry)
		if err != nil {
			return nil, err
		}
		if first, found := servers[key]; found {
			return nil, newError(key, ErrDuplicateKey,
				"the servers %q and %q both give this registry key. Keep one entry",
				first, entry.Server)
		}
		servers[key] = entry.Server
		auths[key] = fields
	}

	return json.Marshal(struct {
		Auths map[string]authFields `json:"auths"`
	}{auths})
}

// entryFields checks an entry and returns its registry key and the fields to write.
func entryFields(entry Entry) (string, authFields, error) {
	key, err := imageref.RegistryKey(entry.Server)
	if err != nil {
		return "", authFields{}, err
	}

	switch {
	case entry.Username == "":
		return "", authFields{}, newError(key, ErrMissingUsername,
			"the username is empty. Set the user name or robot account for this registry")
	case strings.Contains(entry.Username, ":"):
		return "", authFields{}, newError(key, ErrUsernameColon,
			"the username contains a colon, so the \"auth\" field (base64 of "+
				"username:password) could not be split back. Use a username without a colon")
	case entry.Password == "":
		// kubectl rejects an empty password too. An empty value is treated as a mistake, such
		// as an unset variable, rather than as a real password.
		return "", authFields{}, newError(key, ErrMissingPassword,
			"the password is empty. Set the password or access token for this registry")
	}

	// encoding/json would replace invalid UTF-8 with U+FFFD, so the password field and the
	// base64 "auth" field would disagree.
	fields := []struct{ name, value string }{
		{"username", entry.Username}, {"password", entry.Password}, {"email", entry.Email},
	}
	for _, field := range fields {
		if !utf8.ValidString(field.value) {
			return "", authFields{}, newError(key, ErrInvalidUTF8,
				"the %s is not valid UTF-8. Check how the value was read or encoded", field.name)
		}
	}

	return key, authFields{
		Username: entry.Username,
		Password: entry.Password,
		Email:    entry.Email,
		Auth:     encodeAuth(entry.Username, entry.Password),
	}, nil
}

func encodeAuth(username, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
}
