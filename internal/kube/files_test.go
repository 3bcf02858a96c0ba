package kube

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// checkWithin runs Check and fails if it does not return within ten seconds, as happens
// when it reads a device that never ends or opens a FIFO that has no writer.
func checkWithin(t *testing.T, config Config) []SettingError {
	t.Helper()
	done := make(chan []SettingError, 1)
	go func() { done <- config.Check() }()
	select {
	case problems := <-done:
		return problems
	case <-time.After(10 * time.Second):
		t.Fatalf("Check() did not return within 10s")
		return nil
	}
}

func TestCheckKubeconfigDevice(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero on this system")
	}
	problem := onlyProblem(t, checkWithin(t, Config{ConfigPaths: []string{"/dev/zero"}}),
		AttributeConfigPath, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, "/dev/zero", "not a regular file", "device")
}

func TestCheckKubeconfigTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "large")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file: its size counts, and nothing is written.
	if err := file.Truncate(maxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}

	problem := onlyProblem(t, checkWithin(t, Config{ConfigPaths: []string{path}}),
		AttributeConfigPath, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, path, "over the limit of 16 MiB")
}

func TestKubeconfigDecodedOncePerFile(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	primary := writeFile(t, dir, "primary", primaryKubeconfig(pki))
	secondary := writeFile(t, dir, "secondary", secondaryKubeconfig())

	decodes := 0
	previous := decodeKubeconfig
	decodeKubeconfig = func(data []byte) (*clientcmdapi.Config, error) {
		decodes++
		return previous(data)
	}
	t.Cleanup(func() { decodeKubeconfig = previous })

	mustRESTConfig(t, Config{ConfigPaths: []string{primary, secondary}})
	if decodes != 2 {
		t.Errorf("two kubeconfig files were decoded %d times, want 2", decodes)
	}
}

func TestKubeconfigPathsSkipEmptyElements(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "config", primaryKubeconfig(pki))

	// KUBE_CONFIG_PATHS="config:" or ":config" splits into a path and an empty element.
	for _, paths := range [][]string{{path, ""}, {"", path}, {"", path, ""}} {
		restConfig := mustRESTConfig(t, Config{ConfigPaths: paths})
		if restConfig.Host != alphaServer {
			t.Errorf("paths %q: Host = %q, want %q", paths, restConfig.Host, alphaServer)
		}
	}

	problem := onlyProblem(t, Config{ConfigPaths: []string{"", ""}}.Check(),
		AttributeConfigPaths, "Invalid Kubeconfig Path")
	requireContains(t, problem.Detail, "empty")

	// One path that is left after dropping empty elements must exist, as config_path must.
	missing := filepath.Join(dir, "missing")
	problem = onlyProblem(t, Config{ConfigPaths: []string{missing, ""}}.Check(),
		AttributeConfigPaths, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, missing, "no such file or directory")
}

func TestKubeconfigPathsSkipMissingFiles(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	primary := writeFile(t, dir, "primary", primaryKubeconfig(pki))
	secondary := writeFile(t, dir, "secondary", secondaryKubeconfig())
	missing := filepath.Join(dir, "missing")

	restConfig := mustRESTConfig(t, Config{ConfigPaths: []string{missing, secondary, primary}})
	if restConfig.Host != gammaServer {
		t.Errorf("Host = %q, want %q from the first file that exists", restConfig.Host, gammaServer)
	}

	// Messages name the files that were loaded, not the missing one.
	problem := onlyProblem(t,
		Config{ConfigPaths: []string{missing, primary}, ConfigContext: "nope"}.Check(),
		AttributeConfigContext, "Unknown Kubeconfig Context")
	requireContains(t, problem.Detail, "kubeconfig file "+primary)
}
