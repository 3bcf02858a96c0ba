# The connection settings are those of the hashicorp/kubernetes provider, so an existing
# block can be copied unchanged.
provider "imagedist" {
  config_path    = "~/.kube/config"
  config_context = "admin@prod-east"
}

# Values that come from a cluster created in the same apply are fine: the provider contacts the
# cluster only when an operation needs it.
provider "imagedist" {
  alias                  = "new_cluster"
  host                   = module.cluster.api_url
  cluster_ca_certificate = module.cluster.ca_certificate
  token                  = module.cluster.admin_token
}
