package provider

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

const (
	secretTypeDockerConfigJSON = string(corev1.SecretTypeDockerConfigJson)
	secretTypeDockerCfg        = string(corev1.SecretTypeDockercfg)
	// secretTypeReplace is the type that Read records for a Secret that only a replacement
	// can bring in line with the configuration: one deleted outside Terraform, or being
	// deleted, while service accounts still list it, and one made immutable. Like a legacy
	// type, it makes the plan replace the resource, so that apply creates the Secret and
	// destroy unlinks the accounts.
	secretTypeReplace = ""

	// lastAppliedAnnotation is the annotation in which `kubectl apply` keeps a copy of the
	// object it applied, Secret data included, so it is never read into state.
	lastAppliedAnnotation = corev1.LastAppliedConfigAnnotation
)

// pullSecretModel is the configuration, plan and state of imagedist_pull_secret.
type pullSecretModel struct {
	ID                  types.String   `tfsdk:"id"`
	Namespace           types.String   `tfsdk:"namespace"`
	Name                types.String   `tfsdk:"name"`
	Labels              types.Map      `tfsdk:"labels"`
	Annotations         types.Map      `tfsdk:"annotations"`
	Type                types.String   `tfsdk:"type"`
	LinkServiceAccounts types.Set      `tfsdk:"link_service_accounts"`
	Registries          types.List     `tfsdk:"registry"`
	Timeouts            timeouts.Value `tfsdk:"timeouts"`
}

// registryModel is one registry block.
//
// A block in state carries its password in one of two forms: Password for blocks configured
// with password (and for blocks read by import), or PasswordWOHash for blocks configured with
// password_wo. Read compares the cluster's password with whichever form the block has.
type registryModel struct {
	Server            types.String `tfsdk:"server"`
	RegistryKey       types.String `tfsdk:"registry_key"`
	Username          types.String `tfsdk:"username"`
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
	PasswordWOHash    types.String `tfsdk:"password_wo_hash"`
	Email             types.String `tfsdk:"email"`
}

var registryObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"server":              types.StringType,
	"registry_key":        types.StringType,
	"username":            types.StringType,
	"password":            types.StringType,
	"password_wo":         types.StringType,
	"password_wo_version": types.Int64Type,
	"password_wo_hash":    types.StringType,
	"email":               types.StringType,
}}

func pullSecretID(namespace, name string) string {
	return namespace + "/" + name
}

// parsePullSecretID splits an import ID of the form "namespace/name".
func parsePullSecretID(id string) (namespace, name string, err error) {
	namespace, name, found := strings.Cut(id, "/")
	if !found || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("the import ID %q is not of the form \"namespace/name\", "+
			"such as \"team-a/registry-credentials\"", id)
	}
	return namespace, name, nil
}

// registryBlocks converts the registry list of a plan, state or configuration. It returns nil
// for a null or unknown list.
func registryBlocks(ctx context.Context, list types.List) ([]registryModel, diag.Diagnostics) {
	if list.IsNull() || list.IsUnknown() {
		return nil, nil
	}
	var blocks []registryModel
	diags := list.ElementsAs(ctx, &blocks, false)
	return blocks, diags
}

func registryList(ctx context.Context, blocks []registryModel) (types.List, diag.Diagnostics) {
	return types.ListValueFrom(ctx, registryObjectType, blocks)
}

// registryKeyOf normalizes a server read from the cluster. A key that RegistryKey rejects,
// such as one scoped to a repository path, is compared as written.
func registryKeyOf(server string) string {
	key, err := imageref.RegistryKey(server)
	if err != nil {
		return server
	}
	return key
}

// dockerConfigEntries pairs each planned block with the password from the configuration,
// which is the only place a write-only password is available. Both lists have the same order.
func dockerConfigEntries(planned, configured []registryModel) []dockerconfig.Entry {
	entries := make([]dockerconfig.Entry, len(planned))
	for i, block := range planned {
		password := configured[i].Password
		if password.IsNull() {
			password = configured[i].PasswordWO
		}
		entries[i] = dockerconfig.Entry{
			Server:   block.RegistryKey.ValueString(),
			Username: block.Username.ValueString(),
			Password: password.ValueString(),
			Email:    block.Email.ValueString(),
		}
	}
	return entries
}

// entryCredentials lists the forms in which the entries' credentials could appear in an
// error message. They are each password as written and JSON-escaped, and each
// "username:password" pair, whose base64 form is the "auth" field.
func entryCredentials(entries []dockerconfig.Entry) []string {
	var credentials []string
	for _, entry := range entries {
		escaped, _ := json.Marshal(entry.Password)
		credentials = append(credentials,
			entry.Username+":"+entry.Password,
			entry.Password,
			strings.Trim(string(escaped), `"`))
	}
	return credentials
}

func registryKeys(entries []dockerconfig.Entry) []string {
	keys := make([]string, len(entries))
	for i, entry := range entries {
		keys[i] = entry.Server
	}
	return keys
}

// newPullSecret builds the Secret for a plan and its encoded .dockerconfigjson.
func newPullSecret(plan pullSecretModel, document []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   plan.Namespace.ValueString(),
			Name:        plan.Name.ValueString(),
			Labels:      stringMap(plan.Labels),
			Annotations: stringMap(plan.Annotations),
		},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: document},
	}
}

// applyOwnedMetadata brings the labels or annotations of an existing object in line with
// the plan. Keys that left the configuration are removed and planned keys are set, while
// keys that Terraform never managed stay.
func applyOwnedMetadata(current map[string]string, prior, planned types.Map) map[string]string {
	result := make(map[string]string, len(current))
	for key, value := range current {
		result[key] = value
	}
	for key := range stringMap(prior) {
		delete(result, key)
	}
	for key, value := range stringMap(planned) {
		result[key] = value
	}
	if len(result) == 0 {
		return nil
	}
	return result
}

// ownedMetadata returns the part of the cluster's labels or annotations that state tracks,
// which is only the keys that state already has, so keys added by others never show as
// drift. On import every key is taken, except those in skip.
func ownedMetadata(prior types.Map, cluster map[string]string, imported bool,
	skip ...string) types.Map {
	owned := map[string]attr.Value{}
	switch {
	case imported:
		for key, value := range cluster {
			if !slices.Contains(skip, key) {
				owned[key] = types.StringValue(value)
			}
		}
		if len(owned) == 0 {
			return types.MapNull(types.StringType)
		}
	case prior.IsNull() || prior.IsUnknown():
		return types.MapNull(types.StringType)
	default:
		for key := range prior.Elements() {
			if value, ok := cluster[key]; ok {
				owned[key] = types.StringValue(value)
			}
		}
	}
	return types.MapValueMust(types.StringType, owned)
}

// decodePullSecret returns the registries of a dockerconfigjson or legacy dockercfg Secret.
func decodePullSecret(secret *corev1.Secret) ([]dockerconfig.AuthEntry, error) {
	switch secret.Type {
	case corev1.SecretTypeDockerConfigJson:
		document, ok := secret.Data[corev1.DockerConfigJsonKey]
		if !ok {
			return nil, fmt.Errorf("the Secret has no %q key", corev1.DockerConfigJsonKey)
		}
		return decodedEntries(dockerconfig.Decode(document))
	case corev1.SecretTypeDockercfg:
		document, ok := secret.Data[corev1.DockerConfigKey]
		if !ok {
			return nil, fmt.Errorf("the Secret has no %q key", corev1.DockerConfigKey)
		}
		return decodedEntries(dockerconfig.DecodeLegacy(document))
	default:
		return nil, fmt.Errorf("the Secret has type %q, but a pull secret has type %q or %q",
			secret.Type, secretTypeDockerConfigJSON, secretTypeDockerCfg)
	}
}

// flattenPullSecret refreshes model from the Secret read from the cluster. A model without
// registry blocks comes from import, so its blocks and metadata are all taken from the
// Secret, and a Secret that is not a pull secret is an error. For a managed Secret, data that
// cannot be decoded is a warning and leaves no registries in state, so the next apply writes
// the Secret again.
func flattenPullSecret(ctx context.Context, model *pullSecretModel, secret *corev1.Secret,
) diag.Diagnostics {
	var diags diag.Diagnostics
	imported := model.Registries.IsNull()
	id := pullSecretID(secret.Namespace, secret.Name)

	entries, err := decodePullSecret(secret)
	switch {
	case err != nil && imported:
		diags.AddError("Unable to Import Pull Secret",
			fmt.Sprintf("Secret %q cannot be read as a pull secret: %v. Import a Secret of "+
				"type %q or %q.", id, err, secretTypeDockerConfigJSON, secretTypeDockerCfg))
		return diags
	case err != nil:
		diags.AddWarning("Pull Secret Data Not Readable",
			fmt.Sprintf("The registries in Secret %q cannot be read: %v. The plan shows every "+
				"registry block as new, and the next apply writes the Secret again from "+
				"the configuration.", id, err))
		entries = nil
	}

	prior, blockDiags := registryBlocks(ctx, model.Registries)
	diags.Append(blockDiags...)
	refreshed, err := refreshRegistries(prior, entries)
	if err != nil {
		diags.AddError("Unable to Hash Write-Only Password", err.Error())
	}
	if diags.HasError() {
		return diags
	}
	if refreshed == nil {
		refreshed = []registryModel{}
	}
	list, listDiags := registryList(ctx, refreshed)
	diags.Append(listDiags...)

	model.Registries = list
	model.ID = types.StringValue(id)
	model.Namespace = types.StringValue(secret.Namespace)
	model.Name = types.StringValue(secret.Name)
	model.Type = types.StringValue(string(secret.Type))
	model.Labels = ownedMetadata(model.Labels, secret.Labels, imported)
	model.Annotations = ownedMetadata(model.Annotations, secret.Annotations, imported,
		lastAppliedAnnotation)
	return diags
}

// secretMatchesEntries reports whether the Secret's .dockerconfigjson has exactly the given
// registries: one entry per registry key, with the same user name, password and email. The
// spelling of the keys, the layout of the JSON and fields that the kubelet does not read,
// such as "identitytoken", are not compared.
func secretMatchesEntries(secret *corev1.Secret, entries []dockerconfig.Entry) bool {
	if secret.Type != corev1.SecretTypeDockerConfigJson {
		return false
	}
	document, ok := secret.Data[corev1.DockerConfigJsonKey]
	if !ok {
		return false
	}
	config, err := dockerconfig.Decode(document)
	if err != nil || len(config.Entries()) != len(entries) {
		return false
	}

	byKey := map[string]dockerconfig.AuthEntry{}
	for _, entry := range config.Entries() {
		key := registryKeyOf(entry.Key)
		if _, duplicate := byKey[key]; duplicate {
			return false
		}
		byKey[key] = entry
	}
	for _, entry := range entries {
		key := registryKeyOf(entry.Server)
		current, ok := byKey[key]
		if !ok || current.Username != entry.Username || current.Password != entry.Password ||
			current.Email != entry.Email {
			return false
		}
		delete(byKey, key)
	}
	return true
}

func decodedEntries(document *dockerconfig.Config, err error) ([]dockerconfig.AuthEntry, error) {
	if err != nil {
		return nil, err
	}
	return document.Entries(), nil
}

// refreshRegistries compares the registries read from the cluster with the blocks in state,
// by registry key, and returns the blocks that describe the cluster.
//
// A block whose registry is gone is dropped, and a registry that state does not have is
// appended, so the next plan shows both. A matched block keeps the server as the user wrote
// it and takes the user name, email and password from the cluster. The password keeps the
// block's form. Password takes the cluster's password. A hash that no longer matches becomes
// the hash of the cluster's password with the same salt, so the plan shows a changed
// sensitive value without the value itself. Without prior blocks, as after import, every
// registry is taken with its password in Password.
func refreshRegistries(prior []registryModel, cluster []dockerconfig.AuthEntry) (
	[]registryModel, error) {
	used := make([]bool, len(cluster))
	var refreshed []registryModel
	for _, block := range prior {
		index := findEntry(cluster, used, block.RegistryKey.ValueString())
		if index < 0 {
			continue
		}
		used[index] = true
		updated, err := refreshRegistry(block, cluster[index])
		if err != nil {
			return nil, err
		}
		refreshed = append(refreshed, updated)
	}

	for i, entry := range cluster {
		if !used[i] {
			refreshed = append(refreshed, importedRegistry(entry))
		}
	}
	return refreshed, nil
}

// findEntry returns the index of the first unused entry with the given registry key, or -1.
func findEntry(entries []dockerconfig.AuthEntry, used []bool, key string) int {
	for i, entry := range entries {
		if !used[i] && registryKeyOf(entry.Key) == key {
			return i
		}
	}
	return -1
}

func refreshRegistry(block registryModel, entry dockerconfig.AuthEntry) (registryModel, error) {
	block.Username = types.StringValue(entry.Username)
	block.Email = optionalString(entry.Email)
	block.PasswordWO = types.StringNull()

	switch {
	case !block.PasswordWOHash.IsNull():
		encoded := block.PasswordWOHash.ValueString()
		if passwordHashMatches(encoded, entry.Password) {
			return block, nil
		}
		rehashed, err := rehashPassword(encoded, entry.Password)
		if err != nil {
			return registryModel{}, err
		}
		block.PasswordWOHash = types.StringValue(rehashed)
	default:
		block.Password = types.StringValue(entry.Password)
	}
	return block, nil
}

// importedRegistry describes a registry that state does not have yet. Its server is the key
// as the Secret spells it.
func importedRegistry(entry dockerconfig.AuthEntry) registryModel {
	return registryModel{
		Server:            types.StringValue(entry.Key),
		RegistryKey:       types.StringValue(registryKeyOf(entry.Key)),
		Username:          types.StringValue(entry.Username),
		Password:          types.StringValue(entry.Password),
		PasswordWO:        types.StringNull(),
		PasswordWOVersion: types.Int64Null(),
		PasswordWOHash:    types.StringNull(),
		Email:             optionalString(entry.Email),
	}
}

// planRegistries fills in the computed attributes of each planned block, given the block's
// configuration (the only source of password_wo) and the blocks in state.
func planRegistries(planned, configured, prior []registryModel) []registryModel {
	result := make([]registryModel, len(planned))
	for i, block := range planned {
		result[i] = planRegistry(block, configured[i], prior)
	}
	return result
}

func planRegistry(block, configured registryModel, prior []registryModel) registryModel {
	block.RegistryKey = types.StringUnknown()
	var previous *registryModel
	if !block.Server.IsUnknown() && !block.Server.IsNull() {
		if key, err := imageref.RegistryKey(block.Server.ValueString()); err == nil {
			block.RegistryKey = types.StringValue(key)
			previous = findBlock(prior, key)
		}
	}

	writeOnly := configured.PasswordWO
	if !configured.Password.IsNull() {
		// The framework already planned the configured password, and no hash is kept for it.
		block.PasswordWOHash = types.StringNull()
		return block
	}
	block.Password = types.StringNull()
	block.PasswordWOHash = types.StringUnknown()

	switch {
	case writeOnly.IsNull():
		block.PasswordWOHash = types.StringNull()
	case writeOnly.IsUnknown() || previous == nil:
		// A password not known yet, or a new registry, is hashed during apply.
	case !previous.PasswordWOVersion.Equal(configured.PasswordWOVersion):
		// A new version means "write the password again", even when it is unchanged.
	case !previous.PasswordWOHash.IsNull():
		if passwordHashMatches(previous.PasswordWOHash.ValueString(), writeOnly.ValueString()) {
			block.PasswordWOHash = previous.PasswordWOHash
		}
	case previous.Password.ValueString() == writeOnly.ValueString():
		// An imported block keeps the password that import read, so that a configuration
		// that matches the cluster plans no change.
		block.Password = previous.Password
		block.PasswordWOHash = types.StringNull()
	}
	return block
}

// findBlock returns the block in state with the given registry key, or nil.
func findBlock(blocks []registryModel, key string) *registryModel {
	for i := range blocks {
		if blocks[i].RegistryKey.ValueString() == key {
			return &blocks[i]
		}
	}
	return nil
}

// completeRegistries computes the values that the plan left unknown for the apply, such as
// the hash of each write-only password that changed, which gets a new salt.
func completeRegistries(planned, configured []registryModel) ([]registryModel, error) {
	result := make([]registryModel, len(planned))
	for i, block := range planned {
		if block.RegistryKey.IsUnknown() {
			block.RegistryKey = types.StringValue(registryKeyOf(block.Server.ValueString()))
		}
		if block.PasswordWOHash.IsUnknown() {
			hash, err := newPasswordHash(configured[i].PasswordWO.ValueString())
			if err != nil {
				return nil, err
			}
			block.PasswordWOHash = types.StringValue(hash)
		}
		if block.Password.IsUnknown() {
			block.Password = configured[i].Password
		}
		result[i] = block
	}
	return result, nil
}

func optionalString(value string) types.String {
	if value == "" {
		return types.StringNull()
	}
	return types.StringValue(value)
}

// stringMap returns the known elements of a map value, or nil.
func stringMap(value types.Map) map[string]string {
	if value.IsNull() || value.IsUnknown() {
		return nil
	}
	result := make(map[string]string, len(value.Elements()))
	for key, element := range value.Elements() {
		if text, ok := element.(types.String); ok && !text.IsNull() && !text.IsUnknown() {
			result[key] = text.ValueString()
		}
	}
	return result
}

func accountNameValues(values []string) []attr.Value {
	result := make([]attr.Value, len(values))
	for i, value := range values {
		result[i] = types.StringValue(value)
	}
	return result
}

// Password hashes for write-only passwords have the form
// "pbkdf2-sha256$<iterations>$<salt>$<key>" with salt and key in unpadded standard base64.
// A slow, salted hash keeps a weak password from being guessed quickly from a copy of state.
const (
	passwordHashScheme = "pbkdf2-sha256"
	// passwordHashIterations is the PBKDF2 count for new hashes. A plan checks each
	// write-only block about twice, in Read and in ModifyPlan. At the earlier 600,000,
	// BenchmarkPasswordHashMatches took 0.2 to 0.4 s per check on a busy 2-core AMD EPYC VM,
	// so hundreds of blocks added minutes to every plan. At 10,000 a check took about 2 ms
	// there, comparable to the API call that Read makes anyway. The hash lives only in
	// sensitive state, which must be protected in any case because state carries other
	// credentials in clear text (every `password`, imported ones included). So the count only
	// slows guessing by someone who already has the state, and there a generated registry
	// token resists at any count while a guessable password falls at any count. Each hash
	// records its count, so hashes made with another count still verify.
	passwordHashIterations = 10_000
	passwordHashSaltBytes  = 16
	passwordHashKeyBytes   = 32
)

var errMalformedPasswordHash = errors.New("malformed password hash")

func newPasswordHash(password string) (string, error) {
	salt := make([]byte, passwordHashSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating a salt for the password hash: %w", err)
	}
	return hashPassword(password, salt, passwordHashIterations)
}

func hashPassword(password string, salt []byte, iterations int) (string, error) {
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, passwordHashKeyBytes)
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	encoding := base64.RawStdEncoding
	return strings.Join([]string{passwordHashScheme, strconv.Itoa(iterations),
		encoding.EncodeToString(salt), encoding.EncodeToString(key)}, "$"), nil
}

func parsePasswordHash(encoded string) (salt []byte, iterations int, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != passwordHashScheme {
		return nil, 0, nil, errMalformedPasswordHash
	}
	iterations, err = strconv.Atoi(parts[1])
	if err != nil || iterations < 1 {
		return nil, 0, nil, errMalformedPasswordHash
	}
	salt, err = base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, 0, nil, errMalformedPasswordHash
	}
	key, err = base64.RawStdEncoding.DecodeString(parts[3])
	if err != nil {
		return nil, 0, nil, errMalformedPasswordHash
	}
	return salt, iterations, key, nil
}

// passwordHashMatches reports whether encoded is a hash of password. A malformed hash
// matches nothing, so the next apply replaces it.
func passwordHashMatches(encoded, password string) bool {
	salt, iterations, want, err := parsePasswordHash(encoded)
	if err != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iterations, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// rehashPassword hashes password with the salt and iteration count of encoded, so that
// refreshing the same cluster password twice gives the same value. A malformed hash gets a
// new salt.
func rehashPassword(encoded, password string) (string, error) {
	salt, iterations, _, err := parsePasswordHash(encoded)
	if err != nil {
		return newPasswordHash(password)
	}
	return hashPassword(password, salt, iterations)
}
