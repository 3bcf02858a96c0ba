package mirrors

// LocationDefect returns why s does not match OpenShift's registry location grammar, or ""
// when it matches. The grammar is host[:port][/path], and also "*.domain" when wildcard is
// true. The reason is a clause that follows the quoted value, such as `contains a tag
// (":latest")`. Registry entries of config.openshift.io/v1 Image follow the mirror grammar.
func LocationDefect(s string, wildcard bool) string {
	return locationDefect(s, wildcard)
}

// PortRangeDefect returns why the port of a location that matches the grammar is not a port
// number from 1 to 65535, or "" when it is or there is none.
func PortRangeDefect(location string) string {
	return portRangeDefect(location)
}
