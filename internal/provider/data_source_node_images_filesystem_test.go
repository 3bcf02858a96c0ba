package provider

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"net/http"
)

func TestImageFilesystemWarningGroupsReasons(t *testing.T) {
	failures := []nodeimages.FilesystemFailure{
		{Node: "worker-1", Reason: nodeimages.ReasonTimeout,
			Err: errors.New("context deadline exceeded")},
		{Node: "worker-2", Reason: nodeimages.ReasonForbidden,
			Err: errors.New(`cannot get resource "nodes/proxy"`)},
		{Node: "worker-3", Reason: nodeimages.ReasonUnreachable,
			Err: errors.New("connection refused")},
	}

	summary, detail := imageFilesystemWarning(failures, 10, 3*time.Second)

	if summary != "Image Filesystem Not Read" {
		t.Errorf("summary = %q, expected Image Filesystem Not Read", summary)
	}
	for _, expected := range []string{
		"3 of 10 nodes",
		"timed out: worker-1.", "within 3s", "context deadline exceeded",
		"forbidden: worker-2.", `resources ["nodes/proxy"]`, "image_filesystem = false",
		"unreachable: worker-3.", "connection refused",
	} {
		if !strings.Contains(detail, expected) {
			t.Errorf("detail does not contain %q:\n%s", expected, detail)
		}
	}
	if strings.Index(detail, "forbidden:") > strings.Index(detail, "timed out:") {
		t.Errorf("forbidden is not listed before timed out:\n%s", detail)
	}
}

func TestImageFilesystemWarningCapsNames(t *testing.T) {
	var failures []nodeimages.FilesystemFailure
	for i := range 25 {
		failures = append(failures, nodeimages.FilesystemFailure{
			Node: fmt.Sprintf("node-%02d", i), Reason: nodeimages.ReasonTimeout,
			Err: errors.New("timeout"),
		})
	}

	_, detail := imageFilesystemWarning(failures, 25, time.Second)

	if !strings.Contains(detail, "node-09 and 15 more") {
		t.Errorf("detail does not cap the list at %d names:\n%s", maxWarningNodes, detail)
	}
	if strings.Contains(detail, "node-10") {
		t.Errorf("detail lists node-10 beyond the cap:\n%s", detail)
	}
}

func TestImageFilesystemsValue(t *testing.T) {
	schemaType := nodeImagesSchema(t).Schema.Type().TerraformType(context.Background())
	types, err := nodeImagesTypesOf(schemaType)
	if err != nil {
		t.Fatal(err)
	}
	if value := imageFilesystemsValue(types.filesystemMap, nil); !value.IsNull() {
		t.Errorf("value without a look-up = %s, expected null", value)
	}

	capacity, available := uint64(1000), uint64(150)
	failures := nodeimages.GCFailures{Count: 2, LastMessage: "failed",
		LastTime: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	value := imageFilesystemsValue(types.filesystemMap, map[string]*nodeFilesystem{
		"read": {
			filesystem: &nodeimages.ImageFilesystem{CapacityBytes: &capacity,
				AvailableBytes: &available},
			threshold: &nodeimages.GCThreshold{Pool: "worker", HighThresholdPercent: 80},
			failures:  &failures,
		},
		"unread": {},
	})

	var entries map[string]tftypes.Value
	if err := value.As(&entries); err != nil {
		t.Fatal(err)
	}
	read := attributesOf(t, entries["read"])
	checks := map[string]any{
		"capacity_bytes": int64(1000), "used_percent": int64(85),
		"gc_high_threshold_percent": int64(80), "gc_headroom_percent": int64(-5),
		"gc_failure_count": int64(2), "gc_pool": "worker",
		"gc_last_failure_time": "2026-12-04T10:00:00Z", "inodes": nil,
	}
	for name, expected := range checks {
		if got := plainValue(t, read[name]); got != expected {
			t.Errorf("read.%s = %v, expected %v", name, got, expected)
		}
	}
	for name, attribute := range attributesOf(t, entries["unread"]) {
		if !attribute.IsNull() {
			t.Errorf("unread.%s = %s, expected null", name, attribute)
		}
	}
}

func attributesOf(t *testing.T, value tftypes.Value) map[string]tftypes.Value {
	t.Helper()
	var attributes map[string]tftypes.Value
	if err := value.As(&attributes); err != nil {
		t.Fatal(err)
	}
	return attributes
}

// plainValue returns a null as nil, a number as int64 and a string as string.
func plainValue(t *testing.T, value tftypes.Value) any {
	t.Helper()
	if value.IsNull() {
		return nil
	}
	if value.Type().Is(tftypes.String) {
		var text string
		if err := value.As(&text); err != nil {
			t.Fatal(err)
		}
		return text
	}
	var number big.Float
	if err := value.As(&number); err != nil {
		t.Fatal(err)
	}
	integer, _ := number.Int64()
	return integer
}

// The API server's plain-text reason, such as "address not allowed", reaches the warning.
func TestImageFilesystemErrorTextKeepsServerReason(t *testing.T) {
	err := apierrors.NewGenericServerResponse(http.StatusBadRequest, "get",
		schema.GroupResource{Resource: "nodes"}, "worker-0", "address not allowed\n", 0, true)
	text := errorText(err)
	if !strings.Contains(text, "address not allowed") {
		t.Errorf("errorText = %q, expected the server's reason", text)
	}
}
