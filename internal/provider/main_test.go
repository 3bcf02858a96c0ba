package provider

import (
	"os"
	"testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// TestMain starts one local control plane for the package's acceptance tests when TF_ACC is
// set and KUBE_CONFIG_PATH is not; unit tests run without it.
func TestMain(m *testing.M) {
	os.Exit(testcluster.RunTests(m))
}
