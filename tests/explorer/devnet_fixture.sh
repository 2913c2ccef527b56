#!/usr/bin/env bash
# The devnet the explorer's browser test and the indexer's test share (tests/explorer/
# CMakeLists.txt, a ctest fixture): scripts/devnet's 4 validators and its whole demo (mints,
# transfers, meters and readings, an OCMF charger, a market cycle, grid services), then node0
# restarted with private_reads = false: the node an operator would put behind a public explorer
# or an indexer, which serves every record to every reader (and takes 256 connections from one
# address). The other nodes keep the defaults.
#   devnet_fixture.sh up BUILD_DIR DEVNET_DIR PORT    (about 8 minutes)
#   devnet_fixture.sh down BUILD_DIR DEVNET_DIR PORT
set -euo pipefail
cmd=$1 build=$2 dir=$3 port=$4
root=$(cd "$(dirname "$0")/../.." && pwd)
export V2G_DEVNET_DIR=$dir V2G_DEVNET_PORT=$port V2G_BUILD_DIR=$build

case "$cmd" in
  down)
    "$root/scripts/devnet" stop
    exit 0 ;;
  up) ;;
  *) echo "devnet_fixture.sh: up or down, not '$cmd'" >&2; exit 2 ;;
esac

"$root/scripts/devnet" reset >/dev/null
"$root/scripts/devnet"
home=$dir/node0
pid=$(cat "$home/v2gd.pid")
kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
# Every client of the two tests (Chromium's connections and streams, the indexer's two, the
# checks' curl) comes from 127.0.0.1: one address, as an explorer behind a reverse proxy would be.
sed -i -e 's/^private_reads = true$/private_reads = false/' \
  -e 's/^connections_per_address_max = .*/connections_per_address_max = 256/' "$home/config.toml"
grep -q '^private_reads = false$' "$home/config.toml" && grep -q '^connections_per_address_max = 256$' "$home/config.toml" ||
  { echo "devnet_fixture.sh: no private_reads or connections_per_address_max line in $home/config.toml" >&2; exit 1; }
nohup "$build/cli/v2gd" start --home "$home" >>"$home/v2gd.log" 2>&1 &
api=http://127.0.0.1:$port
want=$(curl -fsS "http://127.0.0.1:$((port + 10))/v1/status" | jq -r .latest_height)
for _ in $(seq 1 600); do
  h=$(curl -fsS "$api/v1/status" 2>/dev/null | jq -r .latest_height 2>/dev/null || echo 0)
  [ "${h:-0}" -ge "$want" ] 2>/dev/null && break
  sleep 0.1
done
[ "${h:-0}" -ge "$want" ] || { echo "devnet_fixture.sh: node0 did not catch up (height ${h:-?} of $want)" >&2; tail -20 "$home/v2gd.log" >&2; exit 1; }
echo "devnet fixture: 4 validators at height $h; node0 ($api) serves every record"
