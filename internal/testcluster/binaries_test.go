package testcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModuleRootFromPackage(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if expected := filepath.Dir(filepath.Dir(wd)); root != expected {
		t.Errorf("ModuleRoot() = %s, expected %s", root, expected)
	}
}

func TestModuleRootIgnoresOtherModules(t *testing.T) {
	// A go.mod of another module between the working directory and the root is skipped.
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "go.mod"), "module example.com/other\n")
	t.Chdir(other)

	if _, err := ModuleRoot(); err == nil || !strings.Contains(err.Error(), ModulePath) {
		t.Errorf("ModuleRoot() outside the repository: error = %v, expected one naming %s",
			err, ModulePath)
	}

	nested := filepath.Join(root, "tools", "etcd")
	t.Chdir(nested)
	found, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if found != root {
		t.Errorf("ModuleRoot() from %s = %s, expected %s", nested, found, root)
	}
}

func TestFindBinaryFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	executable := filepath.Join(dir, "etcd")
	writeFile(t, executable, "#!/bin/sh\n")
	if err := os.Chmod(executable, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IMAGEDIST_ETCD", executable)

	path, err := findBinary(programEtcd)
	if err != nil {
		t.Fatal(err)
	}
	if path != executable {
		t.Errorf("findBinary = %s, expected %s", path, executable)
	}

	plain := filepath.Join(dir, "plain")
	writeFile(t, plain, "data")
	t.Setenv("IMAGEDIST_ETCD", plain)
	_, err = findBinary(programEtcd)
	if err == nil || !strings.Contains(err.Error(), "IMAGEDIST_ETCD") {
		t.Errorf("findBinary with a non-executable file: error = %v, expected one naming "+
			"IMAGEDIST_ETCD", err)
	}
}

func TestStartQuotesFailingProgramLog(t *testing.T) {
	dir := t.TempDir()
	failing := filepath.Join(dir, "fake-etcd")
	writeFile(t, failing, "#!/bin/sh\necho 'etcd: unknown flag: --bogus' >&2\nexit 2\n")
	if err := os.Chmod(failing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, variable := range binaryEnvironment {
		t.Setenv(variable, failing)
	}

	clusterDir := filepath.Join(dir, "cluster")
	cluster, err := Start(t.Context(), Options{Dir: clusterDir, Logf: t.Logf})
	if err == nil {
		cluster.Stop()
		t.Fatal("Start succeeded with an etcd that exits at once")
	}
	for _, expected := range []string{"etcd exited during start-up", "exit status 2",
		"unknown flag: --bogus", filepath.Join(clusterDir, "etcd.log")} {
		if !strings.Contains(err.Error(), expected) {
			t.Errorf("error does not contain %q:\n%v", expected, err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
