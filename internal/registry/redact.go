package registry

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/authn"
)

// RedactedText replaces each credential that RedactCredentials removes.
const RedactedText = "(redacted)"

// minRedactedLength is the length below which a credential is not replaced, because
// replacing one or two characters would mangle the message and hide nothing.
const minRedactedLength = 3

// RedactCredentials replaces each of credentials in text with RedactedText, longest first so
// that a short credential cannot break up a longer match. An occurrence that is part of a
// longer word is kept: with the password "secret", "pull-secret" stays as written, because
// "pull-(redacted)" would both mangle the message and reveal the password. Word characters
// are letters, digits, '_' and '-', because Kubernetes names join words with '-'.
func RedactCredentials(text string, credentials ...string) string {
	ordered := slices.Clone(credentials)
	slices.SortFunc(ordered, func(a, b string) int { return len(b) - len(a) })
	for _, credential := range ordered {
		if len(credential) >= minRedactedLength {
			text = replaceWholeWords(text, credential)
		}
	}
	return text
}

// replaceWholeWords replaces the occurrences of credential in text that neither extend a
// word before them nor run into a word after them.
func replaceWholeWords(text, credential string) string {
	first, _ := utf8.DecodeRuneInString(credential)
	last, _ := utf8.DecodeLastRuneInString(credential)
	var result strings.Builder
	copied := 0
	for search := 0; ; {
		at := strings.Index(text[search:], credential)
		if at < 0 {
			break
		}
		at += search
		end := at + len(credential)
		before, _ := utf8.DecodeLastRuneInString(text[:at])
		after, _ := utf8.DecodeRuneInString(text[end:])
		joinsBefore := at > 0 && isWordRune(before) && isWordRune(first)
		joinsAfter := end < len(text) && isWordRune(after) && isWordRune(last)
		if joinsBefore || joinsAfter {
			search = at + 1
			continue
		}
		result.WriteString(text[copied:at])
		result.WriteString(RedactedText)
		copied, search = end, end
	}
	result.WriteString(text[copied:])
	return result.String()
}

func isWordRune(r rune) bool {
	return r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// credentialLog collects the credentials that the requests of look-ups sent, so that error
// texts can leave them out. It is safe for concurrent use. A nil log records nothing.
type credentialLog struct {
	mutex  sync.Mutex
	values map[string]bool
}

// addAuthorization records the credential of an Authorization header: a basic
// authentication value, decoded too, or a bearer token.
func (l *credentialLog) addAuthorization(header string) {
	scheme, value, found := strings.Cut(header, " ")
	if l == nil || !found {
		return
	}
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "basic":
		decoded, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			l.add(value)
			return
		}
		username, password, _ := strings.Cut(string(decoded), ":")
		l.addAuthConfig(authn.AuthConfig{Username: username, Password: password})
	default:
		l.add(value)
	}
}

// addAuthConfig records every secret field of config, and user:password in plain and base64
// form.
func (l *credentialLog) addAuthConfig(config authn.AuthConfig) {
	if config.Password != "" {
		userPassword := config.Username + ":" + config.Password
		l.add(config.Password, userPassword,
			base64.StdEncoding.EncodeToString([]byte(userPassword)))
	}
	l.add(config.Auth, config.IdentityToken, config.RegistryToken)
}

// add records values and the forms in which a server may quote them: JSON-escaped and
// URL-encoded.
func (l *credentialLog) add(values ...string) {
	if l == nil {
		return
	}
	l.mutex.Lock()
	defer l.mutex.Unlock()
	if l.values == nil {
		l.values = map[string]bool{}
	}
	for _, value := range values {
		if value == "" {
			continue
		}
		l.values[value] = true
		if quoted, err := json.Marshal(value); err == nil {
			l.values[strings.Trim(string(quoted), `"`)] = true
		}
		l.values[url.QueryEscape(value)] = true
	}
}

// list returns the recorded credentials.
func (l *credentialLog) list() []string {
	if l == nil {
		return nil
	}
	l.mutex.Lock()
	defer l.mutex.Unlock()
	values := make([]string, 0, len(l.values))
	for value := range l.values {
		values = append(values, value)
	}
	return values
}

// redact removes the credentials of sent from every text field of e.
func (e *LookupError) redact(sent []string) {
	e.Problem = RedactCredentials(e.Problem, sent...)
	e.Cause = RedactCredentials(e.Cause, sent...)
	e.Advice = RedactCredentials(e.Advice, sent...)
}
