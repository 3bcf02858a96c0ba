package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// A wait that Terraform interrupts, as on Ctrl-C, reports the interruption once and does not
// also report the read that the cancelled context makes fail.
func TestKubeletImageGCWaitInterrupted(t *testing.T) {
	const path = "/apis/machineconfiguration.openshift.io/v1/kubeletconfigs/image-gc"
	server := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, request *http.Request) {
			if request.URL.Path != path {
				http.NotFound(w, request)
				return
			}
			// A KubeletConfig on which the operator has not reported yet.
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"apiVersion": "machineconfiguration.openshift.io/v1",
				"kind":       "KubeletConfig",
				"metadata":   map[string]any{"name": "image-gc", "generation": 1},
			})
		}))
	t.Cleanup(server.Close)
	client, err := dynamic.NewForConfig(&rest.Config{Host: server.URL})
	if err != nil {
		t.Fatalf("building the client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	plan := &kubeletImageGCModel{
		Name:                   types.StringValue("image-gc"),
		WaitForRollout:         types.BoolValue(false),
		Verdict:                types.StringUnknown(),
		VerdictMessage:         types.StringUnknown(),
		RenderedMachineConfigs: types.MapUnknown(types.StringType),
		PoolRollout:            types.MapUnknown(types.StringType),
	}
	var diags diag.Diagnostics

	(&kubeletImageGCResource{}).waitAndFlatten(ctx, client, plan,
		kubeletConfigChange{written: true}, time.Minute, &diags)

	requireOneDiagnostic(t, diags, diag.SeverityError, "Wait for KubeletConfig Interrupted",
		`KubeletConfig "image-gc" was written`, "next plan reads its verdict")
	if plan.Verdict.ValueString() != "pending" {
		t.Errorf("verdict = %s, expected pending", plan.Verdict)
	}
	if plan.PoolRollout.IsUnknown() {
		t.Error("pool_rollout is unknown, which Terraform rejects after an apply")
	}
}
