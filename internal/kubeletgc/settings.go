package kubeletgc

import (
	"fmt"
	"strings"
	"time"
)

// Attribute names of the imagedist_kubelet_image_gc resource. Problem.Attribute is one of
// them, so the provider can attach a diagnostic to the attribute at fault.
const (
	AttributeHighThresholdPercent = "high_threshold_percent"
	AttributeLowThresholdPercent  = "low_threshold_percent"
	AttributeMinimumGCAge         = "minimum_gc_age"
	AttributeMaximumGCAge         = "maximum_gc_age"
	AttributeNodeStatusMaxImages  = "node_status_max_images"
	AttributePool                 = "machine_config_pool"
	AttributePoolSelector         = "machine_config_pool_selector"
)

// Kubelet defaults (kubelet.config.k8s.io/v1beta1) for the image GC fields. OpenShift's base
// kubelet configuration sets none of these fields, so the defaults apply to any field that a
// KubeletConfig leaves unset.
const (
	DefaultHighThresholdPercent int32 = 85
	DefaultLowThresholdPercent  int32 = 80
	DefaultMinimumGCAge               = 2 * time.Minute
	// DefaultMaximumGCAge of zero disables age-based image garbage collection.
	DefaultMaximumGCAge              = time.Duration(0)
	DefaultNodeStatusMaxImages int32 = 50
)

// Settings are the kubelet image garbage collection fields of one KubeletConfig. A nil field is
// unset, so the kubelet default applies to it.
type Settings struct {
	// HighThresholdPercent is the disk usage, in percent, above which the kubelet always runs
	// image garbage collection.
	HighThresholdPercent *int32
	// LowThresholdPercent is the disk usage, in percent, down to which image garbage
	// collection frees space once usage passes the high threshold.
	LowThresholdPercent *int32
	// MinimumGCAge is the minimum age of an unused image before it is collected, as a Go
	// duration string such as "2m".
	MinimumGCAge *string
	// MaximumGCAge is the age after which an unused image is collected whatever the disk
	// usage, as a Go duration string. "0s" disables it.
	MaximumGCAge *string
	// NodeStatusMaxImages is the maximum number of images the kubelet reports in
	// Node.status.images. -1 means no limit.
	NodeStatusMaxImages *int32
}

// Problem is one rule that Settings or a pool selector breaks.
type Problem struct {
	// Attribute is the resource attribute at fault, such as AttributeLowThresholdPercent.
	Attribute string
	// Summary is a short Title Case headline for a diagnostic.
	Summary string
	// Detail states the rule, the value that breaks it and the fix.
	Detail string
}

// String returns the problem on one line, for logs and test output.
func (p Problem) String() string {
	return fmt.Sprintf("%s: %s: %s", p.Attribute, p.Summary, p.Detail)
}

const (
	summaryThreshold    = "Invalid Image GC Threshold"
	summaryAge          = "Invalid Image GC Age"
	summaryMaxImages    = "Invalid Node Status Max Images"
	summaryPoolSelector = "Invalid Machine Config Pool Selector"
	summaryPool         = "Invalid Machine Config Pool Name"
	minNodeStatusImages = -1
	maxThresholdPercent = 100
	minThresholdPercent = 0
	unsetFieldExplainer = "the kubelet default, because %s is unset"
	kubeletRejectsNote  = "The kubelet exits at start-up with this value and the machine-config " +
		"operator does not check it, so each node of the pool becomes NotReady as the change " +
		"rolls out."
)

// Validate checks s against the kubelet's own validation of its configuration
// (pkg/kubelet/apis/config/validation in k8s.io/kubernetes v1.37.2) and returns one Problem per
// broken rule, or nil. Rules that compare two fields use the kubelet default for an unset one, so
// setting only the low threshold to 90 is a problem because the high threshold defaults to 85.
func (s Settings) Validate() []Problem {
	var problems []Problem

	problems = append(problems, s.validateThresholds()...)
	problems = append(problems, s.validateAges()...)

	if s.NodeStatusMaxImages != nil && *s.NodeStatusMaxImages < minNodeStatusImages {
		problems = append(problems, Problem{
			Attribute: AttributeNodeStatusMaxImages,
			Summary:   summaryMaxImages,
			Detail: fmt.Sprintf("node_status_max_images must be -1 (no limit) or greater, but "+
				"it is %d. Set it to -1, 0 or a positive number of images.",
				*s.NodeStatusMaxImages),
		})
	}

	return problems
}

func (s Settings) validateThresholds() []Problem {
	var problems []Problem

	for _, field := range []struct {
		attribute string
		value     *int32
	}{
		{AttributeHighThresholdPercent, s.HighThresholdPercent},
		{AttributeLowThresholdPercent, s.LowThresholdPercent},
	} {
		if field.value == nil {
			continue
		}
		if *field.value < minThresholdPercent || *field.value > maxThresholdPercent {
			problems = append(problems, Problem{
				Attribute: field.attribute,
				Summary:   summaryThreshold,
				Detail: fmt.Sprintf("%s is a percentage of disk usage and must be between "+
					"0 and 100, but it is %d. Set a value from 0 to 100.",
					field.attribute, *field.value),
			})
		}
	}

	// Comparing out-of-range values would only repeat the problems above.
	if len(problems) > 0 {
		return problems
	}

	high, highText := effectiveThreshold(s.HighThresholdPercent, DefaultHighThresholdPercent,
		AttributeHighThresholdPercent)
	low, lowText := effectiveThreshold(s.LowThresholdPercent, DefaultLowThresholdPercent,
		AttributeLowThresholdPercent)
	if low < high {
		return nil
	}

	// Blame the attribute the user set. When both are set, the low threshold is the one that
	// the kubelet rule names.
	attribute := AttributeLowThresholdPercent
	if s.LowThresholdPercent == nil {
		attribute = AttributeHighThresholdPercent
	}

	// Offer only the changes that stay within 0 to 100.
	var fixes []string
	if high > minThresholdPercent {
		fixes = append(fixes, fmt.Sprintf("set low_threshold_percent below %d", high))
	}
	if low < maxThresholdPercent {
		fixes = append(fixes, fmt.Sprintf("set high_threshold_percent above %d", low))
	}
	if len(fixes) == 0 {
		fixes = append(fixes, "lower low_threshold_percent and keep "+
			"high_threshold_percent above it")
	}
	return []Problem{{
		Attribute: attribute,
		Summary:   summaryThreshold,
		Detail: fmt.Sprintf("low_threshold_percent must be strictly less than "+
			"high_threshold_percent (an equal value is rejected), but low_threshold_percent is "+
			"%s and high_threshold_percent is %s. To fix it, %s. %s",
			lowText, highText, strings.Join(fixes, ", or "), kubeletRejectsNote),
	}}
}

// effectiveThreshold returns the value the kubelet uses and a description of where it came
// from, for messages.
func effectiveThreshold(value *int32, fallback int32, attribute string) (int32, string) {
	if value != nil {
		return *value, fmt.Sprintf("%d", *value)
	}

	return fallback, fmt.Sprintf("%d ("+unsetFieldExplainer+")", fallback, attribute)
}

func (s Settings) validateAges() []Problem {
	var problems []Problem

	minimum, minimumOK := DefaultMinimumGCAge, true
	minimumText := fmt.Sprintf("%s ("+unsetFieldExplainer+")",
		formatDuration(DefaultMinimumGCAge), AttributeMinimumGCAge)
	if s.MinimumGCAge != nil {
		var problem *Problem
		minimum, problem = parseAge(AttributeMinimumGCAge, *s.MinimumGCAge)
		if problem != nil {
			problems = append(problems, *problem)
			minimumOK = false
		}
		minimumText = fmt.Sprintf("%q", *s.MinimumGCAge)
		// The kubelet's defaulting (kubelet.config.k8s.io/v1beta1) replaces a zero minimum
		// age with the default before it validates the maximum against it.
		if problem == nil && minimum == 0 {
			minimum = DefaultMinimumGCAge
			minimumText = fmt.Sprintf("%q, which the kubelet replaces with its default %s",
				*s.MinimumGCAge, formatDuration(DefaultMinimumGCAge))
		}
	}

	if s.MaximumGCAge == nil {
		return problems
	}
	maximum, problem := parseAge(AttributeMaximumGCAge, *s.MaximumGCAge)
	if problem != nil {
		return append(problems, *problem)
	}

	// A maximum age of zero turns age-based collection off, so it needs no comparison.
	if maximum > 0 && minimumOK && maximum <= minimum {
		problems = append(problems, Problem{
			Attribute: AttributeMaximumGCAge,
			Summary:   summaryAge,
			Detail: fmt.Sprintf("maximum_gc_age must be greater than minimum_gc_age when it "+
				"is above zero, but maximum_gc_age is %q and minimum_gc_age is %s. Set "+
				"maximum_gc_age above %s, lower minimum_gc_age, or set maximum_gc_age to "+
				"\"0s\" to turn age-based collection off. %s",
				*s.MaximumGCAge, minimumText, formatDuration(minimum), kubeletRejectsNote),
		})
	}

	return problems
}

// parseAge parses a duration the way the kubelet's metav1.Duration does (time.ParseDuration)
// and rejects negative values.
func parseAge(attribute, text string) (time.Duration, *Problem) {
	age, err := time.ParseDuration(text)
	if err != nil {
		return 0, &Problem{
			Attribute: attribute,
			Summary:   summaryAge,
			Detail: fmt.Sprintf("%s must be a Go duration such as \"90s\", \"2m\" or "+
				"\"1h30m\", but %q is not: %v. Use a number followed by a unit (ns, us, ms, s, "+
				"m or h).", attribute, text, err),
		}
	}
	if age < 0 {
		return 0, &Problem{
			Attribute: attribute,
			Summary:   summaryAge,
			Detail: fmt.Sprintf("%s must not be negative, but it is %q. Set \"0s\" or a "+
				"positive duration.", attribute, text),
		}
	}

	return age, nil
}

// formatDuration formats whole minutes below an hour as "2m" rather than "2m0s".
func formatDuration(d time.Duration) string {
	if d != 0 && d%time.Minute == 0 && d < time.Hour {
		return fmt.Sprintf("%dm", d/time.Minute)
	}

	return d.String()
}

// EquivalentDuration reports whether a and b are the same duration, so "90s" equals "1m30s".
// When either fails to parse, it falls back to comparing the strings exactly.
func EquivalentDuration(a, b string) bool {
	durationA, errA := time.ParseDuration(a)
	durationB, errB := time.ParseDuration(b)
	if errA != nil || errB != nil {
		return a == b
	}

	return durationA == durationB
}
