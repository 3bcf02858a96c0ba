package dockerconfig

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// Merge writes entry under its registry key, imageref.RegistryKey(entry.Server), and leaves
// every other byte of the document as it was.
//
// When an entry with exactly that key exists, its whole value is replaced, extra fields such as
// "identitytoken" included, because an old token left beside new credentials could be sent in
// their place. Otherwise the entry is appended to "auths", which is created when
// missing or null. Entries whose keys are other spellings of the same registry, such as
// "https://quay.io/" for "quay.io", are left alone. Use Lookup to find them. The entry is
// checked as Encode checks it.
func (c *Config) Merge(entry Entry) error {
	key, fields, err := entryFields(entry)
	if err != nil {
		return err
	}
	value, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	keyJSON, err := json.Marshal(key)
	if err != nil {
		return err
	}
	pair := string(keyJSON) + ":" + string(value)

	switch {
	case c.entryIndex(key) >= 0:
		m := c.auths.members[c.entryIndex(key)]
		return c.splice(m.valueStart, m.valueEnd, string(value))
	case c.hasAuths:
		return c.appendMember(c.auths, pair)
	case c.authsIndex >= 0:
		// "auths" is null: replace the null with an object.
		m := c.top.members[c.authsIndex]
		return c.splice(m.valueStart, m.valueEnd, "{"+pair+"}")
	default:
		return c.appendMember(c.top, `"`+authsField+`":{`+pair+"}")
	}
}

// Remove deletes the entry whose key is exactly imageref.RegistryKey(server), with the comma
// that separated it from its neighbour, and leaves every other byte as it was. It reports
// whether an entry was removed. Other spellings of the same registry are left alone, as in
// Merge.
func (c *Config) Remove(server string) (bool, error) {
	key, err := imageref.RegistryKey(server)
	if err != nil {
		return false, err
	}
	return c.RemoveKey(key)
}

// RemoveKey deletes the entry whose key is exactly key, as the document writes it, such as
// "https://quay.io/", with the comma that separated it from its neighbour, and leaves every
// other byte as it was. It reports whether an entry was removed.
func (c *Config) RemoveKey(key string) (bool, error) {
	index := c.entryIndex(key)
	if index < 0 {
		return false, nil
	}

	members := c.auths.members
	var start, end int
	switch {
	case index > 0:
		// Delete from the end of the previous value: the comma, the name and the value.
		start, end = members[index-1].valueEnd, members[index].valueEnd
	case len(members) > 1:
		// The first of several: delete the name, the value and the comma after it.
		start, end = members[0].nameStart, members[1].nameStart
	default:
		start, end = members[0].nameStart, members[0].valueEnd
	}
	if err := c.splice(start, end, ""); err != nil {
		return false, err
	}
	return true, nil
}

// entryIndex returns the index in auths.members of the entry whose key is exactly key, or -1.
func (c *Config) entryIndex(key string) int {
	if !c.hasAuths {
		return -1
	}
	return slices.IndexFunc(c.auths.members, func(m member) bool { return m.name == key })
}

// appendMember adds `"name":value` text as the last member of obj.
func (c *Config) appendMember(obj object, pair string) error {
	if len(obj.members) == 0 {
		return c.splice(obj.close, obj.close, pair)
	}
	last := obj.members[len(obj.members)-1]
	return c.splice(last.valueEnd, last.valueEnd, ","+pair)
}

// splice replaces data[start:end] with text and indexes the result. On error the Config is
// unchanged.
func (c *Config) splice(start, end int, text string) error {
	data := make([]byte, 0, len(c.data)-(end-start)+len(text))
	data = append(data, c.data[:start]...)
	data = append(data, text...)
	data = append(data, c.data[end:]...)

	edited := &Config{data: data, legacy: c.legacy}
	if err := edited.index(); err != nil {
		return fmt.Errorf("edited docker config does not parse, which is a bug: %w", err)
	}
	*c = *edited
	return nil
}
