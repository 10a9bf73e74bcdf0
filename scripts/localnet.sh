#!/usr/bin/env bash
# The main job: install dependencies, build, and run a 4-validator local network with a demo
# workload (`tally demo`, then a long-running `tally localnet start`).
#
# Today only the foundation exists (ledger, crypto, state tree: issue #2). The node, consensus
# and CLI are not built yet, so this script builds what there is and runs the ledger benchmark
# instead of a network; it says so plainly rather than pretending.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

if [ -x build/tally ]; then
  build/tally demo --validators 4 --seconds 20
  dir=$(mktemp -d /tmp/tally-localnet.XXXXXX)
  build/tally localnet init --validators 4 --accounts 8 --dir "$dir"
  exec build/tally localnet start --dir "$dir"
fi

cat <<'MSG'

tally: the node and the `tally` command are not built yet (consensus, node and CLI are open
issues), so there is no local network to start. What exists is the ledger core; here is its
benchmark (validate + apply throughput, signature verification, state-tree updates):

MSG
exec build/tally-ledger-bench --benchmark_min_time=0.2
