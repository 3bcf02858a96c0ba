package kube

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// redactor replaces known credential values in text that comes from client-go or the
// operating system. Messages are built without quoting credentials in the first place, so
// this is a second line of defence.
type redactor struct {
	// secrets are the registered values without duplicates, longest first, so that a value
	// that contains another is found as a whole.
	secrets []string
}

// minRedactLength is the length below which a value is not registered.
//
// NOTE: a credential of one to three characters is therefore never redacted. It would match
// common words such as "a", "to" or "the" in client-go's messages, and replacing those would
// both corrupt the message and reveal the credential by which word went missing. Such a
// credential falls to at most a few hundred thousand guesses, so redaction would not protect
// it, and no message built here quotes a credential in the first place.
const minRedactLength = 4

// anywhereRedactLength is the length from which a value is replaced wherever it occurs. A
// shorter value is replaced only where it is a whole word, because inside a longer word it is
// more likely a coincidence. Replacing it there would corrupt the text, and what is left
// around the gap would show both the value and where it sat in the other word.
const anywhereRedactLength = 12

// pemLineRedactLength is the length from which a line of a multi-line value, such as one
// base64 line of a PEM key, is registered on its own.
const pemLineRedactLength = 16

func (r *redactor) add(values ...string) {
	for _, value := range values {
		value = strings.TrimSpace(value)
		r.addOne(value)
		// A PEM key can surface one base64 line at a time, for example in a decoder error.
		if !strings.Contains(value, "\n") {
			continue
		}
		for _, line := range strings.Split(value, "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= pemLineRedactLength && !strings.HasPrefix(line, "-----") {
				r.addOne(line)
			}
		}
	}
}

func (r *redactor) addOne(value string) {
	if len(value) < minRedactLength {
		return
	}
	at := sort.Search(len(r.secrets), func(i int) bool {
		return len(r.secrets[i]) < len(value) ||
			len(r.secrets[i]) == len(value) && r.secrets[i] >= value
	})
	if at < len(r.secrets) && r.secrets[at] == value {
		return
	}
	r.secrets = append(r.secrets, "")
	copy(r.secrets[at+1:], r.secrets[at:])
	r.secrets[at] = value
}

// redact replaces every registered value in text with [REDACTED].
func (r *redactor) redact(text string) string {
	return r.redactLonger(text, 0)
}

// redactLonger replaces the registered values of at least minLength bytes.
//
// Every occurrence is located in the original text before anything is replaced, and
// overlapping or touching occurrences are replaced as one. Replacing value by value instead
// would let a short value match inside the marker left by a longer one, or leave the part of
// a value that overlaps another one in plain sight.
func (r *redactor) redactLonger(text string, minLength int) string {
	if r == nil {
		return text
	}
	type span struct{ start, end int }
	var spans []span
	for _, secret := range r.secrets {
		if len(secret) < minLength {
			break
		}
		for offset := 0; offset < len(text); {
			index := strings.Index(text[offset:], secret)
			if index < 0 {
				break
			}
			start, end := offset+index, offset+index+len(secret)
			if len(secret) >= anywhereRedactLength || isWholeWord(text, start, end) {
				spans = append(spans, span{start, end})
			}
			offset = start + 1
		}
	}
	if len(spans) == 0 {
		return text
	}

	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var out strings.Builder
	written := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		out.WriteString(text[written:start])
		out.WriteString(redactedText)
		written = end
	}
	out.WriteString(text[written:])
	return out.String()
}

// isWholeWord reports whether text[start:end] does not continue a word on either side. An
// edge of the value that is not a letter or digit, such as the "-" of "-abc", is a boundary
// by itself.
func isWholeWord(text string, start, end int) bool {
	first, _ := utf8.DecodeRuneInString(text[start:end])
	last, _ := utf8.DecodeLastRuneInString(text[start:end])
	if start > 0 {
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		if isWordRune(first) && isWordRune(before) {
			return false
		}
	}
	if end < len(text) {
		after, _ := utf8.DecodeRuneInString(text[end:])
		if isWordRune(last) && isWordRune(after) {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// redactProblems is the last check on finished messages. It replaces only values of at least
// anywhereRedactLength bytes, because the rest of a message is text written here, in which a
// short credential that equals a word, such as a password "host", would be found by chance.
func (r *redactor) redactProblems(problems []SettingError) []SettingError {
	for i := range problems {
		problems[i].Summary = r.redactLonger(problems[i].Summary, anywhereRedactLength)
		problems[i].Detail = r.redactLonger(problems[i].Detail, anywhereRedactLength)
	}
	return problems
}

// redactedError carries only the redacted text of an error from client-go, so that
// unwrapping cannot reach the original message.
type redactedError struct {
	message string
}

func (e *redactedError) Error() string {
	return e.message
}
