package kubeletgc

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// Keys of the image GC fields in a kubelet.config.k8s.io/v1beta1 KubeletConfiguration, which is
// the format of a KubeletConfig's spec.kubeletConfig.
const (
	KeyHighThresholdPercent = "imageGCHighThresholdPercent"
	KeyLowThresholdPercent  = "imageGCLowThresholdPercent"
	KeyMinimumGCAge         = "imageMinimumGCAge"
	KeyMaximumGCAge         = "imageMaximumGCAge"
	KeyNodeStatusMaxImages  = "nodeStatusMaxImages"
)

// Render returns the spec.kubeletConfig for s, containing only the image GC keys that s sets.
// Durations are written as given, so Parse returns the same strings. Render does not validate
// s; call Validate first.
func Render(s Settings) *runtime.RawExtension {
	fields := map[string]any{}
	putInt(fields, KeyHighThresholdPercent, s.HighThresholdPercent)
	putInt(fields, KeyLowThresholdPercent, s.LowThresholdPercent)
	putString(fields, KeyMinimumGCAge, s.MinimumGCAge)
	putString(fields, KeyMaximumGCAge, s.MaximumGCAge)
	putInt(fields, KeyNodeStatusMaxImages, s.NodeStatusMaxImages)

	// A map of int32 and string values always encodes, and encoding/json sorts map keys, so
	// the output is stable across calls.
	raw, err := json.Marshal(fields)
	if err != nil {
		panic(fmt.Sprintf("kubeletgc: encoding image GC fields: %v", err))
	}

	return &runtime.RawExtension{Raw: raw}
}

func putInt(fields map[string]any, key string, value *int32) {
	if value != nil {
		fields[key] = *value
	}
}

func putString(fields map[string]any, key string, value *string) {
	if value != nil {
		fields[key] = *value
	}
}

// Parse reads the image GC fields from a KubeletConfig's spec.kubeletConfig and ignores every
// other key, so fields that another tool set do not show up as changes. A nil or empty
// extension returns empty Settings. Parse returns an error when spec.kubeletConfig is not a
// JSON object or an image GC key has the wrong JSON type.
func Parse(kubeletConfig *runtime.RawExtension) (Settings, error) {
	var settings Settings

	raw, err := rawJSON(kubeletConfig)
	if err != nil || len(raw) == 0 {
		return settings, err
	}

	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return settings, fmt.Errorf("spec.kubeletConfig is not a JSON object: %w", err)
	}

	targets := []struct {
		key    string
		target any
	}{
		{KeyHighThresholdPercent, &settings.HighThresholdPercent},
		{KeyLowThresholdPercent, &settings.LowThresholdPercent},
		{KeyMinimumGCAge, &settings.MinimumGCAge},
		{KeyMaximumGCAge, &settings.MaximumGCAge},
		{KeyNodeStatusMaxImages, &settings.NodeStatusMaxImages},
	}
	for _, field := range targets {
		value, ok := fields[field.key]
		if !ok {
			continue
		}
		if err := json.Unmarshal(value, field.target); err != nil {
			return Settings{}, fmt.Errorf("invalid spec.kubeletConfig.%s %s: %w",
				field.key, value, err)
		}
	}

	return settings, nil
}

// rawJSON returns the JSON of an extension, which holds either bytes (as decoded from the API)
// or an object (as built in code).
func rawJSON(extension *runtime.RawExtension) ([]byte, error) {
	if extension == nil {
		return nil, nil
	}
	if extension.Raw != nil || extension.Object == nil {
		return extension.Raw, nil
	}

	raw, err := json.Marshal(extension.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding spec.kubeletConfig: %w", err)
	}

	return raw, nil
}
