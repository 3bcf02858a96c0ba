package kube

import (
	"context"
	"encoding/json"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// CreateOnce sends create and makes a retried create idempotent. When the API server
// handled an earlier attempt whose response was lost, the retry meets 409 AlreadyExists
// for the object that the earlier attempt wrote. CreateOnce then reads the object with get
// and returns it, with adopted set, when an earlier attempt may have reached the server and
// the object contains every field of sent with the same value. Otherwise it returns the
// AlreadyExists error, because the object may be someone else's. When ctx is cancelled
// before the response arrives, CreateOnce also reads the object and returns it, with
// adopted set, when it contains every field of sent.
func CreateOnce[T runtime.Object](
	ctx context.Context, sent T,
	create func(ctx context.Context) (T, error), get func(ctx context.Context) (T, error),
) (result T, adopted bool, err error) {
	recordContext, record := WithAttemptRecord(ctx)
	result, err = create(recordContext)
	if Interrupted(ctx, err) {
		// The object may exist although the response was lost. Returning it lets the
		// caller record it in state, so the next apply does not meet AlreadyExists.
		if existing, found := findInterruptedWrite(ctx, sent, get); found {
			return existing, true, nil
		}
		return result, false, err
	}
	if !apierrors.IsAlreadyExists(err) || !record.EarlierAttemptMayHaveReachedServer() {
		return result, false, err
	}

	existing, getErr := get(ctx)
	if getErr != nil {
		return result, false, err
	}
	matches, matchErr := MatchesSent(sent, existing)
	if matchErr != nil || !matches {
		return result, false, err
	}
	return existing, true, nil
}

// MatchesSent reports whether every field set in sent has the same value in existing. Fields
// that the server or a controller added, such as defaults, status and the server-set
// metadata, are ignored. The data and binaryData maps of Secrets and ConfigMaps must be
// equal, because a key that sent lacks is content that this request did not write.
func MatchesSent(sent, existing runtime.Object) (bool, error) {
	sentFields, err := toFields(sent)
	if err != nil {
		return false, err
	}
	existingFields, err := toFields(existing)
	if err != nil {
		return false, err
	}
	// Controllers write status, and a create request's status is ignored by the server.
	// The endpoint fixes the kind, which typed clients drop from the objects they return.
	for _, ignored := range []string{"status", "kind", "apiVersion"} {
		delete(sentFields, ignored)
	}
	for _, exact := range []string{"data", "binaryData"} {
		if _, ok := sentFields[exact]; ok &&
			!reflect.DeepEqual(sentFields[exact], existingFields[exact]) {
			return false, nil
		}
	}

	// Neither the server nor admission sets these on a new object. A value that sent lacks
	// means that someone else wrote the object, with an owner whose deletion removes it, a
	// deletion in progress, or content that no update can change.
	for _, exact := range [][]string{
		{"metadata", "ownerReferences"}, {"metadata", "deletionTimestamp"}, {"immutable"},
	} {
		sentValue, _, _ := unstructured.NestedFieldNoCopy(sentFields, exact...)
		existingValue, _, _ := unstructured.NestedFieldNoCopy(existingFields, exact...)
		if !reflect.DeepEqual(sentValue, existingValue) {
			return false, nil
		}
	}
	return containsFields(sentFields, existingFields), nil
}

// toFields returns the JSON fields of object. A JSON round trip gives both sides the same
// number types, which an unstructured object built in Go (int) and one decoded from the
// server (int64) do not share.
func toFields(object runtime.Object) (map[string]any, error) {
	data, err := json.Marshal(object)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	return fields, nil
}

// containsFields reports whether existing has every non-empty value of sent. Lists must have
// the same length, and each element must contain the sent element.
func containsFields(sent, existing any) bool {
	switch sentValue := sent.(type) {
	case nil:
		return true
	case map[string]any:
		existingMap, ok := existing.(map[string]any)
		if !ok {
			return len(sentValue) == 0
		}
		for key, value := range sentValue {
			if !containsFields(value, existingMap[key]) {
				return false
			}
		}
		return true
	case []any:
		existingList, ok := existing.([]any)
		if !ok || len(existingList) != len(sentValue) {
			return len(sentValue) == 0 && existing == nil
		}
		for i := range sentValue {
			if !containsFields(sentValue[i], existingList[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(sent, existing)
	}
}
