package scratchtmp

import (
	"testing"
	"time"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

func TestEtcdFirst(t *testing.T) {
	c, err := testcluster.Start(t.Context(), testcluster.Options{SkipCRDs: true, WithoutControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	testcluster.StopEtcdFirstForExperiment(c, t)
	_ = time.Second
}
