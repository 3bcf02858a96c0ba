# Look a registry up in a map keyed the way imagedist_pull_secret writes its entries.
output "key" {
  value = provider::imagedist::registry_key("https://Registry.Example.com/") # "registry.example.com"
}
