package paging

import (
	"errors"
	"testing"
)

func TestTokensFollow(t *testing.T) {
	tokens := Tokens{}
	if err := tokens.Follow("first"); err != nil {
		t.Errorf("Follow(first) = %v, expected nil", err)
	}
	if err := tokens.Follow("second"); err != nil {
		t.Errorf("Follow(second) = %v, expected nil", err)
	}
	if err := tokens.Follow("first"); !errors.Is(err, ErrRepeatedToken) {
		t.Errorf("Follow(first) again = %v, expected ErrRepeatedToken", err)
	}
}
