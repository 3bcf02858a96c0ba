package kubeletgc

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestRenderWritesOnlySetKeys(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
		want     string
	}{
		{
			name:     "nothing set",
			settings: Settings{},
			want:     `{}`,
		},
		{
			name:     "thresholds only",
			settings: Settings{HighThresholdPercent: int32Pointer(90), LowThresholdPercent: int32Pointer(0)},
			want:     `{"imageGCHighThresholdPercent":90,"imageGCLowThresholdPercent":0}`,
		},
		{
			name: "everything",
			settings: Settings{
				HighThresholdPercent: int32Pointer(100),
				LowThresholdPercent:  int32Pointer(70),
				MinimumGCAge:         stringPointer("90s"),
				MaximumGCAge:         stringPointer("168h"),
				NodeStatusMaxImages:  int32Pointer(-1),
			},
			want: `{"imageGCHighThresholdPercent":100,"imageGCLowThresholdPercent":70,` +
				`"imageMaximumGCAge":"168h","imageMinimumGCAge":"90s","nodeStatusMaxImages":-1}`,
		},
		{
			name:     "zero maximum age kept",
			settings: Settings{MaximumGCAge: stringPointer("0s")},
			want:     `{"imageMaximumGCAge":"0s"}`,
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := Render(test.settings)

			if got == nil {
				t.Fatal("Render() = nil")
			}
			if string(got.Raw) != test.want {
				t.Errorf("Render().Raw = %s, want %s", got.Raw, test.want)
			}
		})
	}
}

func TestRenderParseRoundTrip(t *testing.T) {
	settings := Settings{
		HighThresholdPercent: int32Pointer(95),
		LowThresholdPercent:  int32Pointer(90),
		MinimumGCAge:         stringPointer("1m30s"),
		MaximumGCAge:         stringPointer("720h"),
		NodeStatusMaxImages:  int32Pointer(0),
	}

	parsed, err := Parse(Render(settings))

	if err != nil {
		t.Fatalf("Parse(Render()) error = %v", err)
	}
	if !reflect.DeepEqual(parsed, settings) {
		t.Errorf("Parse(Render()) = %s, want %s", describe(parsed), describe(settings))
	}
}

func TestParseIgnoresForeignKeys(t *testing.T) {
	raw := `{"maxPods":500,"serializeImagePulls":false,"imageGCHighThresholdPercent":75,` +
		`"systemReserved":{"cpu":"500m"},"imageMinimumGCAge":"5m"}`

	parsed, err := Parse(&runtime.RawExtension{Raw: []byte(raw)})

	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	want := Settings{HighThresholdPercent: int32Pointer(75), MinimumGCAge: stringPointer("5m")}
	if !reflect.DeepEqual(parsed, want) {
		t.Errorf("Parse() = %s, want %s", describe(parsed), describe(want))
	}
}

func TestParseEmptyInputs(t *testing.T) {
	tests := map[string]*runtime.RawExtension{
		"nil extension":  nil,
		"nil raw":        {},
		"empty raw":      {Raw: []byte{}},
		"null":           {Raw: []byte("null")},
		"empty object":   {Raw: []byte("{}")},
		"null gc fields": {Raw: []byte(`{"imageGCHighThresholdPercent":null,"imageMinimumGCAge":null}`)},
	}

	for name, extension := range tests {
		t.Run(name, func(t *testing.T) {
			parsed, err := Parse(extension)

			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !reflect.DeepEqual(parsed, Settings{}) {
				t.Errorf("Parse() = %s, want empty settings", describe(parsed))
			}
		})
	}
}

// kubeletConfigObject is a runtime.Object holding a KubeletConfiguration fragment, the way a
// caller builds a RawExtension in code instead of decoding it.
type kubeletConfigObject struct {
	metav1.TypeMeta     `json:",inline"`
	NodeStatusMaxImages int32 `json:"nodeStatusMaxImages"`
}

func (o *kubeletConfigObject) DeepCopyObject() runtime.Object {
	copied := *o

	return &copied
}

func TestParseReadsObjectExtension(t *testing.T) {
	extension := &runtime.RawExtension{Object: &kubeletConfigObject{NodeStatusMaxImages: 7}}

	parsed, err := Parse(extension)

	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if parsed.NodeStatusMaxImages == nil || *parsed.NodeStatusMaxImages != 7 {
		t.Errorf("Parse() = %s, want node status max images 7", describe(parsed))
	}
}

func TestParseRejectsMalformedFields(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"not an object", `[1,2]`, "spec.kubeletConfig is not a JSON object"},
		{"invalid JSON", `{"imageGCHighThresholdPercent":`, "spec.kubeletConfig is not a JSON object"},
		{"threshold as string", `{"imageGCHighThresholdPercent":"85"}`, "imageGCHighThresholdPercent"},
		{"threshold fraction", `{"imageGCLowThresholdPercent":80.5}`, "imageGCLowThresholdPercent"},
		{"threshold overflow", `{"nodeStatusMaxImages":4294967296}`, "nodeStatusMaxImages"},
		{"age as number", `{"imageMinimumGCAge":120}`, "imageMinimumGCAge"},
		{"age as object", `{"imageMaximumGCAge":{}}`, "imageMaximumGCAge"},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			parsed, err := Parse(&runtime.RawExtension{Raw: []byte(test.raw)})

			if err == nil {
				t.Fatalf("Parse() = %s, want an error", describe(parsed))
			}
			if !strings.Contains(err.Error(), test.want) {
				t.Errorf("Parse() error = %q, want it to contain %q", err, test.want)
			}
			if !reflect.DeepEqual(parsed, Settings{}) {
				t.Errorf("Parse() = %s alongside an error, want empty settings", describe(parsed))
			}
		})
	}
}

// describe prints settings with pointers followed, for failure messages.
func describe(settings Settings) string {
	encoded, err := json.Marshal(settings)
	if err != nil {
		return err.Error()
	}

	return string(encoded)
}
