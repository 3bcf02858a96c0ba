package kube

import (
	"fmt"
	"strings"
	"testing"
)

// User information planted in URL-like values. No message may contain any part of it.
const (
	plantedUser     = "usr-Q7"
	plantedPassword = "S3cr3tPW-77"
)

// userInfoShapes are URL-like values that carry user information in every shape that
// url.Parse reads differently: without a scheme, with odd schemes, with "@" elsewhere, with
// several "@", percent-encoded, and with characters in the password that end a URL part.
func userInfoShapes() map[string]string {
	userInfo := plantedUser + ":" + plantedPassword
	return map[string]string{
		"no scheme":              userInfo + "@127.0.0.1:34829",
		"no scheme no port":      userInfo + "@proxy",
		"https":                  "https://" + userInfo + "@127.0.0.1:34829",
		"upper-case scheme":      "HTTPS://" + userInfo + "@127.0.0.1:34829",
		"odd scheme":             "ftp://" + userInfo + "@127.0.0.1:21",
		"scheme after @":         userInfo + "@127.0.0.1://x",
		"scheme-relative":        "//" + userInfo + "@127.0.0.1:34829",
		"at sign in path":        "https://" + userInfo + "@127.0.0.1:34829/k8s@x",
		"at sign in query":       "https://" + userInfo + "@127.0.0.1:34829/?a=b@c",
		"several at signs":       "https://" + plantedUser + "@x:" + plantedPassword + "@127.0.0.1",
		"at sign in password":    "https://" + plantedUser + ":" + plantedPassword + "@more@127.0.0.1",
		"slash in password":      "https://" + plantedUser + ":" + plantedPassword + "/x@127.0.0.1",
		"hash in password":       "https://" + plantedUser + ":" + plantedPassword + "#x@127.0.0.1",
		"question in password":   "https://" + plantedUser + ":" + plantedPassword + "?x@127.0.0.1",
		"encoded at in password": "https://" + plantedUser + ":" + plantedPassword + "%40x@127.0.0.1",
		"encoded separators": "https://" + plantedUser + "%3A" + plantedPassword +
			"%40127.0.0.1:6443",
		"bad escape":          "https://" + userInfo + "%zz@127.0.0.1:34829",
		"bad escape in path":  "https://" + userInfo + "@127.0.0.1:34829/%zz",
		"bad port":            "https://" + userInfo + "@127.0.0.1:port",
		"port out of range":   userInfo + "@127.0.0.1:99999",
		"unclosed IPv6":       "https://" + userInfo + "@[::1",
		"no host":             "https://" + userInfo + "@",
		"user only":           "https://" + plantedPassword + "@127.0.0.1:34829",
		"control character":   "https://" + userInfo + "@127.0.0.1\x01:34829",
		"space in password":   "https://" + plantedUser + ":" + plantedPassword + " x@127.0.0.1",
		"fragment after host": "https://" + userInfo + "@127.0.0.1:34829#frag",
	}
}

// requireNoUserInfo fails when text contains any part of the planted user information.
func requireNoUserInfo(t *testing.T, text string) {
	t.Helper()
	for _, part := range []string{plantedUser, plantedPassword, "S3cr3t", "PW-77"} {
		if strings.Contains(text, part) {
			t.Errorf("text contains user information %q:\n%s", part, text)
		}
	}
}

func TestDisplayURLHidesUserInfo(t *testing.T) {
	for name, raw := range userInfoShapes() {
		t.Run(name, func(t *testing.T) {
			got := displayURL(raw)
			requireNoUserInfo(t, got)
			if !strings.Contains(got, redactedText) {
				t.Errorf("displayURL(%q) = %s, want a [REDACTED] marker", raw, got)
			}
		})
	}
}

func TestDisplayURLKeepsAddress(t *testing.T) {
	cases := map[string]string{
		"https://127.0.0.1:6443/k8s":           `"https://127.0.0.1:6443/k8s"`,
		"127.0.0.1:6443":                       `"127.0.0.1:6443"`,
		"https://u:p@127.0.0.1:6443/k8s":       `"https://[REDACTED]@127.0.0.1:6443/k8s"`,
		"u:p@proxy:3128":                       `"[REDACTED]@proxy:3128"`,
		"https://127.0.0.1:6443/?token=abc":    `"https://127.0.0.1:6443/?[REDACTED]"`,
		"https://127.0.0.1:6443#token":         `"https://127.0.0.1:6443#[REDACTED]"`,
		"https://u:p%40q@127.0.0.1:6443":       `"https://[REDACTED]@127.0.0.1:6443"`,
		"https://127.0.0.1:6443/\x01":          `"https://127.0.0.1:6443/\x01"`,
		"socks5://u:p@127.0.0.1:1080?x=1#frag": `"socks5://[REDACTED]@127.0.0.1:1080?[REDACTED]"`,
	}
	for raw, want := range cases {
		if got := displayURL(raw); got != want {
			t.Errorf("displayURL(%q) = %s, want %s", raw, got, want)
		}
	}
}

// kubeconfigWithCluster returns a kubeconfig whose only cluster has the given server and
// proxy-url, written as YAML double-quoted strings.
func kubeconfigWithCluster(server, proxyURL string) string {
	cluster := fmt.Sprintf("    server: %q\n    insecure-skip-tls-verify: true\n", server)
	if proxyURL != "" {
		cluster += fmt.Sprintf("    proxy-url: %q\n", proxyURL)
	}
	return "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n" +
		"  cluster:\n" + cluster + "users:\n- name: u\n  user:\n    token: abcd\n" +
		"contexts:\n- name: c\n  context: {cluster: c, user: u}\n"
}

// TestURLSettingsNeverQuoteUserInfo puts every shape into host, proxy_url and a kubeconfig's
// server and proxy-url, and searches every error of Check, RESTConfig and Clients for it.
func TestURLSettingsNeverQuoteUserInfo(t *testing.T) {
	notInCluster(t)
	dir := t.TempDir()
	const host = "https://127.0.0.1:16443"

	for name, raw := range userInfoShapes() {
		fileName := strings.ReplaceAll(name, " ", "-")
		serverFile := writeFile(t, dir, fileName+"-server", kubeconfigWithCluster(raw, ""))
		proxyFile := writeFile(t, dir, fileName+"-proxy", kubeconfigWithCluster(host, raw))
		configs := []struct {
			setting    string
			config     Config
			mustReject bool
		}{
			{"host", Config{Host: raw, Insecure: true}, true},
			{"proxy_url", Config{Host: host, Insecure: true, ProxyURL: raw}, false},
			{"kubeconfig server", Config{ConfigPaths: []string{serverFile}}, true},
			{"kubeconfig proxy-url", Config{ConfigPaths: []string{proxyFile}}, false},
		}
		for _, tc := range configs {
			t.Run(name+"/"+tc.setting, func(t *testing.T) {
				problems := tc.config.Check()
				if tc.mustReject && len(problems) == 0 {
					t.Errorf("Check() accepted an address with user information")
				}
				for _, problem := range problems {
					requireNoUserInfo(t, problem.Error())
				}
				if _, err := tc.config.RESTConfig(); err != nil {
					requireNoUserInfo(t, err.Error())
				}
				if _, err := NewClients(tc.config, "test").Kubernetes(); err != nil {
					requireNoUserInfo(t, err.Error())
				}
			})
		}
	}
}

func TestCheckHostUnusableAddresses(t *testing.T) {
	cases := map[string]string{
		"https://127.0.0.1:99999":     "between 1 and 65535",
		"127.0.0.1:99999":             "between 1 and 65535",
		"https://127.0.0.1:0":         "between 1 and 65535",
		"https://127.0.0.1:6443#frag": "fragment",
		"https://127.0.0.1:6443/#":    "fragment",
		"https://127.0.0.1:6443/?x=1": "query",
		"https://127.0.0.1:6443?":     "query",
		"https://":                    "no host name",
	}
	for host, reason := range cases {
		t.Run(host, func(t *testing.T) {
			problem := onlyProblem(t, Config{Host: host}.Check(), AttributeHost, "Invalid Host")
			requireContains(t, problem.Detail, reason)
		})
	}
}

func TestCheckProxyURLUnusableAddresses(t *testing.T) {
	cases := map[string]string{
		"http://127.0.0.1:99999": "between 1 and 65535",
		"127.0.0.1:3128":         "scheme such as http://",
		"proxy:3128":             "scheme such as http://",
	}
	for proxyURL, reason := range cases {
		t.Run(proxyURL, func(t *testing.T) {
			config := Config{Host: "https://127.0.0.1:16443", ProxyURL: proxyURL}
			problem := onlyProblem(t, config.Check(), AttributeProxyURL, "Invalid Proxy URL")
			requireContains(t, problem.Detail, reason)
		})
	}
}
