package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
)

// passwordBlock is a block in state or plan that uses password.
func passwordBlock(server, key, username, password string) registryModel {
	return registryModel{
		Server:            types.StringValue(server),
		RegistryKey:       types.StringValue(key),
		Username:          types.StringValue(username),
		Password:          types.StringValue(password),
		PasswordWO:        types.StringNull(),
		PasswordWOVersion: types.Int64Null(),
		PasswordWOHash:    types.StringNull(),
		Email:             types.StringNull(),
	}
}

// writeOnlyBlock is a block in state that uses password_wo, with the hash of password.
func writeOnlyBlock(t *testing.T, server, key, username, password string) registryModel {
	t.Helper()
	hash, err := newPasswordHash(password)
	if err != nil {
		t.Fatalf("hashing: %v", err)
	}
	block := passwordBlock(server, key, username, "")
	block.Password = types.StringNull()
	block.PasswordWOHash = types.StringValue(hash)
	return block
}

func authEntry(key, username, password, email string) dockerconfig.AuthEntry {
	return dockerconfig.AuthEntry{Key: key, Username: username, Password: password, Email: email}
}

func TestParsePullSecretID(t *testing.T) {
	namespace, name, err := parsePullSecretID("team-a/registry.credentials")
	if err != nil {
		t.Fatalf("valid ID: %v", err)
	}
	if namespace != "team-a" || name != "registry.credentials" {
		t.Errorf("parsed (%q, %q), expected (team-a, registry.credentials)", namespace, name)
	}

	for _, id := range []string{"", "registry", "/registry", "team-a/", "a/b/c", "team-a//x"} {
		if _, _, err := parsePullSecretID(id); err == nil {
			t.Errorf("ID %q: no error, expected one", id)
		} else if !strings.Contains(err.Error(), `"namespace/name"`) {
			t.Errorf("ID %q: error %q does not name the expected format", id, err)
		}
	}
}

func TestCheckPullSecretName(t *testing.T) {
	if err := checkPullSecretName("team-a", "registry.example"); err != nil {
		t.Errorf("valid names: %v", err)
	}
	if err := checkPullSecretName("Team_A", "registry"); err == nil ||
		!strings.Contains(err.Error(), "namespace") {
		t.Errorf("invalid namespace: error = %v, expected one naming the namespace", err)
	}
	if err := checkPullSecretName("team-a", "Registry!"); err == nil ||
		!strings.Contains(err.Error(), "name") {
		t.Errorf("invalid name: error = %v, expected one naming the name", err)
	}
}

func TestDockerConfigEntriesPasswordSource(t *testing.T) {
	planned := []registryModel{
		passwordBlock("https://quay.io/", "quay.io", "robot", "plain"),
		passwordBlock("registry.example.com:5000", "registry.example.com:5000", "ci", ""),
	}
	planned[1].Password = types.StringNull()
	planned[1].Email = types.StringValue("ci@example.com")
	configured := []registryModel{
		passwordBlock("https://quay.io/", "", "robot", "plain"),
		passwordBlock("registry.example.com:5000", "", "ci", ""),
	}
	configured[1].Password = types.StringNull()
	configured[1].PasswordWO = types.StringValue("write-only")

	entries := dockerConfigEntries(planned, configured)

	expected := []dockerconfig.Entry{
		{Server: "quay.io", Username: "robot", Password: "plain"},
		{Server: "registry.example.com:5000", Username: "ci", Password: "write-only",
			Email: "ci@example.com"},
	}
	if !reflect.DeepEqual(entries, expected) {
		t.Errorf("entries = %v, expected %v", entries, expected)
	}
}

func TestEntryCredentialsCoverAuthAndEscapes(t *testing.T) {
	entries := []dockerconfig.Entry{{Server: "quay.io", Username: "u", Password: `p"\&`}}

	credentials := entryCredentials(entries)

	for _, expected := range []string{`p"\&`, "u:" + `p"\&`, `p\"\\\u0026`} {
		found := false
		for _, credential := range credentials {
			found = found || credential == expected
		}
		if !found {
			t.Errorf("credentials lack %q", expected)
		}
	}
	auth := base64.StdEncoding.EncodeToString([]byte("u:" + `p"\&`))
	if got := redact("auth "+auth, credentials...); strings.Contains(got, auth) {
		t.Errorf("the auth value survives redaction: %q", got)
	}
}

func TestNewPullSecret(t *testing.T) {
	plan := pullSecretModel{
		Namespace:   types.StringValue("team-a"),
		Name:        types.StringValue("registry"),
		Labels:      types.MapValueMust(types.StringType, metadataElements("app", "web")),
		Annotations: types.MapNull(types.StringType),
	}

	secret := newPullSecret(plan, []byte(`{"auths":{}}`))

	if secret.Type != corev1.SecretTypeDockerConfigJson {
		t.Errorf("type = %q", secret.Type)
	}
	if string(secret.Data[".dockerconfigjson"]) != `{"auths":{}}` {
		t.Errorf("data = %q", secret.Data)
	}
	if secret.Namespace != "team-a" || secret.Name != "registry" {
		t.Errorf("object = %s/%s", secret.Namespace, secret.Name)
	}
	if !reflect.DeepEqual(secret.Labels, map[string]string{"app": "web"}) {
		t.Errorf("labels = %v", secret.Labels)
	}
	if secret.Annotations != nil {
		t.Errorf("annotations = %v, expected none", secret.Annotations)
	}
}

// metadataElements builds map elements from key, value pairs.
func metadataElements(pairs ...string) map[string]attr.Value {
	elements := map[string]attr.Value{}
	for i := 0; i+1 < len(pairs); i += 2 {
		elements[pairs[i]] = types.StringValue(pairs[i+1])
	}
	return elements
}

func TestApplyOwnedMetadata(t *testing.T) {
	current := map[string]string{"controller": "x", "removed": "1", "kept": "old"}
	prior := types.MapValueMust(types.StringType, metadataElements("removed", "1", "kept", "old"))
	planned := types.MapValueMust(types.StringType, metadataElements("kept", "new", "added", "2"))

	result := applyOwnedMetadata(current, prior, planned)

	expected := map[string]string{"controller": "x", "kept": "new", "added": "2"}
	if !reflect.DeepEqual(result, expected) {
		t.Errorf("metadata = %v, expected %v", result, expected)
	}
	if current["removed"] != "1" {
		t.Errorf("the input map was modified: %v", current)
	}
}

func TestApplyOwnedMetadataEmptyIsNil(t *testing.T) {
	prior := types.MapValueMust(types.StringType, metadataElements("a", "1"))

	if result := applyOwnedMetadata(map[string]string{"a": "1"}, prior,
		types.MapNull(types.StringType)); result != nil {
		t.Errorf("metadata = %v, expected nil", result)
	}
}

func TestOwnedMetadata(t *testing.T) {
	cluster := map[string]string{
		"app": "web", "added-by-controller": "x", lastAppliedAnnotation: `{"data":"secret"}`,
	}

	tracked := ownedMetadata(types.MapValueMust(types.StringType,
		metadataElements("app", "old", "gone", "1")), cluster, false)
	if got := stringMap(tracked); !reflect.DeepEqual(got, map[string]string{"app": "web"}) {
		t.Errorf("tracked keys = %v, expected only app with the cluster's value", got)
	}

	if untracked := ownedMetadata(types.MapNull(types.StringType), cluster, false); !untracked.IsNull() {
		t.Errorf("metadata without configuration = %v, expected null", untracked)
	}

	imported := ownedMetadata(types.MapNull(types.StringType), cluster, true, lastAppliedAnnotation)
	expected := map[string]string{"app": "web", "added-by-controller": "x"}
	if got := stringMap(imported); !reflect.DeepEqual(got, expected) {
		t.Errorf("imported = %v, expected %v", got, expected)
	}

	if none := ownedMetadata(types.MapNull(types.StringType), nil, true); !none.IsNull() {
		t.Errorf("imported without metadata = %v, expected null", none)
	}

	emptied := ownedMetadata(types.MapValueMust(types.StringType, metadataElements("gone", "1")),
		cluster, false)
	if emptied.IsNull() || len(emptied.Elements()) != 0 {
		t.Errorf("tracked keys all removed = %v, expected an empty map", emptied)
	}
}

func TestDecodePullSecret(t *testing.T) {
	document := `{"auths":{"registry.example.com":{"username":"u","password":"p",` +
		`"email":"e@example.com","auth":"dTpw"}}}`
	legacy := `{"https://registry.example.com":{"auth":"dTpw","email":"e@example.com"}}`

	cases := map[string]struct {
		secret   corev1.Secret
		expected []dockerconfig.AuthEntry
		failure  string
	}{
		"dockerconfigjson": {
			secret: corev1.Secret{Type: corev1.SecretTypeDockerConfigJson,
				Data: map[string][]byte{".dockerconfigjson": []byte(document)}},
			expected: []dockerconfig.AuthEntry{
				authEntry("registry.example.com", "u", "p", "e@example.com")},
		},
		"dockercfg": {
			secret: corev1.Secret{Type: corev1.SecretTypeDockercfg,
				Data: map[string][]byte{".dockercfg": []byte(legacy)}},
			expected: []dockerconfig.AuthEntry{
				authEntry("https://registry.example.com", "u", "p", "e@example.com")},
		},
		"missing key": {
			secret:  corev1.Secret{Type: corev1.SecretTypeDockerConfigJson},
			failure: `no ".dockerconfigjson" key`,
		},
		"opaque": {
			secret:  corev1.Secret{Type: corev1.SecretTypeOpaque},
			failure: `type "Opaque"`,
		},
		"invalid JSON": {
			secret: corev1.Secret{Type: corev1.SecretTypeDockerConfigJson,
				Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":`)}},
			failure: "invalid docker config",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			entries, err := decodePullSecret(&tc.secret)

			if tc.failure != "" {
				if err == nil || !strings.Contains(err.Error(), tc.failure) {
					t.Errorf("error = %v, expected one containing %q", err, tc.failure)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for i := range entries {
				entries[i].Extra = nil
			}
			if !reflect.DeepEqual(entries, tc.expected) {
				t.Errorf("entries = %#v, expected %#v", entries, tc.expected)
			}
		})
	}
}

func TestRefreshRegistriesNoDrift(t *testing.T) {
	prior := []registryModel{
		passwordBlock("https://Registry.Example.com/", "registry.example.com", "u", "p"),
		writeOnlyBlock(t, "quay.io", "quay.io", "robot", "token"),
	}
	cluster := []dockerconfig.AuthEntry{
		authEntry("quay.io", "robot", "token", ""),
		authEntry("registry.example.com", "u", "p", ""),
	}

	refreshed, err := refreshRegistries(prior, cluster)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	if !reflect.DeepEqual(refreshed, prior) {
		t.Errorf("refreshed = %+v\nexpected the prior blocks unchanged, server spelling included",
			refreshed)
	}
}

func TestRefreshRegistriesChangedCredentials(t *testing.T) {
	prior := []registryModel{
		passwordBlock("registry.example.com", "registry.example.com", "u", "p"),
		writeOnlyBlock(t, "quay.io", "quay.io", "robot", "token"),
	}
	cluster := []dockerconfig.AuthEntry{
		authEntry("registry.example.com", "other", "changed", "new@example.com"),
		authEntry("quay.io", "robot", "rotated-token", ""),
	}

	refreshed, err := refreshRegistries(prior, cluster)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	plain := refreshed[0]
	if plain.Username.ValueString() != "other" || plain.Password.ValueString() != "changed" ||
		plain.Email.ValueString() != "new@example.com" {
		t.Errorf("password block = %+v, expected the cluster's user, password and email", plain)
	}
	hashed := refreshed[1]
	if !hashed.Password.IsNull() {
		t.Errorf("write-only block got a password in state: %v", hashed.Password)
	}
	if hashed.PasswordWOHash.Equal(prior[1].PasswordWOHash) {
		t.Errorf("hash unchanged although the cluster's password changed")
	}
	if !passwordHashMatches(hashed.PasswordWOHash.ValueString(), "rotated-token") {
		t.Errorf("new hash does not match the cluster's password")
	}

	again, err := refreshRegistries(prior, cluster)
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	if !again[1].PasswordWOHash.Equal(hashed.PasswordWOHash) {
		t.Errorf("refreshing the same password twice gave different hashes, so every " +
			"refresh would show drift")
	}
}

func TestRefreshRegistriesAddedAndRemoved(t *testing.T) {
	prior := []registryModel{
		passwordBlock("gone.example.com", "gone.example.com", "u", "p"),
		passwordBlock("docker.io", "index.docker.io", "u", "p"),
	}
	cluster := []dockerconfig.AuthEntry{
		authEntry("https://index.docker.io/v1/", "u", "p", ""),
		authEntry("added.example.com:5000", "a", "b", "a@example.com"),
	}

	refreshed, err := refreshRegistries(prior, cluster)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	var servers, keys []string
	for _, block := range refreshed {
		servers = append(servers, block.Server.ValueString())
		keys = append(keys, block.RegistryKey.ValueString())
	}
	if !reflect.DeepEqual(servers, []string{"docker.io", "added.example.com:5000"}) {
		t.Errorf("servers = %q, expected the kept block first and the added one after", servers)
	}
	if !reflect.DeepEqual(keys, []string{"index.docker.io", "added.example.com:5000"}) {
		t.Errorf("keys = %q", keys)
	}
	added := refreshed[1]
	if added.Password.ValueString() != "b" || added.Email.ValueString() != "a@example.com" {
		t.Errorf("added block = %+v, expected its password and email", added)
	}
}

// TestRefreshRegistriesImport reads a Secret that `kubectl create secret docker-registry`
// wrote. Every entry is taken as written, with its password in state.
func TestRefreshRegistriesImport(t *testing.T) {
	cluster := []dockerconfig.AuthEntry{
		authEntry("https://registry.example.com/", "u", "p", "u@example.com"),
		authEntry("quay.io/org", "robot", "t", ""),
	}

	refreshed, err := refreshRegistries(nil, cluster)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	expected := []registryModel{
		passwordBlock("https://registry.example.com/", "registry.example.com", "u", "p"),
		passwordBlock("quay.io/org", "quay.io/org", "robot", "t"),
	}
	expected[0].Email = types.StringValue("u@example.com")
	if !reflect.DeepEqual(refreshed, expected) {
		t.Errorf("imported = %+v\nexpected %+v", refreshed, expected)
	}
}

func TestRefreshRegistriesDuplicateKeysInCluster(t *testing.T) {
	prior := []registryModel{passwordBlock("quay.io", "quay.io", "u", "p")}
	cluster := []dockerconfig.AuthEntry{
		authEntry("quay.io", "u", "p", ""),
		authEntry("https://quay.io", "other", "q", ""),
	}

	refreshed, err := refreshRegistries(prior, cluster)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}

	if len(refreshed) != 2 || refreshed[1].Server.ValueString() != "https://quay.io" {
		t.Errorf("refreshed = %+v, expected the second entry as an extra block, so the plan "+
			"removes it", refreshed)
	}
}

func TestPlanRegistryPasswordBlock(t *testing.T) {
	planned := passwordBlock("https://Quay.io/", "", "u", "p")
	planned.RegistryKey = types.StringUnknown()
	planned.PasswordWOHash = types.StringUnknown()

	block := planRegistry(planned, planned, nil)

	if block.RegistryKey.ValueString() != "quay.io" {
		t.Errorf("registry_key = %v, expected quay.io", block.RegistryKey)
	}
	if !block.PasswordWOHash.IsNull() {
		t.Errorf("password_wo_hash = %v, expected null", block.PasswordWOHash)
	}
	if block.Password.ValueString() != "p" {
		t.Errorf("password = %v, expected the configured one", block.Password)
	}
}

func TestPlanRegistryUnknownServer(t *testing.T) {
	planned := passwordBlock("", "", "u", "p")
	planned.Server = types.StringUnknown()

	block := planRegistry(planned, planned, nil)

	if !block.RegistryKey.IsUnknown() {
		t.Errorf("registry_key = %v, expected unknown", block.RegistryKey)
	}
}

// writeOnlyPlan returns a planned block and its configuration for password_wo = password.
func writeOnlyPlan(password string, version types.Int64) (registryModel, registryModel) {
	configured := passwordBlock("quay.io", "", "robot", "")
	configured.RegistryKey = types.StringNull()
	configured.Password = types.StringNull()
	configured.PasswordWO = types.StringValue(password)
	configured.PasswordWOVersion = version
	configured.PasswordWOHash = types.StringNull()

	planned := configured
	planned.PasswordWO = types.StringNull()
	planned.Password = types.StringUnknown()
	planned.PasswordWOHash = types.StringUnknown()
	planned.RegistryKey = types.StringUnknown()
	return planned, configured
}

func TestPlanRegistryWriteOnly(t *testing.T) {
	prior := []registryModel{writeOnlyBlock(t, "quay.io", "quay.io", "robot", "token")}
	prior[0].PasswordWOVersion = types.Int64Value(1)

	cases := map[string]struct {
		password     string
		version      types.Int64
		prior        []registryModel
		keepsHash    bool
		expectedHash string
	}{
		"unchanged":          {"token", types.Int64Value(1), prior, true, ""},
		"changed password":   {"new-token", types.Int64Value(1), prior, false, "unknown"},
		"new version":        {"token", types.Int64Value(2), prior, false, "unknown"},
		"version removed":    {"token", types.Int64Null(), prior, false, "unknown"},
		"new block":          {"token", types.Int64Value(1), nil, false, "unknown"},
		"drifted in cluster": {"token", types.Int64Value(1), driftedPrior(t, prior), false, "unknown"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			planned, configured := writeOnlyPlan(tc.password, tc.version)

			block := planRegistry(planned, configured, tc.prior)

			if !block.Password.IsNull() {
				t.Errorf("password = %v, expected null", block.Password)
			}
			if tc.keepsHash && !block.PasswordWOHash.Equal(tc.prior[0].PasswordWOHash) {
				t.Errorf("password_wo_hash = %v, expected the hash in state", block.PasswordWOHash)
			}
			if !tc.keepsHash && !block.PasswordWOHash.IsUnknown() {
				t.Errorf("password_wo_hash = %v, expected unknown until apply", block.PasswordWOHash)
			}
		})
	}
}

// driftedPrior returns prior as Read leaves it when the cluster's password changed.
func driftedPrior(t *testing.T, prior []registryModel) []registryModel {
	t.Helper()
	refreshed, err := refreshRegistries(prior,
		[]dockerconfig.AuthEntry{authEntry("quay.io", "robot", "changed-in-cluster", "")})
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	return refreshed
}

// TestPlanRegistryWriteOnlyAfterImport checks that an imported block, which has its password
// in state, plans no change when password_wo has the same value.
func TestPlanRegistryWriteOnlyAfterImport(t *testing.T) {
	prior := []registryModel{passwordBlock("quay.io", "quay.io", "robot", "token")}

	planned, configured := writeOnlyPlan("token", types.Int64Null())
	block := planRegistry(planned, configured, prior)
	if block.Password.ValueString() != "token" || !block.PasswordWOHash.IsNull() {
		t.Errorf("matching password: password = %v, hash = %v; expected state kept",
			block.Password, block.PasswordWOHash)
	}

	planned, configured = writeOnlyPlan("other", types.Int64Null())
	block = planRegistry(planned, configured, prior)
	if !block.Password.IsNull() || !block.PasswordWOHash.IsUnknown() {
		t.Errorf("different password: password = %v, hash = %v; expected null and unknown",
			block.Password, block.PasswordWOHash)
	}
}

func TestPlanRegistryWriteOnlyUnknown(t *testing.T) {
	planned, configured := writeOnlyPlan("", types.Int64Null())
	configured.PasswordWO = types.StringUnknown()

	block := planRegistry(planned, configured, nil)

	if !block.PasswordWOHash.IsUnknown() || !block.Password.IsNull() {
		t.Errorf("hash = %v, password = %v; expected unknown and null",
			block.PasswordWOHash, block.Password)
	}
}

func TestCompleteRegistriesHashesNewPasswords(t *testing.T) {
	planned, configured := writeOnlyPlan("token", types.Int64Null())
	planned = planRegistry(planned, configured, nil)

	completed, err := completeRegistries([]registryModel{planned}, []registryModel{configured})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}

	hash := completed[0].PasswordWOHash
	if hash.IsUnknown() || !passwordHashMatches(hash.ValueString(), "token") {
		t.Errorf("password_wo_hash = %v, expected a hash of the configured password", hash)
	}
	if completed[0].RegistryKey.ValueString() != "quay.io" {
		t.Errorf("registry_key = %v", completed[0].RegistryKey)
	}
}

func TestPasswordHash(t *testing.T) {
	hash, err := newPasswordHash("pässwörd {}\":\\&")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}

	if !strings.HasPrefix(hash, "pbkdf2-sha256$"+strconv.Itoa(passwordHashIterations)+"$") {
		t.Errorf("hash %q lacks the scheme and iteration count", hash)
	}
	if strings.Contains(hash, "pässwörd") {
		t.Errorf("hash contains the password")
	}
	if !passwordHashMatches(hash, "pässwörd {}\":\\&") {
		t.Errorf("hash does not match its password")
	}
	if passwordHashMatches(hash, "pässwörd {}\":\\") {
		t.Errorf("hash matches a different password")
	}

	other, err := newPasswordHash("pässwörd {}\":\\&")
	if err != nil {
		t.Fatalf("second hash: %v", err)
	}
	if other == hash {
		t.Errorf("two hashes of one password are equal, so the salt is not random")
	}

	rehashed, err := rehashPassword(hash, "pässwörd {}\":\\&")
	if err != nil || rehashed != hash {
		t.Errorf("rehash with the same salt = %q, %v; expected %q", rehashed, err, hash)
	}
}

// BenchmarkPasswordHashMatches measures one check of a write-only password against its hash
// at passwordHashIterations. A plan runs it about twice per write-only registry block, once
// when Read compares the cluster's password and once when ModifyPlan compares the
// configured one.
func BenchmarkPasswordHashMatches(b *testing.B) {
	hash, err := newPasswordHash("robot-token")
	if err != nil {
		b.Fatalf("hash: %v", err)
	}
	for b.Loop() {
		if !passwordHashMatches(hash, "robot-token") {
			b.Fatal("hash does not match its password")
		}
	}
}

func TestPasswordHashOtherIterationCount(t *testing.T) {
	// 600,000 was the count for new hashes before, so state may still contain such hashes.
	salt := []byte("0123456789abcdef")
	hash, err := hashPassword("robot-token", salt, 600_000)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}

	if !passwordHashMatches(hash, "robot-token") {
		t.Errorf("a hash with 600000 iterations does not match its password")
	}
	if passwordHashMatches(hash, "robot-token2") {
		t.Errorf("a hash with 600000 iterations matches a different password")
	}
	rehashed, err := rehashPassword(hash, "changed-token")
	if err != nil {
		t.Fatalf("rehash: %v", err)
	}
	if !strings.HasPrefix(rehashed, "pbkdf2-sha256$600000$") {
		t.Errorf("rehash %q does not keep the hash's iteration count", rehashed)
	}
}

func TestPasswordHashMalformed(t *testing.T) {
	for _, encoded := range []string{"", "sha256$1$a$b", "pbkdf2-sha256$x$AAAA$AAAA",
		"pbkdf2-sha256$0$AAAA$AAAA", "pbkdf2-sha256$1$!!$AAAA", "pbkdf2-sha256$1$AAAA"} {
		if passwordHashMatches(encoded, "") {
			t.Errorf("malformed hash %q matches", encoded)
		}
	}

	replaced, err := rehashPassword("garbage", "token")
	if err != nil || !passwordHashMatches(replaced, "token") {
		t.Errorf("rehash of a malformed hash = %q, %v; expected a new valid hash", replaced, err)
	}
}

func pullSecretFixture(secretType corev1.SecretType, key string, document string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   "team-a",
			Name:        "registry",
			Labels:      map[string]string{"app": "web"},
			Annotations: map[string]string{lastAppliedAnnotation: `{"data":"x"}`, "note": "n"},
		},
		Type: secretType,
		Data: map[string][]byte{key: []byte(document)},
	}
}

func TestSecretMatchesEntries(t *testing.T) {
	kubectlAuth := func(username, password, email string) map[string]any {
		entry := map[string]any{
			"username": username, "password": password,
			"auth": base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
		}
		if email != "" {
			entry["email"] = email
		}
		return entry
	}
	hub := kubectlAuth("robot", "p{a}ss:w\\ö", "robot@example.com")
	hub["identitytoken"] = "ignored"
	quay := kubectlAuth("team+puller", "token", "")
	planned := []dockerconfig.Entry{
		{Server: "index.docker.io", Username: "robot", Password: "p{a}ss:w\\ö",
			Email: "robot@example.com"},
		{Server: "quay.io", Username: "team+puller", Password: "token"},
	}
	changed := func(change func(*dockerconfig.Entry)) []dockerconfig.Entry {
		entries := append([]dockerconfig.Entry(nil), planned...)
		change(&entries[1])
		return entries
	}
	encode := func(auths map[string]any) string {
		document, err := json.Marshal(map[string]any{"auths": auths})
		if err != nil {
			t.Fatalf("encoding: %v", err)
		}
		return string(document)
	}
	current := encode(map[string]any{"https://index.docker.io/v1/": hub, "quay.io:443": quay})

	cases := map[string]struct {
		secret  *corev1.Secret
		entries []dockerconfig.Entry
		holds   bool
	}{
		"same registries spelled differently": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: planned, holds: true,
		},
		"changed password": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: changed(func(e *dockerconfig.Entry) { e.Password = "token2" }),
		},
		"changed username": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: changed(func(e *dockerconfig.Entry) { e.Username = "team+other" }),
		},
		"added email": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: changed(func(e *dockerconfig.Entry) { e.Email = "team@example.com" }),
		},
		"other registry": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: changed(func(e *dockerconfig.Entry) { e.Server = "ghcr.io" }),
		},
		"registry removed from the plan": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: planned[:1],
		},
		"registry added to the plan": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, current),
			entries: append(append([]dockerconfig.Entry(nil), planned...),
				dockerconfig.Entry{Server: "ghcr.io", Username: "u", Password: "p"}),
		},
		"two keys for one registry": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, encode(map[string]any{
					"https://index.docker.io/v1/": hub, "docker.io": hub})),
			entries: []dockerconfig.Entry{planned[0], planned[0]},
		},
		"undecodable data": {
			secret: pullSecretFixture(corev1.SecretTypeDockerConfigJson,
				corev1.DockerConfigJsonKey, `{"auths":`),
			entries: planned,
		},
		"no dockerconfigjson key": {
			secret:  pullSecretFixture(corev1.SecretTypeDockerConfigJson, "other", current),
			entries: planned,
		},
		"legacy type": {
			secret: pullSecretFixture(corev1.SecretTypeDockercfg,
				corev1.DockerConfigJsonKey, current),
			entries: planned,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := secretMatchesEntries(tc.secret, tc.entries); got != tc.holds {
				t.Errorf("secretMatchesEntries = %t, expected %t", got, tc.holds)
			}
		})
	}
}

func importedModel() pullSecretModel {
	return pullSecretModel{
		ID:                  types.StringValue("team-a/registry"),
		Namespace:           types.StringValue("team-a"),
		Name:                types.StringValue("registry"),
		Labels:              types.MapNull(types.StringType),
		Annotations:         types.MapNull(types.StringType),
		Type:                types.StringNull(),
		LinkServiceAccounts: types.SetNull(types.StringType),
		Registries:          types.ListNull(registryObjectType),
	}
}

func TestFlattenPullSecretImport(t *testing.T) {
	ctx := context.Background()
	document, err := json.Marshal(map[string]any{"auths": map[string]any{
		"https://registry.example.com/": map[string]string{
			"username": "u", "password": "p", "email": "u@example.com",
			"auth": base64.StdEncoding.EncodeToString([]byte("u:p")),
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	model := importedModel()

	diags := flattenPullSecret(ctx, &model,
		pullSecretFixture(corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", string(document)))
	if diags.HasError() {
		t.Fatalf("flatten: %v", diags)
	}

	blocks, _ := registryBlocks(ctx, model.Registries)
	if len(blocks) != 1 || blocks[0].Server.ValueString() != "https://registry.example.com/" ||
		blocks[0].Password.ValueString() != "p" {
		t.Errorf("registries = %+v", blocks)
	}
	if model.Type.ValueString() != secretTypeDockerConfigJSON {
		t.Errorf("type = %v", model.Type)
	}
	if got := stringMap(model.Labels); !reflect.DeepEqual(got, map[string]string{"app": "web"}) {
		t.Errorf("labels = %v", got)
	}
	if got := stringMap(model.Annotations); !reflect.DeepEqual(got, map[string]string{"note": "n"}) {
		t.Errorf("annotations = %v, expected the last-applied annotation left out", got)
	}
}

func TestFlattenPullSecretLegacyImport(t *testing.T) {
	model := importedModel()
	legacy := `{"quay.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("u:p")) + `"}}`

	diags := flattenPullSecret(context.Background(), &model,
		pullSecretFixture(corev1.SecretTypeDockercfg, ".dockercfg", legacy))
	if diags.HasError() {
		t.Fatalf("flatten: %v", diags)
	}

	if model.Type.ValueString() != secretTypeDockerCfg {
		t.Errorf("type = %v, expected the legacy type so that the plan replaces it", model.Type)
	}
}

func TestFlattenPullSecretImportRejectsOpaque(t *testing.T) {
	model := importedModel()

	diags := flattenPullSecret(context.Background(), &model,
		pullSecretFixture(corev1.SecretTypeOpaque, "token", "x"))

	if !diags.HasError() || !strings.Contains(diags[0].Detail(), `"Opaque"`) {
		t.Errorf("diagnostics = %v, expected an error naming the type", diags)
	}
}

func TestFlattenPullSecretUnreadableDataWarns(t *testing.T) {
	ctx := context.Background()
	model := importedModel()
	list, _ := registryList(ctx, []registryModel{passwordBlock("quay.io", "quay.io", "u", "p")})
	model.Registries = list

	diags := flattenPullSecret(ctx, &model,
		pullSecretFixture(corev1.SecretTypeDockerConfigJson, ".dockerconfigjson", "not json"))

	if diags.HasError() || diags.WarningsCount() != 1 {
		t.Fatalf("diagnostics = %v, expected one warning", diags)
	}
	if model.Registries.IsNull() || len(model.Registries.Elements()) != 0 {
		t.Errorf("registries = %v, expected an empty list so the plan writes them again",
			model.Registries)
	}
	if strings.Contains(diags[0].Detail(), "not json") {
		t.Errorf("the warning quotes the Secret's data: %q", diags[0].Detail())
	}
}
