package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

const imagePullerAddress = "imagedist_image_puller.test"

// Images of the tests. The played kubelets pull any reference, and the digest one stands for
// a scratch image, which has no shell and no sleep of its own.
const (
	testImageAPI     = "quay.io/imagedist-demo/checkout:2.4.1"
	testImageWeb     = "ghcr.io/imagedist-demo/frontend:5.2.0"
	testImageScratch = "quay.io/imagedist-demo/static-bin@sha256:" +
		"4d0c0b8e1b3c9a2f7d6e5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a291800"
)

// workerNodes are the demo nodes that the puller selects without tolerations: every node but
// the tainted master.
var workerNodes = []string{"worker-0", "worker-1", "worker-2", "worker-containerd-0"}

func init() {
	// The played kubelets report within a tenth of a second.
	imagePullerPollInterval = 100 * time.Millisecond
}

// imagePullerCluster is the cluster side of one acceptance test: a namespace of its own,
// the kubelets that run the puller's pods there, and a random DaemonSet name.
type imagePullerCluster struct {
	t         *testing.T
	client    kubernetes.Interface
	kubelets  *testcluster.Kubelets
	namespace string
	name      string
}

func newImagePullerCluster(t *testing.T) *imagePullerCluster {
	t.Helper()
	client := acceptanceClient(t)
	cluster := &imagePullerCluster{
		t:         t,
		client:    client,
		namespace: acctest.RandomWithPrefix("puller"),
		name:      acctest.RandomWithPrefix("prepull"),
	}
	ctx := context.Background()
	if err := testcluster.CreateNamespace(ctx, client, cluster.namespace, nil); err != nil {
		t.Fatalf("creating namespace %s: %v", cluster.namespace, err)
	}
	t.Cleanup(func() {
		err := client.CoreV1().Namespaces().Delete(context.Background(), cluster.namespace,
			metav1.DeleteOptions{})
		if err != nil {
			t.Logf("deleting namespace %s: %v", cluster.namespace, err)
		}
	})

	cluster.kubelets = &testcluster.Kubelets{
		Client: client, Namespace: cluster.namespace, Logf: t.Logf,
		PollInterval: 50 * time.Millisecond,
	}
	kubeletsCtx, cancel := context.WithCancel(context.Background())
	wait := cluster.kubelets.Start(kubeletsCtx)
	t.Cleanup(func() {
		cancel()
		wait()
	})
	return cluster
}

// config returns a configuration of the resource under test with body inside its block.
func (c *imagePullerCluster) config(body string) string {
	return fmt.Sprintf(`
resource "imagedist_image_puller" "test" {
  namespace = %q
  name      = %q
%s
}
`, c.namespace, c.name, body)
}

func (c *imagePullerCluster) daemonSet() (*appsv1.DaemonSet, error) {
	return c.client.AppsV1().DaemonSets(c.namespace).Get(context.Background(), c.name,
		metav1.GetOptions{})
}

// checkDestroyed checks that the DaemonSet and its pods are gone.
func (c *imagePullerCluster) checkDestroyed(*terraform.State) error {
	_, err := c.daemonSet()
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("DaemonSet %s/%s after destroy: error %v, expected not found",
			c.namespace, c.name, err)
	}
	pods, err := c.client.CoreV1().Pods(c.namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: puller.LabelInstance + "=" + c.name})
	if err != nil {
		return err
	}
	if len(pods.Items) > 0 {
		return fmt.Errorf("%d puller pods left after destroy", len(pods.Items))
	}
	return nil
}

// checkContainers checks the names and images of the DaemonSet's image containers.
func (c *imagePullerCluster) checkContainers(want map[string]string) tfresource.TestCheckFunc {
	return func(*terraform.State) error {
		daemonSet, err := c.daemonSet()
		if err != nil {
			return err
		}
		containers, _ := imageContainers(&daemonSet.Spec.Template.Spec)
		got := map[string]string{}
		for _, container := range containers {
			got[container.Name] = container.Image
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("image containers = %v, expected %v", got, want)
		}
		return nil
	}
}

func int64State(attribute string, want int64) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(imagePullerAddress, tfjsonpath.New(attribute),
		knownvalue.Int64Exact(want))
}

// nodeNamesState checks the names in the nodes list, in order.
func nodeNamesState(names []string) statecheck.StateCheck {
	nodes := make([]knownvalue.Check, len(names))
	for i, name := range names {
		nodes[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"name": knownvalue.StringExact(name),
		})
	}
	return statecheck.ExpectKnownValue(imagePullerAddress, tfjsonpath.New("nodes"),
		knownvalue.ListExact(nodes))
}

const twoImages = `  images = {
    api        = "` + testImageAPI + `"
    Static_Bin = "` + testImageScratch + `"
  }
`

// Create waits until every worker has both images, import reads the same state back, an
// update rolls one image out and another in, and destroy removes the pods.
func TestAccImagePullerLifecycle(t *testing.T) {
	cluster := newImagePullerCluster(t)
	updated := `  images = {
    api = "` + testImageAPI + `"
    web = "` + testImageWeb + `"
  }
  cpu_request    = "5m"
  memory_request = "8Mi"
  memory_limit   = "16Mi"
  labels = {
    team = "platform"
  }
`

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{
			{
				Config: cluster.config(twoImages),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(imagePullerAddress, tfjsonpath.New("id"),
						knownvalue.StringExact(cluster.namespace+"/"+cluster.name)),
					int64State("node_count", int64(len(workerNodes))),
					int64State("nodes_cached", int64(len(workerNodes))),
					int64State("images_missing", 0),
					nodeNamesState(workerNodes),
					statecheck.ExpectKnownValue(imagePullerAddress,
						tfjsonpath.New("excluded_nodes"),
						knownvalue.ListExact([]knownvalue.Check{
							knownvalue.ObjectExact(map[string]knownvalue.Check{
								"name": knownvalue.StringExact("master-0"),
								"reason": knownvalue.StringExact(`taint ` +
									`"node-role.kubernetes.io/master:NoSchedule" is not ` +
									`tolerated`),
							}),
						})),
					statecheck.ExpectKnownValue(imagePullerAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("cached"),
						knownvalue.ListExact([]knownvalue.Check{
							knownvalue.StringExact("Static_Bin"),
							knownvalue.StringExact("api"),
						})),
				},
				Check: cluster.checkContainers(map[string]string{
					"api": testImageAPI, "static-bin": testImageScratch,
				}),
			},
			{
				ResourceName:                         imagePullerAddress,
				ImportState:                          true,
				ImportStateId:                        cluster.namespace + "/" + cluster.name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
			{
				Config: cluster.config(updated),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes))),
					int64State("images_missing", 0),
				},
				Check: cluster.checkContainers(map[string]string{
					"api": testImageAPI, "web": testImageWeb,
				}),
			},
		},
	})
}

// Changes made outside Terraform show as drift, and a DaemonSet deleted outside Terraform
// is created again.
func TestAccImagePullerDrift(t *testing.T) {
	cluster := newImagePullerCluster(t)
	edit := func(change func(*appsv1.DaemonSet)) {
		t.Helper()
		daemonSet, err := cluster.daemonSet()
		if err != nil {
			t.Fatalf("reading the DaemonSet: %v", err)
		}
		change(daemonSet)
		_, err = cluster.client.AppsV1().DaemonSets(cluster.namespace).Update(
			context.Background(), daemonSet, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("editing the DaemonSet: %v", err)
		}
	}

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{
			{Config: cluster.config(twoImages)},
			{
				PreConfig: func() {
					edit(func(daemonSet *appsv1.DaemonSet) {
						containers := daemonSet.Spec.Template.Spec.Containers
						for i := range containers {
							if containers[i].Name == "api" {
								containers[i].Image = testImageWeb
							}
						}
						daemonSet.Spec.Template.Spec.NodeSelector = map[string]string{
							testcluster.LabelWorkerRole: "",
						}
					})
				},
				Config: cluster.config(twoImages),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(imagePullerAddress,
							plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(imagePullerAddress,
							tfjsonpath.New("images").AtMapKey("api"),
							knownvalue.StringExact(testImageAPI)),
					},
				},
				Check: cluster.checkContainers(map[string]string{
					"api": testImageAPI, "static-bin": testImageScratch,
				}),
			},
			{
				// A container command changed by hand, which no attribute shows, is
				// rewritten by the next apply.
				PreConfig: func() {
					edit(func(daemonSet *appsv1.DaemonSet) {
						daemonSet.Spec.Template.Spec.Containers[0].Command =
							[]string{"/bin/sh", "-c", "sleep 1"}
					})
				},
				Config: cluster.config(twoImages),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					daemonSet, err := cluster.daemonSet()
					if err != nil {
						return err
					}
					command := daemonSet.Spec.Template.Spec.Containers[0].Command
					if !slices.Equal(command, []string{puller.SleeperPath}) {
						return fmt.Errorf("command = %v, expected the sleeper", command)
					}
					return nil
				},
			},
			{
				// A DaemonSet without any labels is updated without a crash.
				PreConfig: func() {
					edit(func(daemonSet *appsv1.DaemonSet) {
						daemonSet.Labels = nil
						daemonSet.Spec.Template.Spec.Containers[0].Image = testImageWeb
					})
				},
				Config: cluster.config(twoImages),
				Check: func(*terraform.State) error {
					daemonSet, err := cluster.daemonSet()
					if err != nil {
						return err
					}
					if daemonSet.Labels[puller.LabelInstance] != cluster.name {
						return fmt.Errorf("labels = %v, expected the puller's own",
							daemonSet.Labels)
					}
					return nil
				},
			},
			{
				PreConfig: func() {
					propagation := metav1.DeletePropagationBackground
					err := cluster.client.AppsV1().DaemonSets(cluster.namespace).Delete(
						context.Background(), cluster.name,
						metav1.DeleteOptions{PropagationPolicy: &propagation})
					if err != nil {
						t.Fatalf("deleting the DaemonSet: %v", err)
					}
				},
				Config: cluster.config(twoImages),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes))),
				},
			},
		},
	})
}

// A pull that fails on one node makes the wait time out with the node, the image and the
// kubelet's message. Once the registry serves the image, the next apply replaces the tainted
// puller and succeeds.
func TestAccImagePullerPullFailure(t *testing.T) {
	cluster := newImagePullerCluster(t)
	const message = `rpc error: code = Unknown desc = reading manifest 2.4.1 in ` +
		`quay.io/imagedist-demo/checkout: manifest unknown`
	cluster.kubelets.FailPull("worker-1", testImageAPI, testcluster.PullFailure{
		Reason: "ErrImagePull", Message: message,
	})
	body := twoImages + `
  timeouts {
    create = "3s"
  }
`

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{
			{
				Config: cluster.config(body),
				ExpectError: wrappedText("Timed Out Waiting for Images.*" +
					"- worker-1: api (ErrImagePull: " + message + ")"),
			},
			{
				PreConfig: func() {
					cluster.kubelets.ClearPull("worker-1", testImageAPI)
				},
				Config: cluster.config(body),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionDestroyBeforeCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes))),
				},
			},
		},
	})
}

// Without wait_for_cached, apply returns at once and the status shows the failing node.
// A refresh later shows the same per node.
func TestAccImagePullerNoWait(t *testing.T) {
	cluster := newImagePullerCluster(t)
	cluster.kubelets.FailPull("worker-2", testImageScratch, testcluster.PullFailure{
		Reason: "ImagePullBackOff", Message: `Back-off pulling image "` + testImageScratch + `"`,
	})

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{
			{
				Config: cluster.config(twoImages + "  wait_for_cached = false\n"),
			},
			{
				PreConfig: func() { waitForPullerPods(t, cluster) },
				Config:    cluster.config(twoImages + "  wait_for_cached = false\n"),
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes)-1)),
					int64State("images_missing", 1),
					statecheck.ExpectKnownValue(imagePullerAddress,
						tfjsonpath.New("nodes").AtSliceIndex(2),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"name":    knownvalue.StringExact("worker-2"),
							"ready":   knownvalue.Bool(false),
							"missing": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("Static_Bin")}),
							"errors": knownvalue.ListExact([]knownvalue.Check{
								knownvalue.ObjectExact(map[string]knownvalue.Check{
									"image":   knownvalue.StringExact("Static_Bin"),
									"reason":  knownvalue.StringExact("ImagePullBackOff"),
									"message": knownvalue.StringRegexp(regexp.MustCompile("Back-off")),
								}),
							}),
						})),
				},
			},
		},
	})
}

// waitForPullerPods waits until every worker has a puller pod with a status.
func waitForPullerPods(t *testing.T, cluster *imagePullerCluster) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		pods, err := cluster.client.CoreV1().Pods(cluster.namespace).List(
			context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing puller pods: %v", err)
		}
		var nodes []string
		for _, pod := range pods.Items {
			if pod.Spec.NodeName != "" && len(pod.Status.ContainerStatuses) > 0 {
				nodes = append(nodes, pod.Spec.NodeName)
			}
		}
		slices.Sort(nodes)
		if slices.Equal(nodes, workerNodes) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("puller pods did not start on every worker within a minute")
}

// A ResourceQuota that admits fewer pods than there are workers ends the wait at once with
// the API server's message and what the pods need, instead of a timeout.
func TestAccImagePullerQuotaRejection(t *testing.T) {
	cluster := newImagePullerCluster(t)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "two-pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourcePods: resource.MustParse("2"),
		}},
	}
	_, err := cluster.client.CoreV1().ResourceQuotas(cluster.namespace).Create(
		context.Background(), quota, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the ResourceQuota: %v", err)
	}
	body := twoImages + `  memory_limit = "16Mi"
  timeouts {
    create = "5m"
  }
`

	start := time.Now()
	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{{
			Config: cluster.config(body),
			ExpectError: wrappedText("Image Puller Pods Rejected.*exceeded quota: two-pods.*" +
				"needs 4 pods, one per selected node, of 3 containers each.*memory " +
				"requests .* and limits 128Mi"),
		}},
	})
	if elapsed := time.Since(start); elapsed > 2*time.Minute {
		t.Errorf("the rejection took %s to report, expected well under the 5m timeout",
			elapsed)
	}
}

// A pull secret that is not in the puller's namespace fails before anything is written.
func TestAccImagePullerMissingPullSecret(t *testing.T) {
	cluster := newImagePullerCluster(t)
	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{{
			Config: cluster.config(twoImages + `  image_pull_secrets = ["elsewhere"]` + "\n"),
			ExpectError: wrappedText(`Pull Secret Not Found.*Secret "elsewhere" does not ` +
				`exist in namespace "` + cluster.namespace + `"`),
		}},
	})
}

// With keep_cached false the images are pulled by init containers, and a toleration brings
// them to the tainted master too.
func TestAccImagePullerPullOnly(t *testing.T) {
	cluster := newImagePullerCluster(t)
	body := twoImages + `  keep_cached = false
  tolerations = [{
    key      = "` + testcluster.LabelMasterRole + `"
    operator = "Exists"
    effect   = "NoSchedule"
  }]
`
	allNodes := append([]string{"master-0"}, workerNodes...)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkDestroyed,
		Steps: []tfresource.TestStep{
			{
				Config: cluster.config(body),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					nodeNamesState(allNodes),
					int64State("nodes_cached", int64(len(allNodes))),
				},
				Check: func(*terraform.State) error {
					daemonSet, err := cluster.daemonSet()
					if err != nil {
						return err
					}
					pod := daemonSet.Spec.Template.Spec
					if len(pod.Containers) != 1 || pod.Containers[0].Name != puller.ContainerWait {
						return fmt.Errorf("containers = %v, expected only %s",
							pod.Containers, puller.ContainerWait)
					}
					if len(pod.InitContainers) != 3 {
						return fmt.Errorf("%d init containers, expected the sleeper and two "+
							"images", len(pod.InitContainers))
					}
					return nil
				},
			},
			{
				ResourceName:                         imagePullerAddress,
				ImportState:                          true,
				ImportStateId:                        cluster.namespace + "/" + cluster.name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
		},
	})
}

// Every plan-time rule fails on its attribute without a request to the cluster.
func TestAccImagePullerValidation(t *testing.T) {
	cluster := newImagePullerCluster(t)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"no images", `images = {}`, `(?s)images.*at least one`},
		{"uppercase repository", `images = { a = "quay.io/Team/app:1" }`,
			`(?s)Invalid Image Reference.*images = `},
		{"scheme", `images = { a = "https://quay.io/team/app:1" }`, `Invalid Image Reference`},
		{"colliding names", `images = {
    a_b = "quay.io/team/a:1"
    a-b = "quay.io/team/b:1"
  }`, `(?s)a-b.*a_b|a_b.*a-b`},
		{"reserved name", `images = { imagedist-wait = "quay.io/team/a:1" }`,
			`imagedist-wait`},
		{"name only symbols", `images = { "___" = "quay.io/team/a:1" }`, `___`},
		{"uppercase name", `name = "Prepull"`, `(?s)name`},
		{"max unavailable zero", twoImages + `  max_unavailable = "0%"`,
			`Invalid Max Unavailable`},
		{"max unavailable text", twoImages + `  max_unavailable = "half"`,
			`Invalid Max Unavailable`},
		{"max unavailable above 100%", twoImages + `  max_unavailable = "150%"`,
			`Invalid Max Unavailable`},
		{"negative quantity", twoImages + `  memory_limit = "-1Mi"`, `Invalid Quantity`},
		{"bad quantity", twoImages + `  cpu_request = "fast"`, `Invalid Quantity`},
		{"toleration without key", twoImages + `  tolerations = [{ operator = "Equal" }]`,
			`(?s)Invalid Toleration.*operator`},
		{"toleration exists with value", twoImages +
			`  tolerations = [{ key = "a", operator = "Exists", value = "b" }]`,
			`(?s)Invalid Toleration.*value`},
		{"toleration seconds without NoExecute", twoImages +
			`  tolerations = [{ key = "a", effect = "NoSchedule", toleration_seconds = 5 }]`,
			`(?s)Invalid Toleration.*toleration_seconds`},
		{"affinity In without values", twoImages +
			`  node_affinity = [{ match_expressions = [{ key = "a", operator = "In" }] }]`,
			`(?s)Invalid Node Affinity.*at\s+least\s+one\s+value`},
		{"affinity Gt not integer", twoImages + `  node_affinity = [{ match_expressions = ` +
			`[{ key = "a", operator = "Gt", values = ["x"] }] }]`, `integer`},
		{"affinity Exists with values", twoImages + `  node_affinity = [{ match_expressions ` +
			`= [{ key = "a", operator = "Exists", values = ["x"] }] }]`, `takes no values`},
		{"unknown backend", twoImages + `  backend = "kruise"`, `(?s)backend`},
		{"bad pull secret name", twoImages + `  image_pull_secrets = ["Bad Name"]`,
			`image_pull_secrets`},
		{"bad helper image", twoImages + `  helper_image = "Busybox"`,
			`Invalid Image Reference`},
		{"cpu finer than 1m", twoImages + `  cpu_request = "0.0001m"`, `finer than 1m`},
		{"memory fraction of a byte", twoImages + `  memory_limit = "0.5"`,
			`whole number of bytes`},
		{"request above limit", twoImages + "  memory_request = \"32Mi\"\n" +
			`  memory_limit = "16Mi"`, `Request Above Limit`},
		{"reserved label", twoImages + `  labels = { "app.kubernetes.io/instance" = "x" }`,
			`Reserved Label`},
		{"toleration key", twoImages + `  tolerations = [{ key = "bad key!!" }]`,
			`(?s)Invalid Toleration.*not a valid taint key`},
		{"zero timeout", twoImages + "  timeouts {\n    create = \"0s\"\n  }",
			`(?s)Invalid Timeout.*timeouts.create is "0s"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			body := test.body
			if !strings.Contains(body, "images") {
				body = twoImages + "  " + body
			}
			config := cluster.config(body)
			if strings.HasPrefix(test.body, "name =") {
				config = fmt.Sprintf(`
resource "imagedist_image_puller" "test" {
  namespace = %q
  %s
%s}
`, cluster.namespace, test.body, twoImages)
			}
			tfresource.UnitTest(t, tfresource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []tfresource.TestStep{{
					Config:      config,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(test.want),
				}},
			})
		})
	}

	// Valid edges: a key that needs sanitising, a digest reference and a 63-character key.
	tfresource.UnitTest(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: cluster.config(`  images = {
    Static_Bin = "` + testImageScratch + `"
    ` + strings.Repeat("k", 63) + ` = "quay.io/team/app:1"
  }
  max_unavailable = "100%"
`),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
}

// A malformed import ID is rejected with the expected forms, and a missing DaemonSet is
// named.
func TestAccImagePullerImportID(t *testing.T) {
	cluster := newImagePullerCluster(t)
	for _, id := range []string{"a/b/c", "Bad_Name", "/name", "namespace/"} {
		t.Run(id, func(t *testing.T) {
			tfresource.Test(t, tfresource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []tfresource.TestStep{{
					Config:        cluster.config(twoImages),
					ResourceName:  imagePullerAddress,
					ImportState:   true,
					ImportStateId: id,
					ExpectError: regexp.MustCompile(
						`(?s)Invalid Import ID.*namespace/name\s+nor\s+name`),
				}},
			})
		})
	}
	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config:        cluster.config(twoImages),
			ResourceName:  imagePullerAddress,
			ImportState:   true,
			ImportStateId: cluster.namespace + "/missing",
			ExpectError:   regexp.MustCompile(`(?s)Image Puller Not Found.*"missing"`),
		}},
	})
}

// startImagePullerOperator runs the stand-in for the kubernetes-image-puller operator in the
// test's namespace until the test ends.
func (c *imagePullerCluster) startImagePullerOperator() {
	c.t.Helper()
	dynamicClient, err := testcluster.DynamicClientFromEnv()
	if err != nil {
		c.t.Fatalf("cluster client: %v", err)
	}
	operator := &testcluster.ImagePullerOperator{
		Client: c.client, Dynamic: dynamicClient, Namespace: c.namespace,
		PollInterval: 50 * time.Millisecond, Logf: c.t.Logf,
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := operator.Start(ctx)
	c.t.Cleanup(func() {
		cancel()
		wait()
	})
}

// The operator backend writes a KubernetesImagePuller, waits until the operator's DaemonSet
// has every image on every worker, imports it back, and rolls an image in.
func TestAccImagePullerOperator(t *testing.T) {
	cluster := newImagePullerCluster(t)
	cluster.startImagePullerOperator()
	body := `  backend = "operator"
  images = {
    api        = "` + testImageAPI + `"
    Static_Bin = "` + testImageScratch + `"
  }
  memory_limit = "20Mi"
`
	updated := strings.Replace(body, testImageScratch, testImageWeb, 1)

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkOperatorDestroyed,
		Steps: []tfresource.TestStep{
			{
				Config: cluster.config(body),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("node_count", int64(len(workerNodes))),
					int64State("nodes_cached", int64(len(workerNodes))),
					nodeNamesState(workerNodes),
				},
				Check: cluster.checkOperatorImages(map[string]string{
					"api": testImageAPI, "static-bin": testImageScratch,
				}),
			},
			{
				ResourceName:                         imagePullerAddress,
				ImportState:                          true,
				ImportStateId:                        cluster.namespace + "/" + cluster.name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
			{
				Config: cluster.config(updated),
				ConfigStateChecks: []statecheck.StateCheck{
					int64State("nodes_cached", int64(len(workerNodes))),
					int64State("images_missing", 0),
				},
				Check: cluster.checkOperatorImages(map[string]string{
					"api": testImageAPI, "static-bin": testImageWeb,
				}),
			},
		},
	})
}

// checkOperatorImages checks the images field of the KubernetesImagePuller and that the
// operator's DaemonSet runs them.
func (c *imagePullerCluster) checkOperatorImages(want map[string]string) tfresource.TestCheckFunc {
	return func(*terraform.State) error {
		daemonSet, err := c.daemonSet()
		if err != nil {
			return fmt.Errorf("the operator's DaemonSet: %w", err)
		}
		got := map[string]string{}
		for _, container := range daemonSet.Spec.Template.Spec.Containers {
			got[container.Name] = container.Image
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("operator's containers = %v, expected %v", got, want)
		}
		return nil
	}
}

// Without an operator, the wait ends after the grace period with an error naming the cause.
func TestAccImagePullerOperatorMissing(t *testing.T) {
	cluster := newImagePullerCluster(t)
	previous := operatorGracePeriod
	operatorGracePeriod = 2 * time.Second
	t.Cleanup(func() { operatorGracePeriod = previous })

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []tfresource.TestStep{{
			Config: cluster.config(`  backend = "operator"
  images = { api = "` + testImageAPI + `" }
`),
			ExpectError: wrappedText("No Operator for Image Puller.*no DaemonSet \"" +
				cluster.name + "\" appeared"),
		}},
	})
}

// A KubernetesImagePuller edited or deleted by hand shows in the next plan.
func TestAccImagePullerOperatorDrift(t *testing.T) {
	cluster := newImagePullerCluster(t)
	cluster.startImagePullerOperator()
	pullers := cluster.operatorPullers()
	ctx := context.Background()
	body := `  backend = "operator"
  images = { api = "` + testImageAPI + `" }
`

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkOperatorDestroyed,
		Steps: []tfresource.TestStep{
			{Config: cluster.config(body)},
			{
				PreConfig: func() {
					object, err := pullers.Get(ctx, cluster.name, metav1.GetOptions{})
					if err != nil {
						t.Fatalf("reading the KubernetesImagePuller: %v", err)
					}
					_ = unstructured.SetNestedField(object.Object, "api="+testImageWeb,
						"spec", puller.FieldImages)
					if _, err := pullers.Update(ctx, object, metav1.UpdateOptions{}); err != nil {
						t.Fatalf("editing the KubernetesImagePuller: %v", err)
					}
				},
				Config: cluster.config(body),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(
						imagePullerAddress, plancheck.ResourceActionUpdate)},
				},
				Check: cluster.checkOperatorImages(map[string]string{"api": testImageAPI}),
			},
			{
				PreConfig: func() {
					if err := pullers.Delete(ctx, cluster.name, metav1.DeleteOptions{}); err != nil {
						t.Fatalf("deleting the KubernetesImagePuller: %v", err)
					}
				},
				Config:             cluster.config(body),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// A pull that fails on one node times the operator backend's wait out with the node and the
// kubelet's message.
func TestAccImagePullerOperatorPullFailure(t *testing.T) {
	cluster := newImagePullerCluster(t)
	cluster.startImagePullerOperator()
	const message = "rpc error: code = Unknown desc = manifest unknown"
	cluster.kubelets.FailPull("worker-0", testImageAPI, testcluster.PullFailure{
		Reason: testcluster.ReasonErrImagePull, Message: message,
	})

	tfresource.Test(t, tfresource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy:             cluster.checkOperatorDestroyed,
		Steps: []tfresource.TestStep{{
			Config: cluster.config(`  backend = "operator"
  images = { api = "` + testImageAPI + `" }
  timeouts {
    create = "5s"
  }
`),
			ExpectError: wrappedText("Timed Out Waiting for Images.*- worker-0: api " +
				"(ErrImagePull: " + message + ")"),
		}},
	})
}

func (c *imagePullerCluster) operatorPullers() dynamic.ResourceInterface {
	c.t.Helper()
	dynamicClient, err := testcluster.DynamicClientFromEnv()
	if err != nil {
		c.t.Fatal(err)
	}
	return dynamicClient.Resource(puller.KubernetesImagePullerResource).Namespace(c.namespace)
}

// checkOperatorDestroyed checks that the KubernetesImagePuller is gone and waits for the
// garbage collector to remove the operator's DaemonSet, which it does in its own time when
// the CR was deleted outside Terraform.
func (c *imagePullerCluster) checkOperatorDestroyed(state *terraform.State) error {
	_, err := c.operatorPullers().Get(context.Background(), c.name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("KubernetesImagePuller %s after destroy: error %v, expected not "+
			"found", c.name, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := c.checkDestroyed(state)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}
