package testcluster

import (
	"os"
	"path/filepath"
	"testing"
)

func writeHostKubeconfig(t *testing.T, name, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	content := `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster: {server: "` + server + `"}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user: {token: t}
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunTestsStaleAdminKubeconfig checks that an IMAGEDIST_ACC_ADMIN_KUBECONFIG left in the
// environment, without the least-privilege mode, does not send the tests' checks to another
// cluster than the provider's.
func TestRunTestsStaleAdminKubeconfig(t *testing.T) {
	t.Setenv(EnvAcceptance, "1")
	t.Setenv(EnvIdentity, "")
	t.Setenv(EnvKubeconfig, writeHostKubeconfig(t, "provider", "https://127.0.0.1:1"))
	t.Setenv(EnvAdminKubeconfig, writeHostKubeconfig(t, "stale", "https://127.0.0.2:1"))

	ran := false
	code := runTests(runnerFunc(func() int {
		ran = true
		config, err := RESTConfigFromEnv()
		if err != nil {
			t.Errorf("RESTConfigFromEnv: %v", err)
			return 1
		}
		if config.Host != "https://127.0.0.1:1" {
			t.Errorf("checks use %s, expected the provider's cluster https://127.0.0.1:1",
				config.Host)
		}
		return 0
	}), Options{Logf: t.Logf})
	if ran && code != 0 {
		t.Errorf("exit code = %d", code)
	}
	if !ran && code == 0 {
		t.Error("runTests neither ran the tests nor failed")
	}
}

func TestRunTestsIdentityValues(t *testing.T) {
	for _, value := range []string{"Least-Privilege", "least-privilege ", "admin", "1"} {
		t.Run(value, func(t *testing.T) {
			t.Setenv(EnvIdentity, value)
			t.Setenv(EnvAcceptance, "")
			code := runTests(runnerFunc(func() int { return 0 }), Options{Logf: t.Logf})
			if code != 2 {
				t.Errorf("exit code = %d for %s=%q, expected 2", code, EnvIdentity, value)
			}
		})
	}
}
