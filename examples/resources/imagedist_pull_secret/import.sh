# A pull secret is imported by "namespace/name", and its registries are read from the Secret.
# A Secret of the legacy type kubernetes.io/dockercfg is replaced on the next apply.
terraform import imagedist_pull_secret.example team-a/registry-credentials
