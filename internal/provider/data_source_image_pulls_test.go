package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/pullevents"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

const imagePullsAddress = "data.imagedist_image_pulls.test"

func TestPositiveDurationValidator(t *testing.T) {
	tests := []struct {
		value   types.String
		wantErr string
	}{
		{value: types.StringValue("24h")},
		{value: types.StringValue("1m30s")},
		{value: types.StringNull()},
		{value: types.StringUnknown()},
		{value: types.StringValue("0s"), wantErr: "is not positive"},
		{value: types.StringValue("-1h"), wantErr: "is not positive"},
		{value: types.StringValue("1d"), wantErr: "is not a Go duration"},
		{value: types.StringValue(""), wantErr: "is not a Go duration"},
	}
	for _, test := range tests {
		t.Run(test.value.String(), func(t *testing.T) {
			req := validator.StringRequest{Path: path.Root("since"), ConfigValue: test.value}
			var resp validator.StringResponse
			positiveDurationValidator{}.ValidateString(context.Background(), req, &resp)

			if test.wantErr == "" {
				if resp.Diagnostics.HasError() {
					t.Fatalf("unexpected error: %v", resp.Diagnostics)
				}
				return
			}
			if resp.Diagnostics.ErrorsCount() != 1 {
				t.Fatalf("errors = %v, want one", resp.Diagnostics)
			}
			if detail := resp.Diagnostics[0].Detail(); !regexp.MustCompile(
				regexp.QuoteMeta(test.wantErr)).MatchString(detail) {
				t.Errorf("detail = %q, want it to contain %q", detail, test.wantErr)
			}
		})
	}
}

func TestImagePullValueNulls(t *testing.T) {
	image := pullevents.Image{
		Reference: "docker.io/library/nginx:1.27",
		Counts:    pullevents.Counts{AlreadyPresent: 2},
		Nodes: []pullevents.Node{{Name: "node-a",
			Counts: pullevents.Counts{AlreadyPresent: 2}}},
	}
	value, diags := imagePullValue(image)
	if diags.HasError() {
		t.Fatalf("imagePullValue: %v", diags)
	}
	attributes := value.(types.Object).Attributes()
	for _, name := range []string{"median_pull_seconds", "p95_pull_seconds",
		"last_failure_reason", "last_failure_message", "last_failure_time"} {
		if !attributes[name].IsNull() {
			t.Errorf("%s = %v, want null without pulls or failures", name, attributes[name])
		}
	}
	if got := attributes["already_present"]; !got.Equal(types.Int64Value(2)) {
		t.Errorf("already_present = %v, want 2", got)
	}
}

func TestImagePullValueFailure(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	image := pullevents.Image{
		Reference: "quay.io/org/app:v9",
		Counts: pullevents.Counts{Failures: 1, LastFailure: &pullevents.Failure{
			Reason: "ErrImagePull", Message: "manifest unknown", Time: at}},
		PullTimes: []pullevents.PullTime{{Duration: time.Second, Count: 1},
			{Duration: 3 * time.Second, Count: 1}},
	}
	value, diags := imagePullValue(image)
	if diags.HasError() {
		t.Fatalf("imagePullValue: %v", diags)
	}
	attributes := value.(types.Object).Attributes()
	want := map[string]any{
		"last_failure_time":    types.StringValue("2026-03-04T04:06:07Z"),
		"last_failure_reason":  types.StringValue("ErrImagePull"),
		"last_failure_message": types.StringValue("manifest unknown"),
		"median_pull_seconds":  types.Float64Value(2),
		"p95_pull_seconds":     types.Float64Value(3),
	}
	for name, expected := range want {
		if got := attributes[name]; fmt.Sprint(got) != fmt.Sprint(expected) {
			t.Errorf("%s = %v, want %v", name, got, expected)
		}
	}
}

// imagePullsFixture is the events one acceptance test writes, all in its own namespace and
// with image repositories named after it, so that other tests' events never match.
type imagePullsFixture struct {
	namespace string
	now       time.Time
	nodeA     string
	nodeB     string
	nodeC     string
	app1      string
	app2      string
	// tool is written in the familiar form; its normalized form is docker.io/<namespace>/tool:1.
	tool string
}

func (f imagePullsFixture) at(ago time.Duration) metav1.Time {
	return metav1.NewTime(f.now.Add(-ago))
}

// seedImagePulls creates a namespace and writes into it, as kubelets would:
//
//	web-1  node a  pulls app:1 in 2s, 10 minutes ago
//	web-2  node b  finds app:1 present, twice
//	web-3  node b  pulls app:1 in 4s, in the message form of older kubelets
//	web-4  node a  fails to pull app:2 three times, then backs off four times
//	old-1  node c  pulls app:1 in 10s, 3 hours ago
//	tool-1 node c  pulls tool:1 in 1s
//
// plus a Started event about a pod and a Pulled-like event about a ReplicaSet.
func seedImagePulls(t *testing.T) imagePullsFixture {
	t.Helper()
	requireAcceptance(t)
	namespace := acctest.RandomWithPrefix("pulls")
	f := imagePullsFixture{
		namespace: namespace,
		now:       time.Now().UTC().Truncate(time.Second),
		nodeA:     namespace + "-a",
		nodeB:     namespace + "-b",
		nodeC:     namespace + "-c",
		app1:      "quay.io/" + namespace + "/app:1",
		app2:      "quay.io/" + namespace + "/app:2",
		tool:      namespace + "/tool:1",
	}

	client, err := testcluster.ClientFromEnv()
	if err != nil {
		t.Fatalf("cluster client: %v", err)
	}
	ctx := context.Background()
	if err := testcluster.CreateNamespace(ctx, client, namespace, nil); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
	})

	failure := "rpc error: code = NotFound desc = manifest unknown"
	events := []*corev1.Event{
		f.event("web-1", f.nodeA, "Pulling", fmt.Sprintf("Pulling image %q", f.app1), 1,
			10*time.Minute),
		f.event("web-1", f.nodeA, "Pulled", fmt.Sprintf("Successfully pulled image %q in 2s "+
			"(2.5s including waiting). Image size: 1000 bytes.", f.app1), 1, 10*time.Minute),
		f.event("web-1", f.nodeA, "Started", "Started container app", 1, 10*time.Minute),
		f.event("web-2", f.nodeB, "Pulled", fmt.Sprintf("Container image %q already present "+
			"on machine", f.app1), 2, 9*time.Minute),
		f.event("web-3", f.nodeB, "Pulled", fmt.Sprintf("Successfully pulled image %q in 4s",
			f.app1), 1, 8*time.Minute),
		f.event("web-4", f.nodeA, "Pulling", fmt.Sprintf("Pulling image %q", f.app2), 3,
			7*time.Minute),
		f.event("web-4", f.nodeA, "Failed", fmt.Sprintf("Failed to pull image %q: %s", f.app2,
			failure), 3, 7*time.Minute),
		f.event("web-4", f.nodeA, "Failed", "Error: ErrImagePull", 3, 7*time.Minute),
		f.event("web-4", f.nodeA, "BackOff", fmt.Sprintf("Back-off pulling image %q", f.app2),
			4, 6*time.Minute),
		f.event("web-4", f.nodeA, "Failed", "Error: ImagePullBackOff", 4, 6*time.Minute),
		f.event("old-1", f.nodeC, "Pulled", fmt.Sprintf("Successfully pulled image %q in 10s "+
			"(10s including waiting). Image size: 1000 bytes.", f.app1), 1, 3*time.Hour),
		f.event("tool-1", f.nodeC, "Pulled", fmt.Sprintf("Successfully pulled image %q in 1s "+
			"(1s including waiting). Image size: 1000 bytes.", f.tool), 1, 5*time.Minute),
	}
	replicaSet := f.event("web", f.nodeA, "Pulled", fmt.Sprintf("Successfully pulled image "+
		"%q in 9s", f.app1), 1, time.Minute)
	replicaSet.InvolvedObject.Kind = "ReplicaSet"
	replicaSet.InvolvedObject.APIVersion = "apps/v1"
	replicaSet.InvolvedObject.FieldPath = ""
	events = append(events, replicaSet)

	writeEvents(t, client, events)
	return f
}

// event builds an event about container app of a pod, as the kubelet on node writes it.
func (f imagePullsFixture) event(pod, node, reason, message string, count int32,
	ago time.Duration) *corev1.Event {
	eventType := corev1.EventTypeNormal
	if reason == "Failed" || reason == "BackOff" {
		eventType = corev1.EventTypeWarning
	}
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod + "."},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: f.namespace, Name: pod,
			FieldPath: "spec.containers{app}",
		},
		Reason:         reason,
		Message:        message,
		Type:           eventType,
		Count:          count,
		Source:         corev1.EventSource{Component: "kubelet", Host: node},
		FirstTimestamp: f.at(ago + time.Duration(count-1)*time.Second),
		LastTimestamp:  f.at(ago),
	}
}

func writeEvents(t *testing.T, client kubernetes.Interface, events []*corev1.Event) {
	t.Helper()
	for _, event := range events {
		namespace := event.InvolvedObject.Namespace
		if _, err := client.CoreV1().Events(namespace).Create(context.Background(), event,
			metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating event %s %q: %v", event.Reason, event.Message, err)
		}
	}
}

func expectImagePulls(path tfjsonpath.Path, check knownvalue.Check) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(imagePullsAddress, path, check)
}

func imagePullsRoot(name string) tfjsonpath.Path {
	return tfjsonpath.New(name)
}

// expectTotals checks the top-level sums.
func expectTotals(pulls, alreadyPresent, failures, backOffs int64) []statecheck.StateCheck {
	return []statecheck.StateCheck{
		expectImagePulls(imagePullsRoot("pulls"), knownvalue.Int64Exact(pulls)),
		expectImagePulls(imagePullsRoot("already_present"),
			knownvalue.Int64Exact(alreadyPresent)),
		expectImagePulls(imagePullsRoot("failures"), knownvalue.Int64Exact(failures)),
		expectImagePulls(imagePullsRoot("back_offs"), knownvalue.Int64Exact(backOffs)),
	}
}

func nodeCheck(name string, pulls, alreadyPresent, failures, backOffs int64,
	reason, message knownvalue.Check) knownvalue.Check {
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"name":                 knownvalue.StringExact(name),
		"pulls":                knownvalue.Int64Exact(pulls),
		"already_present":      knownvalue.Int64Exact(alreadyPresent),
		"failures":             knownvalue.Int64Exact(failures),
		"back_offs":            knownvalue.Int64Exact(backOffs),
		"last_failure_reason":  reason,
		"last_failure_message": message,
	})
}

// app1Check is app:1's entry: pulls on a, b and c (unless since drops c), and b's two
// containers that found it present.
func (f imagePullsFixture) app1Check(withOld bool) knownvalue.Check {
	nodes := []knownvalue.Check{
		nodeCheck(f.nodeA, 1, 0, 0, 0, knownvalue.Null(), knownvalue.Null()),
		nodeCheck(f.nodeB, 1, 2, 0, 0, knownvalue.Null(), knownvalue.Null()),
	}
	pulls, median, p95 := int64(2), 3.0, 4.0
	if withOld {
		nodes = append(nodes,
			nodeCheck(f.nodeC, 1, 0, 0, 0, knownvalue.Null(), knownvalue.Null()))
		pulls, median, p95 = 3, 4, 10
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"reference":            knownvalue.StringExact(f.app1),
		"pulls":                knownvalue.Int64Exact(pulls),
		"already_present":      knownvalue.Int64Exact(2),
		"failures":             knownvalue.Int64Exact(0),
		"back_offs":            knownvalue.Int64Exact(0),
		"last_failure_reason":  knownvalue.Null(),
		"last_failure_message": knownvalue.Null(),
		"last_failure_time":    knownvalue.Null(),
		"median_pull_seconds":  knownvalue.Float64Exact(median),
		"p95_pull_seconds":     knownvalue.Float64Exact(p95),
		"nodes":                knownvalue.ListExact(nodes),
	})
}

func (f imagePullsFixture) app2Check() knownvalue.Check {
	message := knownvalue.StringExact("rpc error: code = NotFound desc = manifest unknown")
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"reference":            knownvalue.StringExact(f.app2),
		"pulls":                knownvalue.Int64Exact(0),
		"already_present":      knownvalue.Int64Exact(0),
		"failures":             knownvalue.Int64Exact(3),
		"back_offs":            knownvalue.Int64Exact(4),
		"last_failure_reason":  knownvalue.StringExact("ErrImagePull"),
		"last_failure_message": message,
		"last_failure_time": knownvalue.StringExact(
			f.now.Add(-7 * time.Minute).Format(time.RFC3339)),
		"median_pull_seconds": knownvalue.Null(),
		"p95_pull_seconds":    knownvalue.Null(),
		"nodes": knownvalue.ListExact([]knownvalue.Check{
			nodeCheck(f.nodeA, 0, 0, 3, 4, knownvalue.StringExact("ErrImagePull"), message),
		}),
	})
}

func (f imagePullsFixture) toolCheck() knownvalue.Check {
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"reference":           knownvalue.StringExact("docker.io/" + f.tool),
		"pulls":               knownvalue.Int64Exact(1),
		"median_pull_seconds": knownvalue.Float64Exact(1),
		"p95_pull_seconds":    knownvalue.Float64Exact(1),
		"nodes": knownvalue.ListExact([]knownvalue.Check{
			nodeCheck(f.nodeC, 1, 0, 0, 0, knownvalue.Null(), knownvalue.Null()),
		}),
	})
}

func TestAccImagePullsNamespace(t *testing.T) {
	f := seedImagePulls(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_image_pulls" "test" {
  namespace = %q
}`, f.namespace),
				ConfigStateChecks: append(expectTotals(4, 2, 3, 4),
					// 13 events were written; the ReplicaSet's is not about a pod.
					expectImagePulls(imagePullsRoot("event_count"), knownvalue.Int64Exact(12)),
					expectImagePulls(imagePullsRoot("image_pulls"),
						knownvalue.ListExact([]knownvalue.Check{
							f.toolCheck(), f.app1Check(true), f.app2Check(),
						})),
				),
			},
			{
				// The familiar and the fully qualified forms both match.
				Config: fmt.Sprintf(`data "imagedist_image_pulls" "test" {
  namespace = %q
  images    = [%q, %q]
}`, f.namespace, "docker.io/"+f.tool, f.app2),
				ConfigStateChecks: append(expectTotals(1, 0, 3, 4),
					expectImagePulls(imagePullsRoot("event_count"), knownvalue.Int64Exact(12)),
					expectImagePulls(imagePullsRoot("image_pulls"),
						knownvalue.ListExact([]knownvalue.Check{f.toolCheck(), f.app2Check()})),
				),
			},
			{
				Config: fmt.Sprintf(`data "imagedist_image_pulls" "test" {
  namespace  = %q
  node_names = [%q]
}`, f.namespace, f.nodeB),
				ConfigStateChecks: append(expectTotals(1, 2, 0, 0),
					expectImagePulls(imagePullsRoot("image_pulls"),
						knownvalue.ListExact([]knownvalue.Check{
							knownvalue.ObjectPartial(map[string]knownvalue.Check{
								"reference":           knownvalue.StringExact(f.app1),
								"pulls":               knownvalue.Int64Exact(1),
								"already_present":     knownvalue.Int64Exact(2),
								"median_pull_seconds": knownvalue.Float64Exact(4),
								"nodes": knownvalue.ListExact([]knownvalue.Check{
									nodeCheck(f.nodeB, 1, 2, 0, 0, knownvalue.Null(),
										knownvalue.Null()),
								}),
							}),
						})),
				),
			},
			{
				// old-1's pull, three hours ago, falls outside.
				Config: fmt.Sprintf(`data "imagedist_image_pulls" "test" {
  namespace = %q
  since     = "1h"
}`, f.namespace),
				ConfigStateChecks: append(expectTotals(3, 2, 3, 4),
					expectImagePulls(imagePullsRoot("image_pulls"),
						knownvalue.ListExact([]knownvalue.Check{
							f.toolCheck(), f.app1Check(false), f.app2Check(),
						})),
				),
			},
		},
	})
}

func TestAccImagePullsAllNamespaces(t *testing.T) {
	f := seedImagePulls(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_image_pulls" "test" {
  images = [%q, %q]
}`, f.app1, f.app2),
				ConfigStateChecks: append(expectTotals(3, 2, 3, 4),
					expectImagePulls(imagePullsRoot("event_count"),
						knownvalue.Int64Func(func(count int64) error {
							if count < 12 {
								return fmt.Errorf("event_count %d is below the 12 events "+
									"this test wrote", count)
							}
							return nil
						})),
					expectImagePulls(imagePullsRoot("image_pulls"),
						knownvalue.ListExact([]knownvalue.Check{
							f.app1Check(true), f.app2Check(),
						})),
				),
			},
		},
	})
}

func TestAccImagePullsValidation(t *testing.T) {
	cases := []struct {
		name   string
		config string
		err    string
	}{
		{"since negative", `since = "-1h"`, `(?s)Invalid Duration.*is not positive`},
		{"since zero", `since = "0s"`, `(?s)Invalid Duration.*is not positive`},
		{"since days", `since = "1d"`, `(?s)Invalid Duration.*not a Go duration`},
		{"image reference", `images = ["Nginx:1.27"]`, `(?s)Invalid Image Reference.*docker pull`},
		{"node name", `node_names = ["Node_A"]`, `Invalid Node Name`},
		{"namespace", `namespace = "Team_A"`, `(?s)Invalid Kubernetes Name.*DNS-1123 label`},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					// The provider points at a closed port: a plan-time error must come
					// before any request to the cluster.
					Config: fmt.Sprintf(`provider "imagedist" {
  host = "https://127.0.0.1:9"
}

data "imagedist_image_pulls" "test" {
  %s
}`, tc.config),
					ExpectError: regexp.MustCompile(tc.err),
				}},
			})
		})
	}
}

func TestAccImagePullsForbidden(t *testing.T) {
	kubeconfig, _ := restrictedKubeconfig(t)
	config := func(namespace string) string {
		return fmt.Sprintf(`provider "imagedist" {
  config_path    = %q
  config_context = "reader"
}

data "imagedist_image_pulls" "test" {
  %s
}`, kubeconfig, namespace)
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config(""),
				ExpectError: regexp.MustCompile(
					`(?s)Unable to List Events.*may not list events in\s+all\s+namespaces.*` +
						`ClusterRoleBinding`),
			},
			{
				Config: config(`namespace = "default"`),
				ExpectError: regexp.MustCompile(
					`(?s)Unable to List Events.*may not list events in\s+namespace\s+` +
						`"default".*RoleBinding`),
			},
		},
	})
}
