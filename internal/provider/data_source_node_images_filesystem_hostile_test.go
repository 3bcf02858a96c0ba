package provider

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
)

// The node proxy passes a kubelet's error response through, so the message of a failure is
// whatever the kubelet, or any server that listens on its port, chose to send.
func TestImageFilesystemWarningCapsErrorText(t *testing.T) {
	huge := "error from the kubelet: " + strings.Repeat("x", 1<<20)
	failures := []nodeimages.FilesystemFailure{
		{Node: "worker-0", Reason: nodeimages.ReasonUnreachable, Err: errors.New(huge)},
		{Node: "worker-1", Reason: nodeimages.ReasonInvalid, Err: errors.New(huge)},
	}

	_, detail := imageFilesystemWarning(failures, 2, time.Second)

	if len(detail) > 8<<10 {
		t.Errorf("detail is %d bytes, expected the error text to be cut to a few KiB",
			len(detail))
	}
	if !strings.Contains(detail, "error from the kubelet: xxx") {
		t.Errorf("detail lost the start of the error:\n%.300s", detail)
	}
}

// A summary cut off at the size limit is invalid, but not because it lacks the image
// filesystem.
func TestImageFilesystemWarningInvalidAdvice(t *testing.T) {
	failures := []nodeimages.FilesystemFailure{{Node: "worker-0",
		Reason: nodeimages.ReasonInvalid,
		Err:    errors.New("the kubelet summary is larger than 16777216 bytes")}}

	_, detail := imageFilesystemWarning(failures, 1, time.Second)

	if strings.Contains(detail, "returned a summary without node.runtime.imageFs") {
		t.Errorf("detail blames a missing imageFs for an oversized summary:\n%s", detail)
	}
}
