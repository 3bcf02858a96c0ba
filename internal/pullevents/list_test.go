package pullevents

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// pagedEvents serves events in pages of two and records the requests. The embedded
// interface is nil: only List is implemented.
type pagedEvents struct {
	corev1client.EventInterface
	events []corev1.Event
	// expireOnce fails the first request with a continue token with 410 Expired.
	expireOnce bool
	requests   []metav1.ListOptions
	namespaces []string
}

func (p *pagedEvents) Events(namespace string) corev1client.EventInterface {
	p.namespaces = append(p.namespaces, namespace)
	return p
}

func (p *pagedEvents) List(_ context.Context, options metav1.ListOptions) (
	*corev1.EventList, error) {
	p.requests = append(p.requests, options)
	start := 0
	if options.Continue != "" {
		if p.expireOnce {
			p.expireOnce = false
			return nil, apierrors.NewResourceExpired("continue token expired")
		}
		var err error
		if start, err = strconv.Atoi(options.Continue); err != nil {
			return nil, err
		}
	}
	end := min(start+2, len(p.events))
	list := &corev1.EventList{Items: p.events[start:end]}
	if end < len(p.events) {
		list.Continue = strconv.Itoa(end)
	}
	return list, nil
}

func pagedFixture() *pagedEvents {
	var events []corev1.Event
	for i := range 5 {
		events = append(events, *podEvent("p"+strconv.Itoa(i), "node-a", "Pulled",
			pulled("nginx:1.27", "1s"), 1, time.Duration(i)*time.Second))
	}
	return &pagedEvents{events: events}
}

func TestReadPages(t *testing.T) {
	client := pagedFixture()
	aggregator, err := NewAggregator(Options{})
	if err != nil {
		t.Fatal(err)
	}

	if err := Read(context.Background(), client, "team", aggregator, nil); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if len(client.requests) != 3 {
		t.Errorf("requests = %d, want 3 pages of at most 2", len(client.requests))
	}
	for _, request := range client.requests {
		if request.FieldSelector != "involvedObject.kind=Pod" {
			t.Errorf("FieldSelector = %q", request.FieldSelector)
		}
		if request.Limit != PageSize {
			t.Errorf("Limit = %d, want %d", request.Limit, PageSize)
		}
	}
	if client.namespaces[0] != "team" {
		t.Errorf("namespace = %q, want team", client.namespaces[0])
	}
	summary := aggregator.Summary()
	if summary.EventCount != 5 || summary.Pulls != 5 {
		t.Errorf("EventCount = %d, Pulls = %d; want 5 and 5", summary.EventCount,
			summary.Pulls)
	}
}

func TestReadRestartsAfterExpiry(t *testing.T) {
	client := pagedFixture()
	client.expireOnce = true
	aggregator, err := NewAggregator(Options{})
	if err != nil {
		t.Fatal(err)
	}

	restarts := 0
	err = Read(context.Background(), client, "", aggregator, func(error) { restarts++ })
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if restarts != 1 {
		t.Errorf("restarts = %d, want 1", restarts)
	}
	summary := aggregator.Summary()
	if summary.EventCount != 5 || summary.Pulls != 5 {
		t.Errorf("EventCount = %d, Pulls = %d; want 5 and 5 without the first page twice",
			summary.EventCount, summary.Pulls)
	}
}

func TestReadExpiredTwice(t *testing.T) {
	client := &alwaysExpired{pagedEvents: pagedFixture()}
	aggregator, err := NewAggregator(Options{})
	if err != nil {
		t.Fatal(err)
	}

	err = Read(context.Background(), client, "", aggregator, nil)
	var listError *ListError
	if !errors.As(err, &listError) {
		t.Fatalf("Read error = %v, want a *ListError", err)
	}
	if !listError.Expired {
		t.Error("Expired is false after two expired lists")
	}
	if !apierrors.IsResourceExpired(err) {
		t.Error("the error does not wrap the API server's error")
	}
}

// alwaysExpired fails every request with a continue token.
type alwaysExpired struct {
	*pagedEvents
}

func (a *alwaysExpired) Events(string) corev1client.EventInterface { return a }

func (a *alwaysExpired) List(ctx context.Context, options metav1.ListOptions) (
	*corev1.EventList, error) {
	a.expireOnce = true
	return a.pagedEvents.List(ctx, options)
}
