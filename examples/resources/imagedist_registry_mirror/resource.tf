# Digest pulls from quay.io/team-a are served by the internal mirror first and the
# disconnected mirror second. Creating the rules and adding mirrors later only reloads CRI-O.
resource "imagedist_registry_mirror" "quay" {
  name = "quay-team-a"

  labels = {
    "app.kubernetes.io/managed-by" = "terraform"
  }

  mirror {
    source               = "quay.io/team-a"
    mirrors              = ["mirror.example.com:5000/team-a", "disconnected.example.com/team-a"]
    mirror_source_policy = "NeverContactSource"
  }

  # A wildcard source covers every host under a domain.
  mirror {
    source  = "*.registry.example.org"
    mirrors = ["mirror.example.com:5000/example-org"]
  }
}

# Tag pulls need an ImageTagMirrorSet. Every change to it drains and reboots the nodes.
resource "imagedist_registry_mirror" "docker_hub" {
  name      = "docker-hub"
  pull_type = "both"

  mirror {
    source  = "docker.io/library"
    mirrors = ["mirror.example.com:5000/library"]
  }
}
