// Package paging guards the loops that follow the continue tokens of a paginated list.
package paging

import "errors"

// ErrRepeatedToken is the error of a list whose server returned a continue token a second
// time, as a server that ignores the continue parameter does. Following it would repeat the
// same pages, and count their items again, until the context ends.
var ErrRepeatedToken = errors.New("the API server returned the same continue token twice, " +
	"so the list would never end")

// Tokens records the continue tokens that one list has followed.
type Tokens map[string]bool

// Follow records token and returns ErrRepeatedToken when the list followed it before.
func (t Tokens) Follow(token string) error {
	if t[token] {
		return ErrRepeatedToken
	}
	t[token] = true
	return nil
}
