package testregistry

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// binaryEnvironment names the environment variable that overrides the registry binary's
// path, as `tools/build.sh env` prints it.
const binaryEnvironment = "IMAGEDIST_REGISTRY"

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

	root, err := testcluster.ModuleRoot()
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
