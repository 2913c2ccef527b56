#!/usr/bin/env bash
# scripts/check-layers must pass on the repository and fail, naming the file, on each include that
# points up a layer (the issue 18 rule set), and not on includes that point down.
set -euo pipefail
script="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check-layers"
"$script" >/dev/null || { echo "FAIL: check-layers fails on the repository itself"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# expect <ok|bad> <file> <included path>
expect() {
  rm -rf "$tmp"/*
  mkdir -p "$tmp/$(dirname "$2")"
  printf '#include <string>\n#include "%s"\n' "$3" >"$tmp/$2"
  if "$script" "$tmp" >/dev/null 2>"$tmp.err"; then got=ok; else got=bad; fi
  if [ "$got" != "$1" ]; then
    echo "FAIL: $2 including $3: expected $1, got $got"; fails=$((fails + 1))
  elif [ "$1" = bad ] && ! grep -q "$2" "$tmp.err"; then
    echo "FAIL: the error for $2 does not name the file"; fails=$((fails + 1))
  fi
}
expect bad consensus/block.cc contracts/state.h
expect bad consensus/x.h node/store/store.h
expect bad contracts/market.cc node/api/api.h
expect bad contracts/market.cc consensus/block.h
expect bad common/bytes.h contracts/kv.h
expect bad common/bytes.h proto/v2g.pb.h
expect bad common/bytes.h node/node.h
expect bad wallet/client.cc node/api/api.h
expect bad wallet/client.cc genesis/genesis.h
expect bad node/node.cc wallet/keystore.h
expect bad indexer/indexer.cc node/api/api.h
expect bad node/api/api.cc indexer/indexer.h
expect bad wallet/client.cc indexer/schema.h
expect ok consensus/block.cc proto/encode.h
expect ok consensus/block.cc common/crypto.h
expect ok contracts/market.cc common/checked.h
expect ok wallet/client.cc contracts/state.h
expect ok node/node.cc consensus/tendermint.h
expect ok indexer/indexer.cc wallet/client.h
rm -f "$tmp.err"
[ "$fails" -eq 0 ] || exit 1
echo "check-layers test: 19 cases passed"
