# Nodes pull only from the release registries, the company registry and its subdomains. The
# machine-config operator rolls this out pool by pool: each node is cordoned while CRI-O
# restarts. Other fields of the Image "cluster", such as additionalTrustedCA, stay as they are.
resource "imagedist_registry_policy" "cluster" {
  allowed_registries = [
    "quay.io",
    "registry.redhat.io",
    "registry.example.com",
    "*.registry.example.com",
    "image-registry.openshift-image-registry.svc:5000",
  ]

  insecure_registries = ["registry.lab.example.com:5000"]

  # Short names such as "ubi9/ubi" are looked up in this registry first.
  container_runtime_search_registries = ["registry.example.com"]

  # Image stream imports are limited to these registries. This needs no node change.
  allowed_registries_for_import = [
    { domain_name = "quay.io" },
    { domain_name = "registry.example.com" },
    { domain_name = "registry.lab.example.com:5000", insecure = true },
  ]
}
