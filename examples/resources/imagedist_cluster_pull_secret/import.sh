# An entry of the global pull secret is imported by its registry server, spelled any way that
# normalizes to the same registry key. The next write stores it under the normalized key.
terraform import imagedist_cluster_pull_secret.mirror mirror.example.com:5000
