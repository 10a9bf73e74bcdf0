#!/usr/bin/env bash
# Installs the Debian 12 packages Tally needs to build, test and run.
# Idempotent: packages already present are left alone, and `apt-get update` runs only when
# something is missing, so a configured machine pays nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git clang clang-format libclang-rt-14-dev
  libsodium-dev libssl-dev librocksdb-dev libasio-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libcpp-httplib-dev libabsl-dev
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  tmux procps iproute2
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
