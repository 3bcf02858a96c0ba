variable "quay_robot_token" {
  description = "Token of the team-a+puller robot account on quay.io."
  type        = string
  sensitive   = true
}

# An ephemeral variable (Terraform 1.10 and OpenTofu 1.12 and later) is never written to the
# plan or state, and password_wo accepts it.
variable "mirror_password" {
  description = "Password of the ci-puller account on the internal mirror."
  type        = string
  sensitive   = true
  ephemeral   = true
}

resource "imagedist_pull_secret" "example" {
  namespace = "team-a"
  name      = "registry-credentials"

  labels = {
    "app.kubernetes.io/managed-by" = "terraform"
  }

  registry {
    server   = "quay.io"
    username = "team-a+puller"
    password = var.quay_robot_token
  }

  # The scheme and trailing slash are dropped from the key, so registry_key is
  # "mirror.example.com:5000" and the next plan shows no change.
  registry {
    server   = "https://mirror.example.com:5000/"
    username = "ci-puller"
    email    = "ci-puller@example.com"

    # Write-only (Terraform 1.11 and OpenTofu 1.12 and later): only a salted hash is stored.
    # Raise password_wo_version to write the password again.
    password_wo         = var.mirror_password
    password_wo_version = 1
  }

  # Appends this secret to each account's imagePullSecrets. Other entries, such as the
  # builder-dockercfg-* entry that OpenShift adds, keep their place.
  link_service_accounts = ["default", "builder"]
}
