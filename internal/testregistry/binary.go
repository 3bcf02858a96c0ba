package testregistry

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

// binaryEnvironment names the environment variable that overrides the registry binary's
// path, as `tools/build.sh env` prints it.
const binaryEnvironment = "IMAGEDIST_REGISTRY"

// modulePath is the Go module path of this repository, used to recognise its root.
const modulePath = "github.com/imagedist/terraform-provider-imagedist"

// findBinary returns the file named by IMAGEDIST_REGISTRY when that is set, else the path
// that `tools/build.sh path registry` prints, which builds the program first if the cache
// lacks it.
func findBinary() (string, error) {
	if path := os.Getenv(binaryEnvironment); path != "" {
		if err := checkExecutable(path); err != nil {
			return "", fmt.Errorf("%s: %w", binaryEnvironment, err)
		}
		return path, nil
	}

	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("locating the registry binary (set %s to skip the lookup): %w",
			binaryEnvironment, err)
	}

	script := filepath.Join(root, "tools", "build.sh")
	cmd := exec.Command(script, "path", "registry")
	cmd.Dir = root
	// The script reports build progress on stderr, and a first build takes minutes.
	cmd.Stderr = os.Stderr
	output, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running %s path registry failed (set %s to use a built binary): %w",
			script, binaryEnvironment, err)
	}

	path := strings.TrimSpace(string(output))
	if err := checkExecutable(path); err != nil {
		return "", fmt.Errorf("%s path registry printed an unusable path: %w", script, err)
	}
	return path, nil
}

// moduleRoot returns the nearest directory, starting at the working directory and walking
// up, whose go.mod declares modulePath.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}

	for {
		declares, err := declaresModule(filepath.Join(dir, "go.mod"))
		if err != nil {
			return "", err
		}
		if declares {
			return dir, nil
		}

		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod declaring module %s in the working directory "+
				"or above it; run from inside the repository", modulePath)
		}
		dir = parent
	}
}

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
			return strings.Trim(fields[1], `"`) == modulePath, nil
		}
	}
	return false, nil
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
