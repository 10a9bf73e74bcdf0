#!/usr/bin/env bash
# The main job: install dependencies, build, run `tally demo` (a measured and checked run of a
# 4-validator network), then start a 4-validator local network on 127.0.0.1, walk through the
# CLI (accounts created by endorsement, transfers, a balance checked with a Merkle proof), and
# keep the network running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target tally

tally=build/tally
$tally demo --validators 4 --seconds "${TALLY_DEMO_SECONDS:-20}"
echo

dir=${TALLY_LOCALNET_DIR:-$(mktemp -d /tmp/tally-localnet.XXXXXX)}
rm -rf "$dir"
$tally localnet init --validators 4 --accounts 4 --dir "$dir"
$tally localnet start --dir "$dir" &
supervisor=$!
trap 'kill -INT $supervisor 2>/dev/null; wait $supervisor 2>/dev/null' EXIT INT TERM

echo "waiting for the first block..."
for _ in $(seq 1 100); do
  if $tally status --node http://127.0.0.1:7001 2>/dev/null | grep -q '"height": [1-9]'; then break; fi
  sleep 0.2
done

alice=$dir/keys/account0.key
bob_address=$($tally keys show "$dir/keys/account1.key" | head -1)
newcomer=$($tally keys --home "$dir/wallet" new newcomer --insecure-no-passphrase 2>/dev/null)
echo
echo "== account0 endorses a new account with 25 TALLY (waits for commit)"
$tally send --node http://127.0.0.1:7001 --key "$alice" --to "$newcomer" --amount 25 --create --wait
echo "== the new account sends 10 TALLY to account1 through another node"
$tally send --node http://127.0.0.1:7002 --home "$dir/wallet" --key newcomer --to "$bob_address" --amount 10 --wait
echo "== its balance, read from a third node and verified against a signed header"
$tally account --node http://127.0.0.1:7003 "$newcomer" --prove
echo "== a transfer to an address nobody endorsed is refused"
$tally send --node http://127.0.0.1:7001 --key "$alice" --to "$($tally keys --home "$dir/wallet" new stranger --insecure-no-passphrase 2>/dev/null)" --amount 1 || true

cat <<MSG

The localnet keeps running (logs: $dir/node*/node.log). Ctrl-C stops it.
  API:    http://127.0.0.1:7001 ... http://127.0.0.1:7004   (GET /v1/status, /v1/validators, /metrics)
  Try:    $tally status --node http://127.0.0.1:7002
          $tally account --node http://127.0.0.1:7001 $newcomer --prove
          $tally send --node http://127.0.0.1:7004 --key $alice --to $bob_address --amount 1.5 --wait
MSG
if [ -n "${CI:-}" ] || [ -n "${TALLY_LOCALNET_EXIT:-}" ]; then exit 0; fi
wait $supervisor
