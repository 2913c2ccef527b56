#!/usr/bin/env bash
# The PostgreSQL indexer against a running devnet after its demo (the fixture of
# tests/explorer/CMakeLists.txt): a real PostgreSQL in a temp folder, v2g-indexer killed with
# SIGKILL mid-way through its catch-up and started again, a second database indexed in one go;
# both must hold the same rows, and their totals must equal what the node's API answers:
# minted and burned supply per denomination, balances of accounts that only sent and received,
# energy per meter and interval, trades and settlements per market, txs per block.
#   indexer_test.sh API_URL V2G_INDEXER WORK_DIR GENESIS_JSON
set -euo pipefail
api=$1 indexer=$2 work=$3 genesis=$4
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib/postgres.sh
. "$here/../../scripts/lib/postgres.sh"

rm -rf "$work"
mkdir -p "$work"
sock=$(mktemp -d /tmp/v2g-pg.XXXXXX)  # short: a socket path is at most 107 bytes
port=$((40000 + RANDOM % 20000))
cleanup() { pg_down "$work/data" || true; rm -rf "$sock"; }
trap cleanup EXIT
pg_up "$work/data" "$sock" "$port"
psql_in() { psql -X -q -v ON_ERROR_STOP=1 -At "$(pg_conninfo "$sock" "$port" "$1")" -c "$2"; }
psql_in postgres "CREATE DATABASE killed"
psql_in postgres "CREATE DATABASE straight"

fails=0
check() {  # check WHAT GOT WANT
  if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}
get() { curl -fsS "$api$1"; }

target=$(get /v1/status | jq -r .latest_height)
echo "==> indexing $api up to height $target"

# 1. Killed mid-way: paced so that the kill lands in the middle of the catch-up.
"$indexer" --node "$api" --genesis "$genesis" --db "$(pg_conninfo "$sock" "$port" killed)" --stop-at "$target" --pace-ms 20 \
  >"$work/killed-1.log" 2>&1 &
pid=$!
mark=0
for _ in $(seq 1 600); do
  mark=$(psql_in killed "SELECT height FROM indexer_state" 2>/dev/null || echo 0)
  [ "${mark:-0}" -ge $((target / 3)) ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
mark=$(psql_in killed "SELECT height FROM indexer_state")
echo "killed at watermark $mark of $target"
if [ "$mark" -lt 1 ] || [ "$mark" -ge "$target" ]; then
  echo "FAIL the kill did not land mid-way (watermark $mark of $target)"; cat "$work/killed-1.log"; exit 1
fi
# The rows stop exactly at the watermark: no block above it was half written.
check "blocks of the killed run end at its watermark" "$(psql_in killed "SELECT count(*) || ' ' || coalesce(max(height), 0) FROM blocks")" "$mark $mark"
check "no tx above the watermark" "$(psql_in killed "SELECT count(*) FROM txs WHERE height > $mark")" "0"
"$indexer" --node "$api" --genesis "$genesis" --db "$(pg_conninfo "$sock" "$port" killed)" --stop-at "$target" >"$work/killed-2.log" 2>&1 ||
  { cat "$work/killed-2.log"; exit 1; }
grep -q "indexed up to height $mark," "$work/killed-2.log" || { echo "FAIL the restart did not resume at $mark:"; cat "$work/killed-2.log"; exit 1; }

# 2. In one go into another database.
"$indexer" --node "$api" --genesis "$genesis" --db "$(pg_conninfo "$sock" "$port" straight)" --stop-at "$target" >"$work/straight.log" 2>&1 ||
  { cat "$work/straight.log"; exit 1; }
# A third start on a database at its stop height changes nothing.
"$indexer" --node "$api" --genesis "$genesis" --db "$(pg_conninfo "$sock" "$port" straight)" --stop-at "$target" >>"$work/straight.log" 2>&1

# 3. The same tables, row for row.
tables="genesis_balances blocks txs transfers meters readings meter_intervals orders markets trades settlements grid_events event_payouts"
for t in $tables; do
  psql_in killed "COPY (SELECT * FROM $t ORDER BY $t::text) TO STDOUT" >"$work/killed.$t"
  psql_in straight "COPY (SELECT * FROM $t ORDER BY $t::text) TO STDOUT" >"$work/straight.$t"
  if cmp -s "$work/killed.$t" "$work/straight.$t"; then
    echo "ok   $t: the killed and restarted run equals the straight one ($(wc -l <"$work/killed.$t") rows)"
  else
    echo "FAIL $t differs between the killed and the straight run:"; diff "$work/killed.$t" "$work/straight.$t" | head -20
    fails=$((fails + 1))
  fi
done
check "watermark" "$(psql_in killed "SELECT height FROM indexer_state")" "$target"
check "schema version" "$(psql_in killed "SELECT max(version) FROM schema_migrations")" "1"

db=straight
q() { psql_in "$db" "$1"; }
# 4. Totals against the API.
check "blocks" "$(q "SELECT count(*) || ' ' || max(height) FROM blocks")" "$target $target"
check "txs = the blocks' num_txs" "$(q "SELECT count(*) FROM txs")" "$(q "SELECT sum(num_txs) FROM blocks")"
api_txs=0
for ((from = 1; from <= target; from += 100)); do
  n=$(get "/v1/blocks?from=$from&limit=100" | jq '[.blocks[].num_txs] | add // 0')
  api_txs=$((api_txs + n))
done
check "txs = the API's blocks' num_txs" "$(q "SELECT count(*) FROM txs")" "$api_txs"
[ "$api_txs" -gt 20 ] || { echo "FAIL the devnet demo left only $api_txs txs"; fails=$((fails + 1)); }

# Supply: every mint, burn and fee, per denomination.
while read -r denom minted burned; do
  check "$denom minted (genesis and mints)" "$(q "SELECT (SELECT coalesce(sum(amount), 0) FROM transfers WHERE kind = 'mint' AND denom = '$denom')
    + (SELECT coalesce(sum(amount), 0) FROM genesis_balances WHERE denom = '$denom')")" "$minted"
  check "$denom burned (burns and fees)" "$(q "SELECT coalesce(sum(amount), 0) FROM transfers WHERE kind IN ('burn', 'fee') AND denom = '$denom'")" "$burned"
done < <(get /v1/denoms | jq -r '.denominations[] | "\(.name) \(.minted) \(.burned)"')

# Balances from genesis and transfers: every account whose coins moved only by transfers, mints,
# burns and fees (no order, trade, meter, pool, program, event, tariff or debt of its own).
accounts=$(q "SELECT DISTINCT a FROM (SELECT from_address a FROM transfers UNION SELECT to_address FROM transfers
  UNION SELECT address FROM genesis_balances) x
  WHERE a IS NOT NULL AND a NOT IN (SELECT signer FROM txs WHERE op_type NOT IN ('transfer', 'mint', 'burn'))
  AND a NOT IN (SELECT owner FROM meters) AND a NOT IN (SELECT coalesce(buyer, '') FROM trades)
  AND a NOT IN (SELECT coalesce(seller, '') FROM trades) AND a NOT IN (SELECT owner FROM event_payouts)
  ORDER BY a")
n_accounts=0
for a in $accounts; do
  n_accounts=$((n_accounts + 1))
  want=$(get "/v1/accounts/$a" | jq -r '[.balances[] | "\(.denom)=\(.amount)"] | sort | join(" ")')
  got=$(q "SELECT coalesce(string_agg(denom || '=' || total, ' ' ORDER BY denom), '') FROM (SELECT denom, sum(amount) total FROM
    (SELECT denom, amount FROM genesis_balances WHERE address = '$a' UNION ALL
     SELECT denom, amount FROM transfers WHERE to_address = '$a' UNION ALL SELECT denom, -amount FROM transfers WHERE from_address = '$a') x
    GROUP BY denom HAVING sum(amount) <> 0) y")
  check "balance of $a" "$got" "$want"
done
[ "$n_accounts" -ge 1 ] || { echo "FAIL no account to compare balances of"; fails=$((fails + 1)); }

# Energy per meter and interval, as the chain attested it.
n_meters=0
for m in $(q "SELECT DISTINCT meter_id FROM meter_intervals ORDER BY 1"); do
  n_meters=$((n_meters + 1))
  want=$(get "/v1/meters/$m/readings?limit=500" | jq -r '[.intervals[] | "\(.interval_start_s):\(.import_wh):\(.export_wh)"] | join(" ")')
  got=$(q "SELECT coalesce(string_agg(interval_start_s || ':' || import_wh || ':' || export_wh, ' ' ORDER BY interval_start_s), '') FROM meter_intervals WHERE meter_id = '$m'")
  check "energy per interval of $m" "$got" "$want"
done
[ "$n_meters" -ge 3 ] || { echo "FAIL only $n_meters meters with attested energy"; fails=$((fails + 1)); }
check "readings = the txs' accepted readings" "$(q "SELECT count(*) FROM readings")" \
  "$(q "SELECT coalesce(sum((doc->'op'->>'count')::int - coalesce(jsonb_array_length(doc->'rejected_readings'), 0)), 0) FROM txs WHERE op_type = 'submit_readings' AND code = 0")"

# Trades and settlements per market.
n_markets=0
while read -r zone start; do
  n_markets=$((n_markets + 1))
  m=$(get "/v1/markets/$zone/$start")
  check "trades of $zone/$start" "$(q "SELECT count(*) || ' ' || coalesce(sum(energy_wh), 0) FROM trades WHERE zone = '$zone' AND interval_start_s = $start")" \
    "$(jq -r '"\(.trades) \(.cleared_energy_wh)"' <<<"$m")"
  if [ "$(jq -r .status <<<"$m")" = settled ]; then
    check "settlement of $zone/$start" "$(q "SELECT delivered_wh || ' ' || seller_paid FROM settlements WHERE zone = '$zone' AND interval_start_s = $start")" \
      "$(get "/v1/settlements?zone=$zone&interval=$start" | jq -r '"\(.totals.delivered_wh) \(.totals.seller_paid.amount // .totals.seller_paid)"')"
  fi
done < <(q "SELECT zone || ' ' || interval_start_s FROM markets ORDER BY 1")
[ "$n_markets" -ge 1 ] || { echo "FAIL no market indexed"; fails=$((fails + 1)); }
check "settled markets" "$(q "SELECT count(*) FROM settlements")" "$(q "SELECT count(*) FROM markets WHERE status = 'settled'")"
check "events settled with payouts" "$(q "SELECT count(*) > 0 FROM event_payouts")" "t"

# The obvious questions answer (docs/INDEXER.md): energy per zone per day, prices, earnings per month.
q "SELECT m.zone, to_timestamp(i.interval_start_s)::date, sum(i.export_wh) FROM meter_intervals i JOIN meters m USING (meter_id) GROUP BY 1, 2" >/dev/null
q "SELECT address, date_trunc('month', time), denom, sum(amount) FROM statements GROUP BY 1, 2, 3" >/dev/null

if [ "$fails" -gt 0 ]; then echo "indexer test: $fails checks failed"; exit 1; fi
echo "indexer test: all checks passed"
