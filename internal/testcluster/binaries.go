package testcluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulePath is the Go module path of this repository, used to recognise its root.
const ModulePath = "github.com/imagedist/terraform-provider-imagedist"

// Names of the control-plane programs, as tools/build.sh names them.
const (
	programEtcd              = "etcd"
	programAPIServer         = "kube-apiserver"
	programControllerManager = "kube-controller-manager"
)

// binaryEnvironment maps each program to the environment variable that overrides its path.
var binaryEnvironment = map[string]string{
	programEtcd:              "IMAGEDIST_ETCD",
	programAPIServer:         "IMAGEDIST_KUBE_APISERVER",
	programControllerManager: "IMAGEDIST_KUBE_CONTROLLER_MANAGER",
}

// ModuleRoot returns the repository root: the nearest directory, starting at the working
// directory and walking up, whose go.mod declares ModulePath.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}

	for {
		matches, err := declaresModule(filepath.Join(dir, "go.mod"))
		if err != nil {
			return "", err
		}
		if matches {
			return dir, nil
		}

		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod declaring module %s in the working directory "+
				"or above it; run from inside the repository", ModulePath)
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod at path exists and declares ModulePath.
func declaresModule(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}

	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == ModulePath, nil
		}
	}
	return false, nil
}

// findBinary returns the path of a control-plane program: the file named by its environment
// variable when that is set, else the output of `tools/build.sh path PROGRAM`, which builds
// the program first if the cache lacks it.
func findBinary(program string) (string, error) {
	variable := binaryEnvironment[program]
	if path := os.Getenv(variable); path != "" {
		if err := checkExecutable(path); err != nil {
			return "", fmt.Errorf("%s: %w", variable, err)
		}
		return path, nil
	}

	root, err := ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("locating %s (set %s to skip the lookup): %w", program, variable, err)
	}

	script := filepath.Join(root, "tools", "build.sh")
	cmd := exec.Command(script, "path", program)
	cmd.Dir = root
	// The script reports build progress on stderr, which can take minutes on a fresh machine.
	cmd.Stderr = os.Stderr
	output, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running %s path %s failed (set %s to use a built binary): %w",
			script, program, variable, err)
	}

	path := strings.TrimSpace(string(output))
	if err := checkExecutable(path); err != nil {
		return "", fmt.Errorf("%s path %s printed an unusable path: %w", script, program, err)
	}
	return path, nil
}

func checkExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
