package kubeletgc

import (
	"strings"
	"testing"
)

func int32Pointer(value int32) *int32 { return &value }

func stringPointer(value string) *string { return &value }

func TestValidateAcceptsValidSettings(t *testing.T) {
	tests := map[string]Settings{
		"all unset": {},
		"defaults spelled out": {
			HighThresholdPercent: int32Pointer(85), LowThresholdPercent: int32Pointer(80)},
		"high 100 low 0": {
			HighThresholdPercent: int32Pointer(100), LowThresholdPercent: int32Pointer(0)},
		"low one below high": {
			HighThresholdPercent: int32Pointer(50), LowThresholdPercent: int32Pointer(49)},
		"only high above default": {HighThresholdPercent: int32Pointer(81)},
		"only low below default":  {LowThresholdPercent: int32Pointer(84)},
		"only low zero":           {LowThresholdPercent: int32Pointer(0)},
		"minimum 90s":             {MinimumGCAge: stringPointer("90s")},
		"minimum zero":            {MinimumGCAge: stringPointer("0s")},
		"minimum bare zero":       {MinimumGCAge: stringPointer("0")},
		"maximum zero is off":     {MaximumGCAge: stringPointer("0s")},
		"maximum above default":   {MaximumGCAge: stringPointer("2m1s")},
		"maximum above minimum":   {MinimumGCAge: stringPointer("5m"), MaximumGCAge: stringPointer("1h")},
		"maximum above small min": {MinimumGCAge: stringPointer("30s"), MaximumGCAge: stringPointer("90s")},
		"maximum zero below min":  {MinimumGCAge: stringPointer("1h"), MaximumGCAge: stringPointer("0s")},
		"maximum above the default for a zero minimum": {
			MinimumGCAge: stringPointer("0s"), MaximumGCAge: stringPointer("3m")},
		"max images no limit": {NodeStatusMaxImages: int32Pointer(-1)},
		"max images zero":     {NodeStatusMaxImages: int32Pointer(0)},
		"max images large":    {NodeStatusMaxImages: int32Pointer(10000)},
		"everything set and valid": {
			HighThresholdPercent: int32Pointer(90),
			LowThresholdPercent:  int32Pointer(70),
			MinimumGCAge:         stringPointer("10m"),
			MaximumGCAge:         stringPointer("168h"),
			NodeStatusMaxImages:  int32Pointer(200),
		},
	}

	for name, settings := range tests {
		t.Run(name, func(t *testing.T) {
			if problems := settings.Validate(); len(problems) != 0 {
				t.Fatalf("Validate() = %v, want no problems", problems)
			}
		})
	}
}

func TestValidateRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name      string
		settings  Settings
		attribute string
		summary   string
		// detail lists fragments that the detail must contain: the value and the fix.
		detail []string
	}{
		{
			name:      "high above 100",
			settings:  Settings{HighThresholdPercent: int32Pointer(101)},
			attribute: AttributeHighThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"between 0 and 100", "it is 101", "Set a value from 0 to 100"},
		},
		{
			name:      "high negative",
			settings:  Settings{HighThresholdPercent: int32Pointer(-1)},
			attribute: AttributeHighThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"it is -1"},
		},
		{
			name:      "low above 100",
			settings:  Settings{LowThresholdPercent: int32Pointer(101), HighThresholdPercent: int32Pointer(100)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"low_threshold_percent is a percentage", "it is 101"},
		},
		{
			name:      "low negative",
			settings:  Settings{LowThresholdPercent: int32Pointer(-5)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"it is -5"},
		},
		{
			name:      "low equal to high",
			settings:  Settings{HighThresholdPercent: int32Pointer(80), LowThresholdPercent: int32Pointer(80)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail: []string{"strictly less than", "low_threshold_percent is 80 ",
				"high_threshold_percent is 80.", "below 80", "above 80"},
		},
		{
			name:      "both zero",
			settings:  Settings{HighThresholdPercent: int32Pointer(0), LowThresholdPercent: int32Pointer(0)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"To fix it, set high_threshold_percent above 0."},
		},
		{
			name:      "both 100",
			settings:  Settings{HighThresholdPercent: int32Pointer(100), LowThresholdPercent: int32Pointer(100)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"To fix it, set low_threshold_percent below 100. "},
		},
		{
			name:      "maximum not above the default for a zero minimum",
			settings:  Settings{MinimumGCAge: stringPointer("0s"), MaximumGCAge: stringPointer("1m")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`"0s", which the kubelet replaces with its default 2m`, "above 2m"},
		},
		{
			name:      "low above high",
			settings:  Settings{HighThresholdPercent: int32Pointer(70), LowThresholdPercent: int32Pointer(75)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"low_threshold_percent is 75", "high_threshold_percent is 70"},
		},
		{
			name:      "only low above default high",
			settings:  Settings{LowThresholdPercent: int32Pointer(90)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail: []string{"low_threshold_percent is 90",
				"85 (the kubelet default, because high_threshold_percent is unset)",
				"below 85", "above 90"},
		},
		{
			name:      "only low equal to default high",
			settings:  Settings{LowThresholdPercent: int32Pointer(85)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"high_threshold_percent is 85 (the kubelet default"},
		},
		{
			name:      "only high equal to default low",
			settings:  Settings{HighThresholdPercent: int32Pointer(80)},
			attribute: AttributeHighThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"80 (the kubelet default, because low_threshold_percent is unset)"},
		},
		{
			name:      "only high below default low",
			settings:  Settings{HighThresholdPercent: int32Pointer(50)},
			attribute: AttributeHighThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"high_threshold_percent is 50", "above 80"},
		},
		{
			name:      "high 0 low 0",
			settings:  Settings{HighThresholdPercent: int32Pointer(0), LowThresholdPercent: int32Pointer(0)},
			attribute: AttributeLowThresholdPercent,
			summary:   "Invalid Image GC Threshold",
			detail:    []string{"strictly less than"},
		},
		{
			name:      "minimum not a duration",
			settings:  Settings{MinimumGCAge: stringPointer("2 minutes")},
			attribute: AttributeMinimumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`"2 minutes" is not`, "Go duration"},
		},
		{
			name:      "minimum without unit",
			settings:  Settings{MinimumGCAge: stringPointer("120")},
			attribute: AttributeMinimumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`"120" is not`, "missing unit"},
		},
		{
			name:      "minimum empty",
			settings:  Settings{MinimumGCAge: stringPointer("")},
			attribute: AttributeMinimumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`"" is not`},
		},
		{
			name:      "minimum negative",
			settings:  Settings{MinimumGCAge: stringPointer("-1m")},
			attribute: AttributeMinimumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{"must not be negative", `"-1m"`, `Set "0s"`},
		},
		{
			name:      "maximum negative",
			settings:  Settings{MaximumGCAge: stringPointer("-5s")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{"must not be negative", `"-5s"`},
		},
		{
			name:      "maximum not a duration",
			settings:  Settings{MaximumGCAge: stringPointer("1d")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`"1d" is not`},
		},
		{
			name:      "maximum below default minimum",
			settings:  Settings{MaximumGCAge: stringPointer("1m")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail: []string{`maximum_gc_age is "1m"`,
				"2m (the kubelet default, because minimum_gc_age is unset)",
				"above 2m", `"0s"`},
		},
		{
			name:      "maximum equal to default minimum",
			settings:  Settings{MaximumGCAge: stringPointer("120s")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`maximum_gc_age is "120s"`, "above 2m"},
		},
		{
			name:      "maximum equal to minimum in other units",
			settings:  Settings{MinimumGCAge: stringPointer("90s"), MaximumGCAge: stringPointer("1m30s")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`minimum_gc_age is "90s"`, "above 1m30s"},
		},
		{
			name:      "maximum below minimum",
			settings:  Settings{MinimumGCAge: stringPointer("2h"), MaximumGCAge: stringPointer("1h")},
			attribute: AttributeMaximumGCAge,
			summary:   "Invalid Image GC Age",
			detail:    []string{`minimum_gc_age is "2h"`, "above 2h0m0s"},
		},
		{
			name:      "max images below -1",
			settings:  Settings{NodeStatusMaxImages: int32Pointer(-2)},
			attribute: AttributeNodeStatusMaxImages,
			summary:   "Invalid Node Status Max Images",
			detail:    []string{"-1 (no limit) or greater", "it is -2"},
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			problems := test.settings.Validate()
			if len(problems) != 1 {
				t.Fatalf("Validate() returned %d problems, want 1: %v", len(problems), problems)
			}
			problem := problems[0]
			if problem.Attribute != test.attribute {
				t.Errorf("Attribute = %q, want %q", problem.Attribute, test.attribute)
			}
			if problem.Summary != test.summary {
				t.Errorf("Summary = %q, want %q", problem.Summary, test.summary)
			}
			for _, fragment := range test.detail {
				if !strings.Contains(problem.Detail, fragment) {
					t.Errorf("Detail = %q, want it to contain %q", problem.Detail, fragment)
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	settings := Settings{
		HighThresholdPercent: int32Pointer(101),
		LowThresholdPercent:  int32Pointer(-1),
		MinimumGCAge:         stringPointer("soon"),
		MaximumGCAge:         stringPointer("-1s"),
		NodeStatusMaxImages:  int32Pointer(-3),
	}

	problems := settings.Validate()

	want := []string{
		AttributeHighThresholdPercent,
		AttributeLowThresholdPercent,
		AttributeMinimumGCAge,
		AttributeMaximumGCAge,
		AttributeNodeStatusMaxImages,
	}
	if len(problems) != len(want) {
		t.Fatalf("Validate() returned %d problems, want %d: %v", len(problems), len(want), problems)
	}
	for i, attribute := range want {
		if problems[i].Attribute != attribute {
			t.Errorf("problem %d is on %q, want %q", i, problems[i].Attribute, attribute)
		}
	}
}

func TestValidateSkipsComparisonAfterRangeProblem(t *testing.T) {
	// Low 101 is out of range and also not below high 85, but only the range is reported.
	problems := Settings{LowThresholdPercent: int32Pointer(101)}.Validate()

	if len(problems) != 1 {
		t.Fatalf("Validate() returned %d problems, want 1: %v", len(problems), problems)
	}
	if strings.Contains(problems[0].Detail, "strictly less than") {
		t.Errorf("Detail = %q, want only the range rule", problems[0].Detail)
	}
}

func TestValidateSkipsAgeComparisonAfterInvalidMinimum(t *testing.T) {
	settings := Settings{MinimumGCAge: stringPointer("later"), MaximumGCAge: stringPointer("1s")}

	problems := settings.Validate()

	if len(problems) != 1 {
		t.Fatalf("Validate() returned %d problems, want 1: %v", len(problems), problems)
	}
	if problems[0].Attribute != AttributeMinimumGCAge {
		t.Errorf("Attribute = %q, want %q", problems[0].Attribute, AttributeMinimumGCAge)
	}
}

func TestProblemString(t *testing.T) {
	problem := Problem{Attribute: "a", Summary: "B", Detail: "c"}

	if got := problem.String(); got != "a: B: c" {
		t.Errorf("String() = %q, want %q", got, "a: B: c")
	}
}

func TestEquivalentDuration(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"90s", "1m30s", true},
		{"1m30s", "90s", true},
		{"2m", "120s", true},
		{"2m", "2m0s", true},
		{"1h", "60m", true},
		{"0", "0s", true},
		{"1500ms", "1.5s", true},
		{"90s", "91s", false},
		{"1m", "1h", false},
		{"-1m", "1m", false},
		{"soon", "soon", true},
		{"soon", "later", false},
		{"soon", "1m", false},
		{"", "", true},
		{"", "0s", false},
	}

	for _, test := range tests {
		if got := EquivalentDuration(test.a, test.b); got != test.want {
			t.Errorf("EquivalentDuration(%q, %q) = %v, want %v", test.a, test.b, got, test.want)
		}
	}
}
