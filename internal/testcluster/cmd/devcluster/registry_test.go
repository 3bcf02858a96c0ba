package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/testregistry"
)

func TestShellQuoteRoundTrip(t *testing.T) {
	values := []string{"", "plain", "with space", "it's", "'", `back\slash`, "$HOME `x`", "a\nb"}
	for _, value := range values {
		output, err := exec.Command("sh", "-c", "printf %s "+shellQuote(value)).Output()
		if err != nil {
			t.Fatalf("sh with %s: %v", shellQuote(value), err)
		}
		if string(output) != value {
			t.Errorf("sh printed %q for %s, expected %q", output, shellQuote(value), value)
		}
	}
}

func TestWriteRegistryFiles(t *testing.T) {
	dir := t.TempDir()
	passwordPath := filepath.Join(dir, registryPasswordFile)
	// A file left with a looser mode must not keep it.
	if err := os.WriteFile(passwordPath, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	registry := &testregistry.Registry{
		Host:     "127.0.0.1:5000",
		CAFile:   filepath.Join(dir, "registry", "ca.crt"),
		Username: "imagedist",
		Password: "secret-password",
	}

	if err := writeRegistryFiles(dir, registry); err != nil {
		t.Fatalf("writeRegistryFiles: %v", err)
	}

	info, err := os.Stat(passwordPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("password file mode = %o, expected 600", mode)
	}
	password, err := os.ReadFile(passwordPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(password) != registry.Password {
		t.Errorf("password file = %q, expected %q", password, registry.Password)
	}

	envPath := filepath.Join(dir, registryEnvFile)
	env, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), registry.Password) {
		t.Errorf("%s contains the password", registryEnvFile)
	}
	script := ". " + shellQuote(envPath) + ` && printf '%s|%s|%s|%s' "$registry_host" ` +
		`"$registry_ca_file" "$registry_username" "$registry_password_file"`
	output, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sourcing %s: %v", registryEnvFile, err)
	}
	expected := strings.Join([]string{registry.Host, registry.CAFile, registry.Username,
		passwordPath}, "|")
	if string(output) != expected {
		t.Errorf("%s assigns %q, expected %q", registryEnvFile, output, expected)
	}
}
