package nodeimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
)

const (
	// DefaultFilesystemConcurrency bounds the node proxy requests in flight. Each one holds
	// an API server connection to a kubelet, so a large cluster is read a few nodes at a
	// time rather than all at once.
	DefaultFilesystemConcurrency = 16
	// DefaultFilesystemTimeout bounds the request for one node's summary, so that a node
	// whose kubelet hangs delays the read by this much at most.
	DefaultFilesystemTimeout = 10 * time.Second
	// maxSummaryBytes bounds the summary read from one node, after any gzip decoding, so
	// that a kubelet cannot make the provider buffer an unbounded body, at most
	// DefaultFilesystemConcurrency times at once.
	// NOTE: this is an estimate: a summary grows with the node's pods, containers and
	// volumes, and one for 250 pods is a few MiB.
	maxSummaryBytes = 16 << 20
)

// ImageFilesystem is a node's image filesystem, from node.runtime.imageFs of the kubelet's
// summary API. A nil field is one that the kubelet left out.
type ImageFilesystem struct {
	CapacityBytes  *uint64
	AvailableBytes *uint64
	// UsedBytes is the bytes that images take on the filesystem, not the filesystem's used
	// bytes: other files may share it.
	UsedBytes  *uint64
	Inodes     *uint64
	InodesFree *uint64
	InodesUsed *uint64
}

// UsedPercent returns the filesystem usage as the kubelet's image garbage collector computes
// it to compare with its thresholds: 100 minus the available percentage rounded down
// (pkg/kubelet/images/image_gc_manager.go, Kubernetes v1.37.2). ok is false when capacity or
// available bytes are missing or capacity is 0.
func (f ImageFilesystem) UsedPercent() (percent int64, ok bool) {
	if f.CapacityBytes == nil || f.AvailableBytes == nil || *f.CapacityBytes == 0 {
		return 0, false
	}
	capacity, available := *f.CapacityBytes, min(*f.AvailableBytes, *f.CapacityBytes)
	// A 128-bit product cannot overflow, and the quotient fits because available is at
	// most capacity.
	high, low := bits.Mul64(available, 100)
	availablePercent, _ := bits.Div64(high, low, capacity)
	return 100 - int64(availablePercent), true
}

// summary is the part of the kubelet's statsapi.Summary (k8s.io/kubelet/pkg/apis/stats/
// v1alpha1, v0.37.2) that the provider reads. That module is not a dependency because it
// requires google.golang.org/grpc v1.82.1, which would raise the version that the Terraform
// plugin libraries are built with here.
type summary struct {
	Node struct {
		Runtime *struct {
			ImageFs *struct {
				AvailableBytes *uint64 `json:"availableBytes"`
				CapacityBytes  *uint64 `json:"capacityBytes"`
				UsedBytes      *uint64 `json:"usedBytes"`
				InodesFree     *uint64 `json:"inodesFree"`
				Inodes         *uint64 `json:"inodes"`
				InodesUsed     *uint64 `json:"inodesUsed"`
			} `json:"imageFs"`
		} `json:"runtime"`
	} `json:"node"`
}

// ParseSummary returns the image filesystem from a kubelet summary. A summary without
// node.runtime.imageFs, as from a kubelet whose runtime reports no image filesystem, is an
// error.
func ParseSummary(body []byte) (ImageFilesystem, error) {
	var parsed summary
	if err := json.Unmarshal(body, &parsed); err != nil {
		return ImageFilesystem{}, fmt.Errorf("invalid kubelet summary: %w", err)
	}
	if parsed.Node.Runtime == nil || parsed.Node.Runtime.ImageFs == nil {
		return ImageFilesystem{}, errors.New("the kubelet summary has no node.runtime.imageFs")
	}
	fs := parsed.Node.Runtime.ImageFs
	return ImageFilesystem{
		CapacityBytes: fs.CapacityBytes, AvailableBytes: fs.AvailableBytes,
		UsedBytes: fs.UsedBytes, Inodes: fs.Inodes, InodesFree: fs.InodesFree,
		InodesUsed: fs.InodesUsed,
	}, nil
}

// FailureReason is the cause of a failed read of a node's image filesystem.
type FailureReason string

// The reasons of a FilesystemFailure.
const (
	// ReasonForbidden is a 403: the caller may not get nodes/proxy.
	ReasonForbidden FailureReason = "forbidden"
	// ReasonTimeout is a node that did not respond within the timeout.
	ReasonTimeout FailureReason = "timed out"
	// ReasonUnreachable is any other failed request, such as the API server's 503 for a
	// kubelet it cannot connect to.
	ReasonUnreachable FailureReason = "unreachable"
	// ReasonInvalid is a summary that does not parse or lacks the image filesystem.
	ReasonInvalid FailureReason = "invalid summary"
)

// FilesystemFailure is a node whose image filesystem could not be read.
type FilesystemFailure struct {
	Node   string
	Reason FailureReason
	Err    error
}

// FilesystemReader reads the image filesystem of nodes through the API server's node proxy,
// GET /api/v1/nodes/NAME/proxy/stats/summary, which needs get on nodes/proxy.
type FilesystemReader struct {
	// Client is a REST client for the core API group, such as a clientset's
	// CoreV1().RESTClient().
	Client rest.Interface
	// Concurrency bounds the requests in flight; zero means DefaultFilesystemConcurrency.
	Concurrency int
	// Timeout bounds each node's request; zero means DefaultFilesystemTimeout.
	Timeout time.Duration
}

// Read returns the image filesystem of each node that responded, by node name, and the
// nodes that did not, sorted by name. A failed node never fails the read. When ctx ends,
// the nodes not yet read are failures too.
func (r *FilesystemReader) Read(ctx context.Context, nodes []string,
) (map[string]ImageFilesystem, []FilesystemFailure) {
	concurrency := r.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultFilesystemConcurrency
	}

	var mu sync.Mutex
	filesystems := make(map[string]ImageFilesystem, len(nodes))
	var failures []FilesystemFailure
	slots := make(chan struct{}, concurrency)
	var wait sync.WaitGroup
	for _, node := range nodes {
		slots <- struct{}{}
		wait.Go(func() {
			defer func() { <-slots }()
			filesystem, failure := r.readNode(ctx, node)

			mu.Lock()
			defer mu.Unlock()
			if failure != nil {
				failures = append(failures, *failure)
				return
			}
			filesystems[node] = filesystem
		})
	}
	wait.Wait()

	sort.Slice(failures, func(i, j int) bool { return failures[i].Node < failures[j].Node })
	return filesystems, failures
}

func (r *FilesystemReader) readNode(ctx context.Context, node string,
) (ImageFilesystem, *FilesystemFailure) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultFilesystemTimeout
	}
	requestCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	stream, err := r.Client.Get().Resource("nodes").Name(node).SubResource("proxy").
		Suffix("stats", "summary").Timeout(timeout).Stream(requestCtx)
	if err != nil {
		return ImageFilesystem{}, &FilesystemFailure{Node: node, Reason: reasonOf(requestCtx, err),
			Err: err}
	}
	defer stream.Close()
	body, err := io.ReadAll(io.LimitReader(stream, maxSummaryBytes+1))
	if err != nil {
		return ImageFilesystem{}, &FilesystemFailure{Node: node, Reason: reasonOf(requestCtx, err),
			Err: fmt.Errorf("reading the kubelet summary: %w", err)}
	}
	if len(body) > maxSummaryBytes {
		return ImageFilesystem{}, &FilesystemFailure{Node: node, Reason: ReasonInvalid,
			Err: fmt.Errorf("the kubelet summary is larger than %d bytes", maxSummaryBytes)}
	}
	filesystem, err := ParseSummary(body)
	if err != nil {
		return ImageFilesystem{}, &FilesystemFailure{Node: node, Reason: ReasonInvalid, Err: err}
	}
	return filesystem, nil
}

func reasonOf(ctx context.Context, err error) FailureReason {
	switch {
	case apierrors.IsForbidden(err):
		return ReasonForbidden
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return ReasonTimeout
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code == http.StatusGatewayTimeout {
		return ReasonTimeout
	}
	return ReasonUnreachable
}
