package dockerconfig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// FuzzEncodeDecode checks that any username without a colon and any password survive Encode,
// Decode and a Merge into a shared document, and that Remove then restores that document.
func FuzzEncodeDecode(f *testing.F) {
	seeds := []struct{ username, password string }{
		{"bob", `p{a}s"s:w\o&rd`},
		{"bob", "pässwörd"},
		{"用户", "密码"},
		{"robot", "secret:"},
		{"robot", ":"},
		{"u", "<>&\u2028\u2029\x00\x7f"},
		{"u", strings.Repeat("x", 4096)},
		{"", "pw"},
		{"a:b", "pw"},
		{"u", ""},
		{"u", "\xff\xfe"},
	}
	for _, seed := range seeds {
		f.Add(seed.username, seed.password)
	}

	f.Fuzz(func(t *testing.T, username, password string) {
		entry := Entry{Server: "registry.example.com", Username: username, Password: password}
		data, err := Encode([]Entry{entry})

		switch {
		case username == "":
			if !errors.Is(err, ErrMissingUsername) {
				t.Fatalf("Encode with empty username: error = %v, want ErrMissingUsername", err)
			}
			return
		case strings.Contains(username, ":"):
			if !errors.Is(err, ErrUsernameColon) {
				t.Fatalf("Encode with colon in username: error = %v, want ErrUsernameColon", err)
			}
			return
		case password == "":
			if !errors.Is(err, ErrMissingPassword) {
				t.Fatalf("Encode with empty password: error = %v, want ErrMissingPassword", err)
			}
			return
		case !utf8.ValidString(username) || !utf8.ValidString(password):
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("Encode with invalid UTF-8: error = %v, want ErrInvalidUTF8", err)
			}
			return
		case err != nil:
			t.Fatalf("Encode returned error: %v", err)
		}

		config, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode of Encode output returned error: %v", err)
		}
		checkEntry(t, config, username, password)

		fields := decodeFields(t, data, "registry.example.com")
		if fields.Username != username || fields.Password != password {
			t.Fatal("username or password field differs after encoding/json decoding")
		}
		auth, err := base64.StdEncoding.DecodeString(fields.Auth)
		if err != nil || string(auth) != username+":"+password {
			t.Fatal("auth field does not decode to username:password")
		}

		shared, err := Decode([]byte(sharedPullSecret))
		if err != nil {
			t.Fatalf("Decode of the shared pull secret returned error: %v", err)
		}
		if err := shared.Merge(entry); err != nil {
			t.Fatalf("Merge returned error: %v", err)
		}
		checkEntry(t, shared, username, password)
		if _, err := shared.Remove(entry.Server); err != nil {
			t.Fatalf("Remove returned error: %v", err)
		}
		if string(shared.Bytes()) != sharedPullSecret {
			t.Fatal("Merge then Remove did not restore the shared pull secret")
		}
	})
}

func checkEntry(t *testing.T, config *Config, username, password string) {
	t.Helper()

	got, found := config.Entry("registry.example.com")
	if !found {
		t.Fatal("entry registry.example.com not found")
	}
	if got.Username != username {
		t.Fatalf("username = %q, want %q", got.Username, username)
	}
	if got.Password != password {
		t.Fatalf("password differs after the round trip (%d bytes, want %d)",
			len(got.Password), len(password))
	}
}

// FuzzDecodeEdit runs Decode on arbitrary input and edits every document it accepts. Merge then
// Remove of a new key must restore the bytes. Remove of an existing key must leave the other
// entries as they were.
func FuzzDecodeEdit(f *testing.F) {
	seeds := []string{
		sharedPullSecret,
		`{"auths":{}}`,
		`{"auths":null}`,
		`{}`,
		"{ \"auths\" : { \"a.io\" : { } , \"b.io\":{\"auth\":\"YTpi\"}\n}\t}",
		`{"auths":{"a.io":{"x":[1,{"y":"\u00e9"}]},"c.io":{}},"z":1}`,
		`{"Auths":{"a.io":{"AUTH":"YTpi"}}}`,
		`[]`,
		`{"auths":{"a.io":{}}} x`,
	}
	for _, seed := range seeds {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		config, err := Decode(data)
		if err != nil {
			var decodeErr *Error
			if !errors.As(err, &decodeErr) {
				t.Fatalf("Decode error has type %T, want *Error", err)
			}
			return
		}
		entries := config.Entries()

		if config.hasAuths && config.entryIndex("fuzz.example.com") < 0 {
			edited, _ := Decode(data)
			entry := Entry{Server: "fuzz.example.com", Username: "u", Password: "p"}
			if err := edited.Merge(entry); err != nil {
				t.Fatalf("Merge returned error: %v", err)
			}
			if _, err := edited.Remove(entry.Server); err != nil {
				t.Fatalf("Remove returned error: %v", err)
			}
			if string(edited.Bytes()) != string(data) {
				t.Fatalf("Merge then Remove changed %q to %q", data, edited.Bytes())
			}
		}

		for i, entry := range entries {
			key, err := imageref.RegistryKey(entry.Key)
			if err != nil || key != entry.Key {
				continue
			}
			edited, _ := Decode(data)
			if removed, err := edited.Remove(key); err != nil || !removed {
				t.Fatalf("Remove(%q) = %v, %v, want the entry removed", key, removed, err)
			}
			want := slices.Delete(slices.Clone(entries), i, i+1)
			got := edited.Entries()
			if !slices.EqualFunc(got, want, equalEntries) {
				t.Fatalf("Remove(%q) of %q left entries %v, want %v", key, data, got, want)
			}
		}
	})
}

func equalEntries(a, b AuthEntry) bool {
	return a.Key == b.Key && a.Username == b.Username && a.Password == b.Password &&
		a.Email == b.Email &&
		maps.EqualFunc(a.Extra, b.Extra, func(x, y json.RawMessage) bool {
			return bytes.Equal(x, y)
		})
}
