package dockerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// member is one name/value pair of a JSON object, with byte offsets into the whole document.
type member struct {
	name       string
	nameStart  int // offset of the opening quote of the name
	valueStart int
	valueEnd   int // offset just past the value
}

// object is a JSON object's members and the offsets of its braces in the whole document.
type object struct {
	open    int
	close   int
	members []member
}

// scanObject reads data[start:end], which must be one JSON object with optional surrounding
// whitespace, and returns its members in document order. Error messages name key and subject
// and give offsets and JSON kinds, never the content of a value.
func scanObject(data []byte, start, end int, key, subject string) (object, error) {
	if len(bytes.Trim(data[start:end], " \t\r\n")) == 0 {
		return object{}, newError(key, ErrInvalidJSON, "%s is empty", subject)
	}

	decoder := json.NewDecoder(bytes.NewReader(data[start:end]))
	offset := func() int { return start + int(decoder.InputOffset()) }

	token, err := decoder.Token()
	if err != nil {
		return object{}, jsonError(key, subject, start, err)
	}
	if delim, ok := token.(json.Delim); !ok || delim != '{' {
		return object{}, newError(key, ErrInvalidJSON, "%s is %s, but it must be a JSON object",
			subject, tokenKind(token))
	}
	result := object{open: offset() - 1}

	for decoder.More() {
		nameStart := skipSeparators(data, offset())
		token, err := decoder.Token()
		if err != nil {
			return object{}, jsonError(key, subject, start, err)
		}
		// Inside an object the decoder returns only strings as names, or fails above.
		name, _ := token.(string)

		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			return object{}, jsonError(key, subject, start, err)
		}
		valueEnd := offset()
		result.members = append(result.members, member{
			name:       name,
			nameStart:  nameStart,
			valueStart: valueEnd - len(value),
			valueEnd:   valueEnd,
		})
	}

	if _, err := decoder.Token(); err != nil {
		return object{}, jsonError(key, subject, start, err)
	}
	result.close = offset() - 1

	if _, err := decoder.Token(); err != io.EOF {
		return object{}, newError(key, ErrInvalidJSON,
			"%s continues after its closing brace, which is at byte offset %d",
			subject, result.close)
	}
	return result, nil
}

// skipSeparators returns the offset of the first byte at or after offset that is neither JSON
// whitespace nor a comma.
func skipSeparators(data []byte, offset int) int {
	for offset < len(data) {
		switch data[offset] {
		case ' ', '\t', '\r', '\n', ',':
			offset++
		default:
			return offset
		}
	}
	return offset
}

// jsonError turns a decoder error into an *Error. json.SyntaxError messages quote the offending
// character, which may be part of a password, so only the offset is kept.
func jsonError(key, subject string, base int, err error) error {
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr):
		return newError(key, ErrInvalidJSON, "%s is malformed JSON at byte offset %d",
			subject, base+int(syntaxErr.Offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(key, ErrInvalidJSON, "%s ends before the JSON is complete", subject)
	default:
		return newError(key, ErrInvalidJSON, "%s could not be read as JSON (%T)", subject, err)
	}
}

// tokenKind names the JSON kind of a token returned by json.Decoder.Token.
func tokenKind(token json.Token) string {
	switch value := token.(type) {
	case json.Delim:
		if value == '[' {
			return "an array"
		}
		return fmt.Sprintf("the delimiter %q", rune(value))
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}

// rawKind names the JSON kind of a complete raw value.
func rawKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
