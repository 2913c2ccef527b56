// The indexer's PostgreSQL schema, one migration per version (docs/INDEXER.md). A migration is
// applied once, in one transaction with its row in schema_migrations; a released one is never
// edited: a change is the next version.
#include "indexer/schema.h"

namespace v2g::indexer {
namespace {

// Version 1: what a node's API serves, per block. Amounts are minimal units (numeric: no
// rounding, no overflow), energy Wh, times Unix seconds (interval starts, as the API names
// intervals) or timestamptz (block times). `doc` columns keep the API's whole JSON of a row.
constexpr const char* kV1 = R"sql(
CREATE TABLE indexer_state (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  chain_id text NOT NULL,
  height bigint NOT NULL,          -- every row of blocks 1..height is here, nothing above
  block_id text NOT NULL,
  statements_before_s bigint NOT NULL DEFAULT 0,  -- statements written for intervals before this
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE blocks (
  height bigint PRIMARY KEY,
  block_id text NOT NULL UNIQUE,
  time timestamptz NOT NULL,
  num_txs integer NOT NULL,
  proposer text NOT NULL
);
CREATE TABLE txs (
  hash text PRIMARY KEY,
  height bigint NOT NULL REFERENCES blocks (height),
  index integer NOT NULL,
  signer text NOT NULL,
  op_type text NOT NULL,
  code integer NOT NULL,
  code_name text NOT NULL,
  fee_denom text,
  fee_amount numeric,
  memo text NOT NULL,
  log text NOT NULL,
  created_id bigint,
  doc jsonb NOT NULL,
  UNIQUE (height, index)
);
CREATE INDEX txs_signer ON txs (signer, height);
-- The balances the chain started with (v2g-indexer --genesis FILE).
CREATE TABLE genesis_balances (
  address text NOT NULL,
  denom text NOT NULL,
  amount numeric NOT NULL CHECK (amount > 0),
  PRIMARY KEY (address, denom)
);
-- Coins moved by a tx's own op or fee: transfer (from -> to), mint (-> to), burn and fee (from ->).
-- Market escrow, settlement and grid payouts are in trades, settlements and grid_events.
CREATE TABLE transfers (
  tx_hash text NOT NULL REFERENCES txs (hash),
  kind text NOT NULL CHECK (kind IN ('transfer', 'mint', 'burn', 'fee')),
  height bigint NOT NULL,
  from_address text,
  to_address text,
  denom text NOT NULL,
  amount numeric NOT NULL CHECK (amount > 0),
  PRIMARY KEY (tx_hash, kind)
);
CREATE INDEX transfers_from ON transfers (from_address, denom);
CREATE INDEX transfers_to ON transfers (to_address, denom);
CREATE TABLE meters (
  meter_id text PRIMARY KEY,
  kind text NOT NULL,
  zone text NOT NULL,
  owner text NOT NULL,
  operator text NOT NULL,
  registered_height bigint NOT NULL,
  deactivated_height bigint
);
CREATE INDEX meters_zone ON meters (zone);
CREATE INDEX meters_owner ON meters (owner);
-- Every reading the chain accepted (a rejected one is in its tx's doc with why).
CREATE TABLE readings (
  meter_id text NOT NULL,
  seq bigint NOT NULL,
  interval_start_s bigint NOT NULL,
  interval_end_s bigint NOT NULL,
  import_wh_total bigint NOT NULL,
  export_wh_total bigint NOT NULL,
  soc_permille integer,
  soh_permille integer,
  tx_hash text NOT NULL REFERENCES txs (hash),
  height bigint NOT NULL,
  PRIMARY KEY (meter_id, seq)
);
-- The energy the chain attested per meter and settlement interval (GET /v1/meters/{id}/readings),
-- as of the last block that brought a reading for it.
CREATE TABLE meter_intervals (
  meter_id text NOT NULL,
  interval_start_s bigint NOT NULL,
  interval_end_s bigint NOT NULL,
  import_wh bigint NOT NULL,
  export_wh bigint NOT NULL,
  readings integer NOT NULL,
  height bigint NOT NULL,
  PRIMARY KEY (meter_id, interval_start_s)
);
CREATE INDEX meter_intervals_start ON meter_intervals (interval_start_s);
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  kind text NOT NULL,              -- order | contract
  owner text NOT NULL,
  side text,
  zone text NOT NULL,
  interval_start_s bigint NOT NULL,
  energy_wh bigint NOT NULL,
  limit_price numeric,
  meter_id text,
  height bigint NOT NULL,
  tx_hash text NOT NULL REFERENCES txs (hash)
);
CREATE INDEX orders_owner ON orders (owner);
CREATE INDEX orders_market ON orders (zone, interval_start_s);
-- A market as its last cleared or settled event showed it.
CREATE TABLE markets (
  zone text NOT NULL,
  interval_start_s bigint NOT NULL,
  status text NOT NULL,
  clearing_price numeric,
  denom text,
  cleared_energy_wh bigint NOT NULL,
  delivered_energy_wh bigint,
  trades integer NOT NULL,
  cleared_height bigint,
  settled_height bigint,
  doc jsonb NOT NULL,
  PRIMARY KEY (zone, interval_start_s)
);
CREATE INDEX markets_interval ON markets (interval_start_s);
CREATE TABLE trades (
  zone text NOT NULL,
  interval_start_s bigint NOT NULL,
  index integer NOT NULL,
  buyer text,
  seller text,
  meter_id text,
  pool_id bigint,
  energy_wh bigint NOT NULL,
  price numeric NOT NULL,
  settled boolean NOT NULL,
  delivered_wh bigint,
  seller_paid numeric,
  buyer_refund numeric,
  penalty numeric,
  doc jsonb NOT NULL,
  PRIMARY KEY (zone, interval_start_s, index)
);
CREATE INDEX trades_buyer ON trades (buyer);
CREATE INDEX trades_seller ON trades (seller);
-- The settlement of each market: its totals (GET /v1/settlements?zone=&interval=).
CREATE TABLE settlements (
  zone text NOT NULL,
  interval_start_s bigint NOT NULL,
  settled_height bigint NOT NULL,
  energy_wh bigint NOT NULL,
  delivered_wh bigint NOT NULL,
  seller_paid numeric NOT NULL,
  buyer_refund numeric NOT NULL,
  penalty numeric NOT NULL,
  trades_total integer NOT NULL,
  contracts_total integer NOT NULL,
  doc jsonb NOT NULL,
  PRIMARY KEY (zone, interval_start_s)
);
-- Demand-response events with their results once settled (GET /v1/events/{id}).
CREATE TABLE grid_events (
  id bigint PRIMARY KEY,
  zone text,
  status text NOT NULL,
  created_height bigint NOT NULL,
  doc jsonb NOT NULL
);
-- What each enrollment of a settled event earned: the statement lines of event payouts.
CREATE TABLE event_payouts (
  event_id bigint NOT NULL REFERENCES grid_events (id),
  row_index integer NOT NULL,
  owner text NOT NULL,
  meter_id text,
  pool_id bigint,
  performance_wh bigint,
  payout numeric NOT NULL,
  denom text NOT NULL,
  PRIMARY KEY (event_id, row_index)
);
CREATE INDEX event_payouts_owner ON event_payouts (owner);
-- What each account earned and paid per settlement interval, by tier, as the node's statement
-- answers it (GET /v1/accounts/{a}/statement for that one interval) once grid services settled
-- the interval: market_revenue (pool shares and fees included), market_penalty, market_spent,
-- event_payout, subsidy, tariff_charge, feed_in, debt_incurred (in the market denomination) and
-- points (program payments in another denomination). Zero lines are not written. The accounts
-- asked are those the indexer saw take part in the interval: owners of meters with energy in
-- it, order owners, trade parties, members of pools that traded, enrollees of its events.
CREATE TABLE statements (
  address text NOT NULL,
  interval_start_s bigint NOT NULL,
  tier text NOT NULL,
  denom text NOT NULL,
  amount numeric NOT NULL,
  PRIMARY KEY (address, interval_start_s, tier, denom)
);
CREATE INDEX statements_interval ON statements (interval_start_s);
)sql";

constexpr Migration kMigrations[] = {
    {1,
     "blocks, txs, transfers, meters, readings, intervals, orders, markets, trades, settlements, "
     "events",
     kV1},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

}  // namespace v2g::indexer
