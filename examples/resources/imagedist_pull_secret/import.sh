# A pull secret is imported by "namespace/name", and its registries are read from the Secret.
# A Secret of the legacy type kubernetes.io/dockercfg is replaced on the next apply.
# Import reads the Secret's labels and annotations. After import, labels and annotations the
# configuration does not set are removed on the next apply; add them to the configuration to
# keep them.
terraform import imagedist_pull_secret.example team-a/registry-credentials
