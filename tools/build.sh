#!/usr/bin/env bash
# Builds the programs that the tests and the demo run, each once per version,
# into a cache outside the clone, and prints where they are.
#
#   tools/build.sh build [PROGRAM...]   build what is missing (all by default)
#   tools/build.sh path PROGRAM         build if missing, then print its path
#   tools/build.sh env                  build all, then print NAME=PATH lines
#
# The cache is $IMAGEDIST_TOOLS_CACHE, or imagedist-tools under
# $XDG_CACHE_HOME (~/.cache). Versions come from the go.mod files beside this
# script, so a version bump there builds into a new folder.
set -euo pipefail

tools_dir=$(cd "$(dirname "$0")" && pwd)
cache=${IMAGEDIST_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagedist-tools}
all_programs=(etcd kube-apiserver kube-controller-manager kubectl terraform tofu tfplugindocs registry)

# module_of prints the tools/ folder whose go.mod pins PROGRAM.
module_of() {
  case $1 in
    etcd) echo etcd ;;
    kube-apiserver | kube-controller-manager | kubectl) echo kubernetes ;;
    terraform) echo terraform ;;
    tofu) echo opentofu ;;
    tfplugindocs) echo tfplugindocs ;;
    registry) echo registry ;;
    *) echo "tools/build.sh: unknown program $1 (known: ${all_programs[*]})" >&2; exit 2 ;;
  esac
}

# package_of prints the Go package that is PROGRAM's main.
package_of() {
  case $1 in
    etcd) echo go.etcd.io/etcd/server/v3 ;;
    kube-apiserver | kube-controller-manager | kubectl) echo "k8s.io/kubernetes/cmd/$1" ;;
    terraform) echo github.com/hashicorp/terraform ;;
    tofu) echo github.com/opentofu/opentofu/cmd/tofu ;;
    tfplugindocs) echo github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs ;;
    registry) echo github.com/distribution/distribution/v3/cmd/registry ;;
  esac
}

# version_of prints the release that the tools/ module pins, read from its
# go.mod with the go command so the file's layout does not matter.
version_of() {
  local main
  case $1 in
    etcd) main=go.etcd.io/etcd/server/v3 ;;
    kubernetes) main=k8s.io/kubernetes ;;
    terraform) main=github.com/hashicorp/terraform ;;
    opentofu) main=github.com/opentofu/opentofu ;;
    tfplugindocs) main=github.com/hashicorp/terraform-plugin-docs ;;
    registry) main=github.com/distribution/distribution/v3 ;;
  esac
  (cd "$tools_dir/$1" && go list -m -f '{{.Version}}' "$main")
}

ldflags_of() {
  local program=$1 version=$2
  case $(module_of "$program") in
    kubernetes)
      # Without these the binaries report v0.0.0 and kubectl warns of skew.
      local minor=${version#v1.}
      minor=${minor%%.*}
      echo "-s -w -X k8s.io/component-base/version.gitVersion=$version" \
        "-X k8s.io/component-base/version.gitMajor=1" \
        "-X k8s.io/component-base/version.gitMinor=$minor" \
        "-X k8s.io/component-base/version.gitTreeState=clean"
      ;;
    opentofu)
      # Without this OpenTofu calls itself a -dev prerelease, which version checks misread.
      echo "-s -w -X github.com/opentofu/opentofu/version.dev=no"
      ;;
    *) echo "-s -w" ;;
  esac
}

path_of() {
  local module version
  module=$(module_of "$1")
  version=$(version_of "$module")
  echo "$cache/$module-$version/$1"
}

build_one() {
  local program=$1 module version target
  module=$(module_of "$program")
  version=$(version_of "$module")
  target=$(path_of "$program")
  [ -x "$target" ] && return 0

  mkdir -p "$(dirname "$target")"
  # One build per program at a time, even when several test runs start at once.
  exec 9>"$target.lock"
  flock 9
  if [ ! -x "$target" ]; then
    echo "tools/build.sh: building $program $version into $(dirname "$target")" \
      "(first run only; this can take several minutes)" >&2
    local started=$SECONDS
    (cd "$tools_dir/$module" &&
      CGO_ENABLED=0 go build -trimpath -ldflags "$(ldflags_of "$program" "$version")" \
        -o "$target.partial" "$(package_of "$program")")
    mv "$target.partial" "$target"
    echo "tools/build.sh: built $program in $((SECONDS - started))s" >&2
  fi
  exec 9>&-
}

command=${1:-build}
shift || true
case $command in
  build)
    [ $# -gt 0 ] || set -- "${all_programs[@]}"
    for program in "$@"; do build_one "$program"; done
    ;;
  path)
    [ $# -eq 1 ] || { echo "usage: tools/build.sh path PROGRAM" >&2; exit 2; }
    build_one "$1"
    path_of "$1"
    ;;
  env)
    for program in "${all_programs[@]}"; do
      build_one "$program"
      name=$(echo "$program" | tr 'a-z-' 'A-Z_')
      echo "IMAGEDIST_${name}=$(path_of "$program")"
    done
    ;;
  *)
    echo "usage: tools/build.sh build [PROGRAM...] | path PROGRAM | env" >&2
    exit 2
    ;;
esac
