variable "mirror_token" {
  description = "Token of the cluster-puller account on the internal mirror."
  type        = string
  sensitive   = true
}

# Adds one entry to openshift-config/pull-secret, next to the credentials the cluster was
# installed with, which stay as they are. Every node pulls with it within minutes, without a
# drain or a reboot.
resource "imagedist_cluster_pull_secret" "mirror" {
  server   = "mirror.example.com:5000"
  username = "cluster-puller"
  password = var.mirror_token
}

# The same with a write-only password (Terraform 1.11 and OpenTofu 1.12 and later): only a
# salted hash is stored. Raise password_wo_version to write the password again.
variable "partner_token" {
  description = "Token of the robot account at the partner registry."
  type        = string
  sensitive   = true
  ephemeral   = true
}

resource "imagedist_cluster_pull_secret" "partner" {
  server              = "registry.partner.example"
  username            = "acme+cluster"
  password_wo         = var.partner_token
  password_wo_version = 1
}
