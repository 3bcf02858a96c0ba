package testcluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestSeededAddressesLoopback(t *testing.T) {
	nodes := append(DemoNodes(), GenerateNodes(300, 1, 7)...)
	nodes = append(nodes, Node{Name: "plain"})
	for _, node := range nodes {
		for _, address := range node.Object().Status.Addresses {
			if address.Type != "InternalIP" {
				continue
			}
			if ip := net.ParseIP(address.Address); ip == nil || !ip.IsLoopback() {
				t.Errorf("node %s has InternalIP %s, expected a loopback address", node.Name,
					address.Address)
			}
		}
	}
}

func TestSeedNodesRejectsNonLoopback(t *testing.T) {
	node := Node{Name: "outside", InternalIP: "10.0.0.7"}
	err := SeedNodes(context.Background(), nil, []Node{node})
	if err == nil {
		t.Fatalf("SeedNodes accepted InternalIP 10.0.0.7")
	}
}

func TestAPIServerPrefersInternalIP(t *testing.T) {
	args := apiServerArgs(t.TempDir(), "http://127.0.0.1:2379", 6443)
	if !slices.Contains(args, "--kubelet-preferred-address-types=InternalIP") {
		t.Errorf("kube-apiserver arguments lack --kubelet-preferred-address-types=InternalIP: %v",
			args)
	}
}

// getSummary requests /stats/summary from the node's server as the API server's kubelet
// client does, without verifying the certificate.
func getSummary(t *testing.T, node Node, timeout time.Duration) (*summaryJSON, error) {
	t.Helper()
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	address := net.JoinHostPort(node.internalIP(), strconv.Itoa(int(node.KubeletPort)))
	response, err := client.Get("https://" + address + "/stats/summary")
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	var summary summaryJSON
	if err := json.NewDecoder(response.Body).Decode(&summary); err != nil {
		return nil, err
	}
	return &summary, nil
}

func TestKubeletSummariesServe(t *testing.T) {
	summaries, nodes, err := StartKubeletSummaries(DemoNodes()[:3], nil)
	if err != nil {
		t.Fatalf("StartKubeletSummaries: %v", err)
	}
	defer summaries.Close()

	for _, node := range nodes {
		if node.KubeletPort == 0 {
			t.Fatalf("node %s has no kubelet port", node.Name)
		}
		if port := node.Object().Status.DaemonEndpoints.KubeletEndpoint.Port; port !=
			node.KubeletPort {
			t.Errorf("node %s advertises port %d, expected %d", node.Name, port,
				node.KubeletPort)
		}
		summary, err := getSummary(t, node, 5*time.Second)
		if err != nil {
			t.Fatalf("summary of %s: %v", node.Name, err)
		}
		expected := DefaultImageFilesystem(node)
		imageFs := summary.Node.Runtime.ImageFs
		if summary.Node.NodeName != node.Name {
			t.Errorf("nodeName = %q, expected %q", summary.Node.NodeName, node.Name)
		}
		if imageFs.CapacityBytes != expected.CapacityBytes ||
			imageFs.AvailableBytes != expected.AvailableBytes {
			t.Errorf("imageFs of %s = %+v, expected %+v", node.Name, imageFs, expected)
		}
		if imageFs.AvailableBytes > imageFs.CapacityBytes {
			t.Errorf("imageFs of %s has more available than capacity: %+v", node.Name,
				imageFs)
		}
	}
	if requests := summaries.Requests(); requests[nodes[0].Name] != 1 {
		t.Errorf("requests = %v, expected 1 for %s", requests, nodes[0].Name)
	}
}

func TestKubeletSummariesHangAndStop(t *testing.T) {
	summaries, nodes, err := StartKubeletSummaries(DemoNodes()[:2], nil)
	if err != nil {
		t.Fatalf("StartKubeletSummaries: %v", err)
	}
	defer summaries.Close()

	summaries.Hang(nodes[0].Name)
	_, err = getSummary(t, nodes[0], 300*time.Millisecond)
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		t.Errorf("request to a hung server returned %v, expected a timeout", err)
	}

	summaries.Stop(nodes[1].Name)
	if _, err := getSummary(t, nodes[1], 5*time.Second); err == nil {
		t.Errorf("request to a stopped server succeeded")
	}
}
