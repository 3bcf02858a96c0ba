// Package pullevents reads the kubelet's image pull events (core/v1 Events about Pods) and
// sums them per image and node: successful pulls with their durations, images already
// present, failed pulls and back-offs.
//
// The message formats are those of the kubelet in Kubernetes v1.37.2
// (pkg/kubelet/images/image_manager.go and pkg/kubelet/kuberuntime). Older kubelets wrote the
// Pulled message without "(... including waiting)" and without the image size, which parses
// too. Each failed attempt to get an image produces two events for the container: one that
// names the image, such as `Failed to pull image "REF": <error>`, and `Error: <reason>`, which
// names none. The image of an `Error:` event is taken from the event of the same pod, node
// and container that last named one, and the two events of one attempt count once.
package pullevents

import (
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's event reasons for images (pkg/kubelet/events).
const (
	reasonPulling       = "Pulling"
	reasonPulled        = "Pulled"
	reasonFailed        = "Failed"
	reasonInspectFailed = "InspectFailed"
	reasonNeverPull     = "ErrImageNeverPull"
	reasonBackOff       = "BackOff"
)

// The kubelet's reasons for a container whose image could not be made present, as written in
// `Error: <reason>` events and in container statuses.
const (
	ReasonErrImagePull              = "ErrImagePull"
	ReasonImagePullBackOff          = "ImagePullBackOff"
	ReasonInvalidImageName          = "InvalidImageName"
	ReasonErrImageNeverPull         = "ErrImageNeverPull"
	ReasonImageInspectError         = "ImageInspectError"
	ReasonRegistryUnavailable       = "RegistryUnavailable"
	ReasonSignatureValidationFailed = "SignatureValidationFailed"
)

// combinedPrefix starts the message of an event that client-go's event correlator made from
// more than ten similar events within ten minutes. The rest is the latest message.
const combinedPrefix = "(combined from similar events): "

// kind classifies a parsed image event.
type kind int

const (
	kindPulling kind = iota + 1
	kindPulled
	kindAlreadyPresent
	// kindFailed is a failure event that names the image.
	kindFailed
	// kindBackOff is a `Back-off pulling image` event, which names the image.
	kindBackOff
	// kindContainerFailed is `Error: <reason>` for a failure, without an image.
	kindContainerFailed
	// kindContainerBackOff is `Error: ImagePullBackOff`, without an image.
	kindContainerBackOff
)

// container identifies one container of one pod on one node, which the events of one image
// share.
type container struct {
	namespace string
	pod       string
	podUID    string
	fieldPath string
	node      string
}

// record is one parsed image event.
type record struct {
	container container
	kind      kind
	// reference is the image as the message names it, empty when it names none.
	reference string
	// reason is the failure reason of a kindFailed or kindContainerFailed record.
	reason string
	// message is the error text of a kindFailed record.
	message  string
	count    int64
	time     time.Time
	duration time.Duration
	// hasDuration is set for a Pulled record whose message contains the pull duration.
	hasDuration bool
	// combined is set for an event made from similar events: only its latest message is
	// kept, so its duration describes one of its count pulls.
	combined bool
}

// parseEvent parses an Event about a Pod. It returns false for events that are not about
// images.
func parseEvent(event *corev1.Event) (record, bool) {
	if event.InvolvedObject.Kind != "Pod" {
		return record{}, false
	}
	message, combined := strings.CutPrefix(event.Message, combinedPrefix)
	parsed, ok := parseMessage(event.Reason, message)
	if !ok {
		return record{}, false
	}

	parsed.combined = combined
	parsed.count = eventCount(event)
	parsed.time = eventTime(event)
	parsed.container = container{
		namespace: event.InvolvedObject.Namespace,
		pod:       event.InvolvedObject.Name,
		podUID:    string(event.InvolvedObject.UID),
		fieldPath: event.InvolvedObject.FieldPath,
		node:      event.Source.Host,
	}
	if parsed.container.namespace == "" {
		parsed.container.namespace = event.Namespace
	}
	if parsed.container.node == "" {
		parsed.container.node = event.ReportingInstance
	}
	return parsed, true
}

// eventCount returns how many times the event occurred: the larger of count and
// series.count, and at least 1.
func eventCount(event *corev1.Event) int64 {
	count := int64(event.Count)
	if event.Series != nil && int64(event.Series.Count) > count {
		count = int64(event.Series.Count)
	}
	return max(count, 1)
}

// eventTime returns when the event last occurred: lastTimestamp, else the series' last
// observed time, else eventTime, else firstTimestamp. It is zero when none is set.
func eventTime(event *corev1.Event) time.Time {
	switch {
	case !event.LastTimestamp.IsZero():
		return event.LastTimestamp.Time
	case event.Series != nil && !event.Series.LastObservedTime.IsZero():
		return event.Series.LastObservedTime.Time
	case !event.EventTime.IsZero():
		return event.EventTime.Time
	default:
		return event.FirstTimestamp.Time
	}
}

// parseMessage parses the message of an image event with the given reason.
func parseMessage(reason, message string) (record, bool) {
	switch reason {
	case reasonPulling:
		reference, rest, ok := quotedAfter(message, "Pulling image ")
		if !ok || rest != "" {
			return record{}, false
		}
		return record{kind: kindPulling, reference: reference}, true
	case reasonPulled:
		return parsePulled(message)
	case reasonFailed, reasonInspectFailed:
		return parseFailed(message)
	case reasonNeverPull:
		reference, rest, ok := quotedAfter(message, "Container image ")
		if !ok || rest != " is not present with pull policy of Never" {
			return record{}, false
		}
		return record{kind: kindFailed, reference: reference, reason: ReasonErrImageNeverPull,
			message: message}, true
	case reasonBackOff:
		reference, rest, ok := quotedAfter(message, "Back-off pulling image ")
		if !ok || (rest != "" && !strings.HasPrefix(rest, ": ")) {
			return record{}, false
		}
		return record{kind: kindBackOff, reference: reference}, true
	}
	return record{}, false
}

// parsePulled parses `Successfully pulled image "REF" in 3.061s (3.061s including waiting).
// Image size: 12345 bytes.`, its older forms without the parts after the duration, and
// `Container image "REF" already present on machine`.
func parsePulled(message string) (record, bool) {
	if reference, rest, ok := quotedAfter(message, "Container image "); ok {
		if rest != " already present on machine" &&
			rest != " already present on machine and can be accessed by the pod" {
			return record{}, false
		}
		return record{kind: kindAlreadyPresent, reference: reference}, true
	}

	reference, rest, ok := quotedAfter(message, "Successfully pulled image ")
	if !ok {
		return record{}, false
	}
	pulled := record{kind: kindPulled, reference: reference}
	text, found := strings.CutPrefix(rest, " in ")
	if !found {
		return pulled, true
	}
	text, _, _ = strings.Cut(text, " ")
	if duration, err := time.ParseDuration(text); err == nil && duration >= 0 {
		pulled.duration, pulled.hasDuration = duration, true
	}
	return pulled, true
}

// parseFailed parses the failure messages of the reasons Failed and InspectFailed.
func parseFailed(message string) (record, bool) {
	if rest, ok := strings.CutPrefix(message, "Error: "); ok {
		switch rest {
		case ReasonImagePullBackOff:
			return record{kind: kindContainerBackOff}, true
		case ReasonErrImagePull, ReasonInvalidImageName, ReasonErrImageNeverPull,
			ReasonImageInspectError, ReasonRegistryUnavailable,
			ReasonSignatureValidationFailed:
			return record{kind: kindContainerFailed, reason: rest}, true
		}
		// Other `Error:` messages are about creating or starting the container.
		return record{}, false
	}

	prefixes := []struct {
		prefix string
		reason string
	}{
		{"Failed to pull image ", ""},
		{"Failed to inspect image ", ReasonImageInspectError},
		{"Failed to apply default image tag ", ReasonInvalidImageName},
	}
	for _, candidate := range prefixes {
		reference, rest, ok := quotedAfter(message, candidate.prefix)
		if !ok {
			continue
		}
		text, found := strings.CutPrefix(rest, ": ")
		if !found && rest != "" {
			return record{}, false
		}
		reason := candidate.reason
		if reason == "" {
			reason = pullErrorReason(text)
		}
		return record{kind: kindFailed, reference: reference, reason: reason, message: text}, true
	}
	return record{}, false
}

// pullErrorReason classifies the error text of a failed pull as the kubelet does when it
// sets the container's reason: RegistryUnavailable and SignatureValidationFailed when the
// runtime's error starts with them, ErrImagePull otherwise.
func pullErrorReason(text string) string {
	for _, reason := range []string{ReasonRegistryUnavailable, ReasonSignatureValidationFailed} {
		if strings.HasPrefix(text, reason) {
			return reason
		}
	}
	return ReasonErrImagePull
}

// quotedAfter returns the Go-quoted string that follows prefix in message, unquoted, and the
// text after it.
func quotedAfter(message, prefix string) (quoted, rest string, ok bool) {
	after, found := strings.CutPrefix(message, prefix)
	if !found {
		return "", "", false
	}
	literal, err := strconv.QuotedPrefix(after)
	if err != nil {
		return "", "", false
	}
	quoted, err = strconv.Unquote(literal)
	if err != nil {
		return "", "", false
	}
	return quoted, after[len(literal):], true
}
