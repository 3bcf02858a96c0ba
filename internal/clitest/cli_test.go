package clitest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// commandTimeout bounds each terraform or tofu command.
const commandTimeout = 5 * time.Minute

// envLongTests, when set to any value, adds the long variants of the tests, as
// `make test-long` does.
const envLongTests = "IMAGEDIST_LONG_TESTS"

// requireCLI skips the test unless TF_ACC is set, and returns the terraform or tofu program
// that TF_ACC_TERRAFORM_PATH names.
func requireCLI(t *testing.T) string {
	t.Helper()
	if os.Getenv(testcluster.EnvAcceptance) == "" {
		t.Skipf("acceptance test: set %s=1 to run it", testcluster.EnvAcceptance)
	}
	program := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if program == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH is not set: name the terraform or tofu program " +
			"to run, for example $(tools/build.sh path terraform)")
	}
	return program
}

// builtPrograms caches the provider and devcluster binaries that buildPrograms builds once
// per test binary.
var builtPrograms = sync.OnceValues(func() (string, error) {
	root, err := testcluster.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "imagedist-clitest-")
	if err != nil {
		return "", err
	}
	for name, pkg := range map[string]string{
		"terraform-provider-imagedist": ".",
		"devcluster":                   "./internal/testcluster/cmd/devcluster",
	} {
		command := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		command.Dir = root
		if output, err := command.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s: %w\n%s", pkg, err, output)
		}
	}
	return dir, nil
})

// programsDir returns the directory with the provider and devcluster binaries.
func programsDir(t *testing.T) string {
	t.Helper()
	dir, err := builtPrograms()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// devCluster is a control plane and registry that the devcluster command runs.
type devCluster struct {
	Kubeconfig       string
	RegistryHost     string
	RegistryCAFile   string
	RegistryUsername string
	RegistryPassword string
}

// startDevCluster runs `devcluster up` in a temporary directory and stops it when the test
// ends.
func startDevCluster(t *testing.T) *devCluster {
	t.Helper()
	devcluster := filepath.Join(programsDir(t), "devcluster")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := exec.CommandContext(ctx, devcluster, "-dir", dir, "up")
	if output, err := up.CombinedOutput(); err != nil {
		t.Fatalf("devcluster up: %v\n%s", err, output)
	}
	t.Cleanup(func() {
		down := exec.Command(devcluster, "-dir", dir, "down")
		if output, err := down.CombinedOutput(); err != nil {
			t.Errorf("devcluster down: %v\n%s", err, output)
		}
	})

	variables := readShellAssignments(t, filepath.Join(dir, "registry.env"))
	password, err := os.ReadFile(variables["registry_password_file"])
	if err != nil {
		t.Fatal(err)
	}
	return &devCluster{
		Kubeconfig:       filepath.Join(dir, testcluster.KubeconfigFile),
		RegistryHost:     variables["registry_host"],
		RegistryCAFile:   variables["registry_ca_file"],
		RegistryUsername: variables["registry_username"],
		RegistryPassword: string(password),
	}
}

// readShellAssignments reads the NAME='value' lines of a file that devcluster writes.
func readShellAssignments(t *testing.T, path string) map[string]string {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	variables := map[string]string{}
	for _, line := range strings.Split(string(content), "\n") {
		name, value, found := strings.Cut(line, "=")
		if !found || strings.HasPrefix(line, "#") {
			continue
		}
		value = strings.TrimSuffix(strings.TrimPrefix(value, "'"), "'")
		variables[name] = strings.ReplaceAll(value, `'\''`, `'`)
	}
	return variables
}

// workDir is a configuration directory and the environment to run the CLI in it.
type workDir struct {
	program string
	dir     string
	env     []string
}

// newWorkDir writes files into a new directory beside a CLI configuration whose
// dev_overrides point at the provider binary, so no `init` is needed.
func newWorkDir(t *testing.T, program string, files map[string]string) *workDir {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cliConfig := filepath.Join(dir, "cli.tfrc")
	overrides := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n}\n",
		"imagedist/imagedist", programsDir(t))
	if err := os.WriteFile(cliConfig, []byte(overrides), 0o644); err != nil {
		t.Fatal(err)
	}
	return &workDir{program: program, dir: dir, env: append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		// Without it, Terraform sends a version check to checkpoint-api.hashicorp.com.
		"CHECKPOINT_DISABLE=1",
	)}
}

// run runs the CLI with arguments and extra environment variables and returns its standard
// output and standard error together, with the exit code.
func (w *workDir) run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	command := exec.CommandContext(ctx, w.program, append([]string{"-chdir=" + w.dir}, args...)...)
	command.Env = append(append([]string(nil), w.env...), env...)
	var output bytes.Buffer
	command.Stdout = &output
	command.Stderr = &output
	err := command.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %s", filepath.Base(w.program), args[0], commandTimeout)
	}
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(w.program), args[0], err)
	}
	return output.String(), code
}
