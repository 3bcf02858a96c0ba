package benchmarks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// programPaths caches `tools/build.sh path NAME` per program.
var programPaths = struct {
	sync.Mutex
	found map[string]func() (string, error)
}{found: map[string]func() (string, error){}}

// programPath returns the path of a program that tools/build.sh builds, such as kubectl or
// terraform, building it first when the cache lacks it.
func programPath(name string) (string, error) {
	programPaths.Lock()
	find, ok := programPaths.found[name]
	if !ok {
		find = sync.OnceValues(func() (string, error) { return buildProgram(name) })
		programPaths.found[name] = find
	}
	programPaths.Unlock()
	return find()
}

func buildProgram(name string) (string, error) {
	root, err := testcluster.ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "tools", "build.sh"), "path", name)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	output, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tools/build.sh path %s failed: %w", name, err)
	}
	return strings.TrimSpace(string(output)), nil
}

// providerPlugin returns the directory that contains the provider binary
// terraform-provider-imagedist: the directory of envProviderBinary when set, else a
// temporary directory into which it builds the provider once.
var providerPlugin = sync.OnceValues(func() (string, error) {
	if path := os.Getenv(envProviderBinary); path != "" {
		if filepath.Base(path) != "terraform-provider-imagedist" {
			return "", fmt.Errorf("%s=%s: expected a file named terraform-provider-imagedist",
				envProviderBinary, path)
		}
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%s: %w", envProviderBinary, err)
		}
		return filepath.Dir(path), nil
	}

	root, err := testcluster.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "imagedist-bench-provider-")
	if err != nil {
		return "", err
	}
	registerCleanup(func() { os.RemoveAll(dir) })

	logProgress("building the provider (set %s to use a built one)", envProviderBinary)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-imagedist"), ".")
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the provider: %w\n%s", err, output)
	}
	return dir, nil
})

// terraformWorkdir writes the configuration into a directory of its own beside a CLI
// configuration whose dev_overrides point Terraform at the provider binary, and returns the
// directory and the environment to run terraform with. Terraform needs no `terraform init`
// when dev_overrides cover every provider of the configuration.
func terraformWorkdir(parent, name, configuration string) (string, []string, error) {
	plugins, err := providerPlugin()
	if err != nil {
		return "", nil, err
	}

	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(configuration), 0o644); err != nil {
		return "", nil, err
	}
	cliConfig := fmt.Sprintf("provider_installation {\n"+
		"  dev_overrides {\n    %q = %q\n  }\n}\n", "imagedist/imagedist", plugins)
	cliConfigPath := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfigPath, []byte(cliConfig), 0o644); err != nil {
		return "", nil, err
	}

	environment := append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfigPath,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		// Without it, Terraform sends a version check to checkpoint-api.hashicorp.com.
		"CHECKPOINT_DISABLE=1",
	)
	return dir, environment, nil
}
