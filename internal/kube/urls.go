package kube

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// reasonCredentials is the serverProblem reason for a URL with user information.
const reasonCredentials = "it contains credentials (user information before \"@\")"

// normalizeHost gives a scheme-less host HTTPS. client-go would pick plain HTTP for
// "host:port" unless TLS settings are present, and clientcmd then drops every credential,
// so an API server on plain HTTP has to be written with http:// explicitly.
func normalizeHost(host string) string {
	if _, ok := splitScheme(host); ok {
		return host
	}
	return "https://" + host
}

// splitScheme returns the scheme of raw when raw starts with "scheme://". A value such as
// "user:password@host:port" has no scheme in this sense, although url.Parse reads "user" as
// one, so the scheme returned here is never part of the user information.
func splitScheme(raw string) (string, bool) {
	end := strings.Index(raw, "://")
	if end <= 0 {
		return "", false
	}
	scheme := raw[:end]
	for i, r := range scheme {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		other := r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'
		if !letter && (i == 0 || !other) {
			return "", false
		}
	}
	return scheme, true
}

// serverProblem returns why raw cannot be the address of an API server, or "" when it can.
// An address without a scheme is checked as HTTPS. The reason never quotes raw.
func serverProblem(raw string) string {
	parsed, err := url.Parse(normalizeHost(raw))
	switch {
	case err != nil:
		return urlErrorReason(err)
	case parsed.User != nil:
		return reasonCredentials
	case parsed.Scheme != "http" && parsed.Scheme != "https":
		return fmt.Sprintf("the scheme %q is not http or https", parsed.Scheme)
	case parsed.Host == "":
		return "it has no host name"
	}
	if reason := portProblem(parsed); reason != "" {
		return reason
	}
	// client-go replaces the query of every request and never sends the fragment, so either
	// one is a mistake, such as a console URL pasted in place of the API server's.
	if strings.Contains(raw, "#") {
		return "it has a fragment (a part starting with \"#\"), which an API server address " +
			"cannot have"
	}
	if parsed.RawQuery != "" || parsed.ForceQuery {
		return "it has a query (a part starting with \"?\"), which client-go would drop"
	}
	return ""
}

// proxyProblem returns why raw cannot be a proxy URL for client-go, or "" when it can. The
// reason never quotes raw.
func proxyProblem(raw string) string {
	scheme, ok := splitScheme(raw)
	if !ok {
		return "it does not start with a scheme such as http://"
	}
	parsed, err := url.Parse(raw)
	switch {
	case err != nil:
		return urlErrorReason(err)
	case scheme != "http" && scheme != "https" && scheme != "socks5":
		return fmt.Sprintf("the scheme %q is not http, https or socks5", scheme)
	case parsed.Host == "":
		return "it has no host name"
	}
	return portProblem(parsed)
}

// portProblem catches ports that url.Parse accepts but no connection can use.
func portProblem(parsed *url.URL) string {
	port := parsed.Port()
	if port == "" {
		return ""
	}
	// url.Parse has checked that the port is all digits, so quoting it shows no credential.
	if number, err := strconv.Atoi(port); err != nil || number < 1 || number > 65535 {
		return fmt.Sprintf("its port %s is not between 1 and 65535", port)
	}
	return ""
}

// urlErrorReason returns the cause of a url.Parse error. url.Error repeats the whole input,
// and its inner errors quote parts of it, which for a malformed URL can be a piece of the
// password, so quoted text is removed.
func urlErrorReason(err error) string {
	var escapeErr url.EscapeError
	if errors.As(err, &escapeErr) {
		return "it contains an invalid percent-encoding"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return "it is not a valid URL: " + withoutQuotedText(urlErr.Err.Error())
	}
	return "it is not a valid URL"
}

func (c Config) checkHost() []SettingError {
	if c.Host == "" {
		return nil
	}

	if reason := serverProblem(c.Host); reason != "" {
		advice := "Set host to the API server URL, such as https://api.example.com:6443, or to " +
			"host:port."
		if reason == reasonCredentials {
			advice += " Set credentials with token, username and password, or " +
				"client_certificate and client_key instead."
		}
		return []SettingError{{
			Attribute: AttributeHost,
			Summary:   "Invalid Host",
			Detail: fmt.Sprintf("The host %s is invalid: %s. %s", displayURL(c.Host), reason,
				advice),
		}}
	}

	scheme, _ := splitScheme(c.Host)
	if strings.EqualFold(scheme, "http") && c.hasExplicitCredentials() {
		return []SettingError{{
			Attribute: AttributeHost,
			Summary:   "Credentials Over Plain HTTP",
			Detail: "The host uses http://, and client-go sends no credentials over plain " +
				"HTTP, so the configured credentials would be ignored. Use an https:// address.",
		}}
	}
	return nil
}

func (c Config) checkProxyURL() []SettingError {
	if c.ProxyURL == "" {
		return nil
	}
	reason := proxyProblem(c.ProxyURL)
	if reason == "" {
		return nil
	}
	return []SettingError{{
		Attribute: AttributeProxyURL,
		Summary:   "Invalid Proxy URL",
		Detail: fmt.Sprintf("The proxy URL %s is invalid: %s. Use a URL such as "+
			"http://proxy.example.com:3128 with the scheme http, https or socks5.",
			displayURL(c.ProxyURL), reason),
	}}
}

// redactedText replaces credentials in messages.
const redactedText = "[REDACTED]"

// displayURL quotes a URL-like value for a message. Every part that can carry a credential is
// replaced with [REDACTED]: the user information, and the query and fragment after it. The
// user information is taken to run to the last "@" or "%40" after the scheme, whatever the
// value looks like, because a malformed value may have "/", "?", "#" or another "@" inside
// its password. A value with "@" in its path loses more than its user information, which
// costs only precision in an error message.
func displayURL(raw string) string {
	return strconv.Quote(redactURL(raw))
}

// redactURL is displayURL without the quotes.
func redactURL(raw string) string {
	prefix, rest := "", raw
	if scheme, ok := splitScheme(raw); ok {
		prefix = scheme + "://"
		rest = raw[len(prefix):]
	}
	if end := userInfoEnd(rest); end >= 0 {
		prefix += redactedText + "@"
		rest = rest[end:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i+1] + redactedText
	}
	return prefix + rest
}

// userInfoEnd returns the index just after the last "@" or "%40" in text, or -1.
func userInfoEnd(text string) int {
	end := -1
	if at := strings.LastIndex(text, "@"); at >= 0 {
		end = at + 1
	}
	if at := strings.LastIndex(text, "%40"); at >= 0 && at+3 > end {
		end = at + 3
	}
	return end
}

// addURLSecrets registers the user information of a URL-like value for redaction, found by
// the same rule as in displayURL, whole and as its password, raw and percent-decoded.
func (r *redactor) addURLSecrets(raw string) {
	rest := raw
	if scheme, ok := splitScheme(raw); ok {
		rest = raw[len(scheme)+len("://"):]
	}
	end := userInfoEnd(rest)
	if end < 0 {
		return
	}
	userInfo := rest[:end]
	userInfo = strings.TrimSuffix(strings.TrimSuffix(userInfo, "@"), "%40")

	forms := []string{userInfo}
	if decoded, err := url.PathUnescape(userInfo); err == nil && decoded != userInfo {
		forms = append(forms, decoded)
	}
	for _, form := range forms {
		r.add(form)
		if colon := strings.Index(form, ":"); colon >= 0 {
			r.add(form[colon+1:])
		}
	}
}
