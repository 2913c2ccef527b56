#!/usr/bin/env bash
# The PostgreSQL indexer against a running devnet after its demo (the fixture of
# tests/explorer/CMakeLists.txt), with a real PostgreSQL in a temp folder:
#  1. catch-up: v2g-indexer killed with SIGKILL a third of the way and started again, and a
#     second database indexed in one go, must hold the same rows in every table;
#  2. their totals must equal what the node's API answers: txs per block, minted and burned
#     supply per denomination, the balance of every account whose coins moved only by genesis,
#     transfers, mints, burns and fees, every meter's energy per interval, every market's trades,
#     volume and settlement, and every account's statement tiers;
#  3. live: an indexer following the chain while another market cycle runs (orders, clearing,
#     readings, settlement) must end with the same rows as one that indexes the same blocks after
#     the fact.
#   indexer_test.sh API_URL V2G_INDEXER WORK_DIR DEVNET_DIR BUILD_DIR
set -euo pipefail
api=$1 indexer=$2 work=$3 devnet=$4 build=$5
genesis=$devnet/node0/genesis.json
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/lib/postgres.sh
. "$here/../../scripts/lib/postgres.sh"

rm -rf "$work"
mkdir -p "$work"
sock=$(mktemp -d /tmp/v2g-pg.XXXXXX)  # short: a socket path is at most 107 bytes
port=$((40000 + RANDOM % 20000))
follower=""
cleanup() {
  [ -n "$follower" ] && kill -9 "$follower" 2>/dev/null
  pg_down "$work/data" || true
  rm -rf "$sock"
}
trap cleanup EXIT
pg_up "$work/data" "$sock" "$port"
psql_in() { psql -X -q -v ON_ERROR_STOP=1 -At "$(pg_conninfo "$sock" "$port" "$1")" -c "$2"; }
for db in killed straight live after; do psql_in postgres "CREATE DATABASE $db"; done
index() {  # index DB [ARGS...]: runs the indexer on database DB
  local db=$1
  shift
  "$indexer" --node "$api" --genesis "$genesis" --db "$(pg_conninfo "$sock" "$port" "$db")" "$@"
}
# The same in the background, $! its pid (not a subshell's: a kill must reach the indexer).
index_bg() {
  local db=$1
  shift
  "$indexer" --node "$api" --genesis "$genesis" --db "$(pg_conninfo "$sock" "$port" "$db")" "$@" &
}

# A COMMIT an indexer sent just before it was killed still completes in the server: waits for
# the database's backends to be gone before anything reads what is there.
gone() {
  for _ in $(seq 1 100); do
    [ "$(psql_in postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'")" = 0 ] && return 0
    sleep 0.1
  done
  echo "FAIL a backend of database $1 is still there 10 s after its indexer was killed"
  exit 1
}

fails=0
check() {  # check WHAT GOT WANT
  if [ "$2" = "$3" ]; then echo "ok   $1: $2"; else echo "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}
get() { curl -fsS "$api$1"; }
tables="genesis_balances blocks txs transfers meters readings meter_intervals orders markets trades settlements grid_events
  event_payouts statements"
same_tables() {  # same_tables DB1 DB2 WHAT
  for t in $tables; do
    psql_in "$1" "COPY (SELECT * FROM $t ORDER BY $t::text) TO STDOUT" >"$work/$1.$t"
    psql_in "$2" "COPY (SELECT * FROM $t ORDER BY $t::text) TO STDOUT" >"$work/$2.$t"
    if cmp -s "$work/$1.$t" "$work/$2.$t"; then
      echo "ok   $t: $3 ($(wc -l <"$work/$1.$t") rows)"
    else
      echo "FAIL $t differs: $3:"; diff "$work/$1.$t" "$work/$2.$t" | head -20
      fails=$((fails + 1))
    fi
  done
  check "$3: same watermark and statements bound" "$(psql_in "$1" "SELECT height || ' ' || statements_before_s FROM indexer_state")" \
    "$(psql_in "$2" "SELECT height || ' ' || statements_before_s FROM indexer_state")"
}

target=$(get /v1/status | jq -r .latest_height)
echo "==> indexing $api up to height $target"
# The live follower starts now, catches up, and follows the market cycle of part 3.
index_bg live >"$work/live.log" 2>&1
follower=$!

# 1. Killed mid-way: paced so that the kill lands in the middle of the catch-up.
index_bg killed --stop-at "$target" --pace-ms 20 >"$work/killed-1.log" 2>&1
pid=$!
mark=0
for _ in $(seq 1 600); do
  mark=$(psql_in killed "SELECT height FROM indexer_state" 2>/dev/null || echo 0)
  [ "${mark:-0}" -ge $((target / 3)) ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
gone killed
mark=$(psql_in killed "SELECT height FROM indexer_state")
echo "killed at watermark $mark of $target"
if [ "$mark" -lt 1 ] || [ "$mark" -ge "$target" ]; then
  echo "FAIL the kill did not land mid-way (watermark $mark of $target)"; cat "$work/killed-1.log"; exit 1
fi
# The rows stop exactly at the watermark: no block above it was half written.
check "blocks of the killed run end at its watermark" "$(psql_in killed "SELECT count(*) || ' ' || coalesce(max(height), 0) FROM blocks")" "$mark $mark"
check "no tx above the watermark" "$(psql_in killed "SELECT count(*) FROM txs WHERE height > $mark")" "0"
index killed --stop-at "$target" >"$work/killed-2.log" 2>&1 || { cat "$work/killed-2.log"; exit 1; }
grep -q "indexed up to height $mark," "$work/killed-2.log" || { echo "FAIL the restart did not resume at $mark:"; cat "$work/killed-2.log"; exit 1; }
t0=$(date +%s%N)
index straight --stop-at "$target" >"$work/straight.log" 2>&1 || { cat "$work/straight.log"; exit 1; }
t1=$(date +%s%N)
echo "catch-up from genesis: $target blocks ($(psql_in straight "SELECT count(*) FROM txs") txs) in $(((t1 - t0) / 1000000)) ms"
# Started again at its stop height, it changes nothing.
index straight --stop-at "$target" >>"$work/straight.log" 2>&1
same_tables killed straight "the killed and restarted run equals the straight one"
check "watermark" "$(psql_in killed "SELECT height FROM indexer_state")" "$target"
check "schema version" "$(psql_in killed "SELECT max(version) FROM schema_migrations")" "1"

db=straight
q() { psql_in "$db" "$1"; }
# 2. Totals against the API.
check "blocks" "$(q "SELECT count(*) || ' ' || max(height) FROM blocks")" "$target $target"
check "txs = the blocks' num_txs" "$(q "SELECT count(*) FROM txs")" "$(q "SELECT sum(num_txs) FROM blocks")"
api_txs=0
for ((from = 1; from <= target; from += 100)); do
  n=$(get "/v1/blocks?from=$from&limit=100" | jq '[.blocks[] | select(.height <= '"$target"') | .num_txs] | add // 0')
  api_txs=$((api_txs + n))
done
check "txs = the API's blocks' num_txs" "$(q "SELECT count(*) FROM txs")" "$api_txs"
[ "$api_txs" -gt 20 ] || { echo "FAIL the devnet demo left only $api_txs txs"; fails=$((fails + 1)); }

# Supply: genesis, every mint, burn and fee, per denomination.
while read -r denom minted burned; do
  check "$denom minted (genesis and mints)" "$(q "SELECT (SELECT coalesce(sum(amount), 0) FROM transfers WHERE kind = 'mint' AND denom = '$denom')
    + (SELECT coalesce(sum(amount), 0) FROM genesis_balances WHERE denom = '$denom')")" "$minted"
  check "$denom burned (burns and fees)" "$(q "SELECT coalesce(sum(amount), 0) FROM transfers WHERE kind IN ('burn', 'fee') AND denom = '$denom'")" "$burned"
done < <(get /v1/denoms | jq -r '.denominations[] | "\(.name) \(.minted) \(.burned)"')

# Balances from genesis and transfers: every account whose coins moved only by those (no order,
# trade, meter, pool, program, event, tariff or debt of its own).
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

# Energy per meter and interval, for every meter the API has (not only those indexed).
meters=() after=""
while :; do
  page=$(get "/v1/meters?limit=500${after:+&after=$after}")
  mapfile -t -O "${#meters[@]}" meters < <(jq -r '.meters[].meter_id' <<<"$page")
  after=$(jq -r '.next_after // empty' <<<"$page")
  [ -n "$after" ] || break
done
n_meters=0
for m in "${meters[@]}"; do
  want=$(get "/v1/meters/$m/readings?limit=500" | jq -r '[.intervals[] | "\(.interval_start_s):\(.import_wh):\(.export_wh)"] | join(" ")')
  [ -n "$want" ] && n_meters=$((n_meters + 1))
  got=$(q "SELECT coalesce(string_agg(interval_start_s || ':' || import_wh || ':' || export_wh, ' ' ORDER BY interval_start_s), '') FROM meter_intervals WHERE meter_id = '$m'")
  check "energy per interval of $m" "$got" "$want"
done
[ "$n_meters" -ge 3 ] || { echo "FAIL only $n_meters meters with attested energy"; fails=$((fails + 1)); }
# (An OCMF meter's readings come in signed records, kept in their txs, not in readings.)
check "readings = the API's accepted readings" "$(q "SELECT count(*) FROM readings")" \
  "$(get "/v1/meters?limit=500" | jq '[.meters[] | select(.key_type != "ocmf") | .readings_accepted // 0] | add')"

# Trades, volume and settlement of every market the API has.
n_markets=0
while read -r zone start status; do
  n_markets=$((n_markets + 1))
  m=$(get "/v1/markets/$zone/$start")
  check "market $zone/$start" "$(q "SELECT status || ' ' || count(t.*) || ' ' || coalesce(sum(t.energy_wh), 0) FROM markets m LEFT JOIN trades t USING (zone, interval_start_s)
    WHERE m.zone = '$zone' AND m.interval_start_s = $start GROUP BY m.status")" "$(jq -r '"\(.status) \(.trades) \(.cleared_energy_wh)"' <<<"$m")"
  if [ "$status" = settled ]; then
    check "settlement of $zone/$start" "$(q "SELECT delivered_wh || ' ' || seller_paid || ' ' || penalty FROM settlements WHERE zone = '$zone' AND interval_start_s = $start")" \
      "$(get "/v1/settlements?zone=$zone&interval=$start" | jq -r '.totals | "\(.delivered_wh) \(.seller_paid.amount // .seller_paid) \(.penalty.amount // .penalty)"')"
  fi
done < <(get "/v1/markets?limit=500" | jq -r '.markets[] | select(.status == "cleared" or .status == "settled") | "\(.zone) \(.interval_start_s) \(.status)"')
[ "$n_markets" -ge 1 ] || { echo "FAIL no market cleared on the devnet"; fails=$((fails + 1)); }
check "events settled with payouts" "$(q "SELECT count(*) > 0 FROM event_payouts")" "t"

# Statements: every tier of every account that owns a meter, traded or enrolled, over every
# settled interval, against the node's statement of the same period.
L=$(get /v1/params | jq -r .settlement_interval_s)
from=$(q "SELECT (extract(epoch FROM min(time))::bigint / $L) * $L FROM blocks")
to=$(q "SELECT statements_before_s FROM indexer_state")
accts=$( { get "/v1/meters?limit=500" | jq -r '.meters[].owner';
  q "SELECT buyer FROM trades UNION SELECT seller FROM trades UNION SELECT owner FROM event_payouts"; } | sort -u | grep '^v2g1' || true)
n_stmt=0
for a in $accts; do
  st=$(get "/v1/accounts/$a/statement?from=$from&to=$to")
  want=$(jq -r '[(.tiers | to_entries[] | select(.value.amount != "0") | "\(.key)=\(.value.amount)"), (select(.points.amount != "0") | "points=\(.points.amount)")] | sort | join(" ")' <<<"$st")
  got=$(q "SELECT coalesce(string_agg(tier || '=' || total, ' ' ORDER BY tier || '=' || total), '') FROM (SELECT tier, sum(amount) total FROM statements
    WHERE address = '$a' AND interval_start_s >= $from AND interval_start_s < $to GROUP BY tier HAVING sum(amount) <> 0) x")
  [ -n "$want" ] && n_stmt=$((n_stmt + 1))
  check "statement of $a" "$got" "$want"
done
[ "$n_stmt" -ge 5 ] || { echo "FAIL only $n_stmt accounts with a statement line"; fails=$((fails + 1)); }
check "pool members' market revenue is theirs" \
  "$(q "SELECT count(*) > 0 FROM statements s JOIN trades t ON t.interval_start_s = s.interval_start_s AND t.pool_id IS NOT NULL
        WHERE s.tier = 'market_revenue' AND s.address <> t.seller")" "t"

# The obvious questions answer (docs/INDEXER.md): energy per zone per day, prices, earnings per month.
q "SELECT m.zone, to_timestamp(i.interval_start_s)::date, sum(i.export_wh) FROM meter_intervals i JOIN meters m USING (meter_id) GROUP BY 1, 2" >/dev/null
q "SELECT address, date_trunc('month', to_timestamp(interval_start_s)), tier, denom, sum(amount) FROM statements GROUP BY 1, 2, 3, 4" >/dev/null

# 3. Live: another market cycle while the follower follows.
echo "==> a market cycle on the devnet while an indexer follows it live"
V2G_DEVNET_DIR=$devnet V2G_BUILD_DIR=$build "$here/../../scripts/devnet" market >"$work/market.log" 2>&1 ||
  { echo "FAIL the market cycle:"; tail -20 "$work/market.log"; exit 1; }
# The follower reaches the node's height after the cycle's settlement (a block written as soon as
# its events are in), then stops wherever it is.
tip=$(get /v1/status | jq -r .latest_height)
for _ in $(seq 1 300); do
  [ "$(psql_in live "SELECT height FROM indexer_state")" -ge "$tip" ] && break
  sleep 0.1
done
check "the live indexer keeps up with the node" "$(psql_in live "SELECT height >= $tip FROM indexer_state")" "t"
kill -0 "$follower" 2>/dev/null || { echo "FAIL the live indexer stopped:"; cat "$work/live.log"; exit 1; }
kill -9 "$follower"
wait "$follower" 2>/dev/null || true
follower=""
gone live
live=$(psql_in live "SELECT height FROM indexer_state")
new_trades=$(psql_in live "SELECT count(*) FROM trades WHERE settled") old_trades=$(q "SELECT count(*) FROM trades WHERE settled")
[ "$new_trades" -gt "$old_trades" ] || { echo "FAIL the live indexer saw no new settled trade ($new_trades, before $old_trades)"; fails=$((fails + 1)); }
index after --stop-at "$live" >"$work/after.log" 2>&1 || { cat "$work/after.log"; exit 1; }
same_tables live after "the live follower equals an index of the same blocks made after the fact"

if [ "$fails" -gt 0 ]; then echo "indexer test: $fails checks failed"; exit 1; fi
echo "indexer test: all checks passed"
