// Every bound in the system, in one place, with the reason for its number. Consensus-relevant
// limits that a chain may tune live in genesis parameters; these are their defaults and the hard
// ceilings no genesis may exceed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace v2g::limits {

// A transfer is ~180 bytes; meter batches (later) carry up to a few hundred readings of ~150
// bytes. 64 KiB leaves room for those while keeping one tx's verify+execute cost bounded.
constexpr int64_t kTxBytesDefault = 16 * 1024;
constexpr int64_t kTxBytesCeiling = 64 * 1024;
// Free text is for humans, not storage.
constexpr int64_t kMemoBytesDefault = 256;
constexpr int64_t kMemoBytesCeiling = 1024;
// One block must be verified (~50 us per signature) well inside a one-second block time on one
// core: 10,000 txs is 0.5 s of verification at worst; bytes bound the fsync and the gossip.
constexpr int64_t kBlockTxsDefault = 10000;
constexpr int64_t kBlockTxsCeiling = 50000;
constexpr int64_t kBlockBytesDefault = 4 * 1024 * 1024;
constexpr int64_t kBlockBytesCeiling = 16 * 1024 * 1024;
// Fee units per block (params.block_units_max; contracts/app.h TxFeeUnits): one unit is about one
// Ed25519 verification plus one new record, on every validator: admitting a unit costs each node
// ~75 us (verify and apply), executing it ~25 us. The floor lets the largest tx (1 +
// kReadingsPerTxMax units) fit; the default is sized for the reference machine, four validators
// on two cores (the devnet and the attack test): 500 units keep a block under paid spam near 0.4 s
// there (docs/DESIGN.md "Per-block work"). A network of real servers raises it in its genesis.
constexpr int64_t kBlockUnitsMin = 1 + 256;
constexpr int64_t kBlockUnitsDefault = 500;
constexpr int64_t kBlockUnitsCeiling = 1'000'000;

// Denomination names: short tickers like "CNY", "PTS".
constexpr size_t kDenomNameMin = 2;
constexpr size_t kDenomNameMax = 16;
// Distinct denominations one account may hold: keeps an account record small.
constexpr size_t kAccountDenomsMax = 64;
// Chain id: "v2g-devnet", "v2g-guangdong-1".
constexpr size_t kChainIdMax = 50;
// Validators in genesis (consensus cost grows with the set).
constexpr size_t kValidatorsMax = 150;
constexpr size_t kValidatorNameMax = 64;
// A validator's voting power (genesis and governance): 150 of them summed and tripled stay far
// from overflowing int64.
constexpr int64_t kValidatorPowerMax = int64_t{1} << 50;
// Governance never removes a validator from a set of this many or fewer (a set that small can
// still grow): below four, one faulty validator is a third of the set.
constexpr size_t kValidatorsMin = 4;
// A validator rotates its keys at most once per this many heights: each rotation stores a copy of
// the whole set (up to 150 records, ~20 KiB) for good, so this bounds what rotations can add to
// every node's state (150 validators rotating as often as they may: ~30 MiB a day at one block a
// second). About three hours at one block a second.
constexpr int64_t kValidatorKeyRotationHeightsMin = 10'000;
// Evidence of an equivocation is accepted for votes at most this many heights old (CometBFT's
// MaxAgeNumBlocks default): the keys of validators removed or rotated long ago cannot mint
// "equivocations" of heights nobody needs to judge any more.
constexpr int64_t kEvidenceMaxAgeHeights = 100'000;
// A software upgrade's height is at most this far past the block its proposal executes in (about
// 115 days at one block a second): a plan is for a release being rolled out, not a date in years.
constexpr int64_t kUpgradeHeightsAheadMax = 10'000'000;
// An upgrade's name ([a-zA-Z0-9._-], as a validator's) and version ("MAJOR.MINOR.PATCH", each at
// most 9 digits).
constexpr size_t kUpgradeNameMax = 64;
constexpr size_t kVersionMax = 29;

// Mempool: 2,000 txs is four blocks of backlog at the default block_units_max, and bounds the
// re-check of what is left after every block (one tx application each, ~25 us, on every node:
// node/mempool.h); 64 MiB bounds memory. A single sender may queue 256 txs so one client cannot
// fill the pool on its own.
constexpr int64_t kMempoolTxsDefault = 2000;
constexpr int64_t kMempoolBytesDefault = 64 * 1024 * 1024;
// Past this share of its txs or bytes limit the mempool admits only txs that pay more per fee
// unit than the cheapest it holds, so a pool full of cheap spam still takes a tx that pays more
// (node/mempool.h "priority").
constexpr int64_t kMempoolSoftPercent = 75;
// The fee a node suggests (GET /v1/status mempool.fee_per_unit) beats the lowest rate of any of
// the last this many blocks that were at least kMempoolFullBlockPercent full: one turn of four
// validators, so a lull in spam (the pool drained, a block a little short) does not drop the
// suggestion to fee_min while the spam is still coming (node/mempool.h).
constexpr size_t kMempoolFullBlocksRemembered = 4;
constexpr int64_t kMempoolFullBlockPercent = 75;
constexpr int64_t kMempoolPerSenderDefault = 256;
// Fee units pending ([mempool] units_max): what bounds the re-check after every block, since one
// unit is one tx or reading applied again (a pool of 2,000 readings batches would be ~500,000
// applications). 2,000 units is four blocks at the default block_units_max.
constexpr int64_t kMempoolUnitsDefault = 2000;

// HTTP: a request body holds one tx (hex doubles it) plus JSON framing.
constexpr size_t kHttpBodyBytesMax = 2 * kTxBytesCeiling + 4096;
// HTTP request header (request line included): a GET with every query parameter of the longest
// listing is under 1 KiB; 8 KiB is Beast's and most proxies' default. Larger: 431 and close.
constexpr size_t kHttpHeaderBytesMax = 8 * 1024;
// The longest request path routed (414 past it). Route patterns are std::regex, whose matcher
// recurses once per character: a path of several KiB overflowed a worker's stack under ASan.
// No API path is near this long (ids are at most 64 bytes).
constexpr size_t kHttpPathBytesMax = 1024;
// ---- the API server (node/api/http_server.h; docs/DESIGN.md "API limits"). Each is the default
// of a key in config.toml [api]; the config accepts the ranges given there.
// Connections open at once. An open connection costs a socket (a file descriptor) and, while it
// reads a request, at most ~16 KiB of buffers (the 8 KiB header limit, a 4 KiB read chunk, the
// parser), never a thread, so 256 is ~4 MiB; the answers being written are bounded apart, by
// kApiAnswerBytesMax. At the cap a new client takes the place of the longest-idle keep-alive
// connection, else of the slowest (fewest bytes per second) of those reading a request (so
// tricklers cannot hold every place, and a fast reconnecting attacker evicts its own tricklers
// before an honest slow upload), or gets 503 when every connection is in a handler or writing.
constexpr int64_t kApiConnectionsMaxDefault = 256;
// Connections open at once from one client address (an IPv6 client: its /64), so that one
// address cannot fill connections_max: its next one gets 503 with Retry-After. 8 is more than a
// browser (6 per host) or a wallet (1) opens. Every client of a reverse proxy comes from the
// proxy's address (127.0.0.1 behind a local one): there, set it to connections_max and let the
// proxy limit per client.
constexpr int64_t kApiConnectionsPerAddressMaxDefault = 8;
// The least time a reader's rate (bytes per second, compared when a newcomer at the cap needs its
// place) is taken over: a connection reading for 5 ms with its 50-byte header is judged as 50 B/s,
// not 10 KB/s, so an attacker's fresh tricklers (a byte or two) are slower than any honest client
// that sent its header in one packet. Not a minimum age to be evicted: that let an attacker who
// reconnects faster keep every reader younger than it (newcomers got 503, attack_test), or leave
// an honest upload the only reader old enough to go.
constexpr int64_t kApiEvictAgeMinMs = 1000;
// Reading connections a newcomer at the cap compares (oldest first) to pick the slowest: the
// network thread's work per accept at the cap stays bounded whatever connections_max is.
constexpr int64_t kApiEvictScanMax = 1024;
// File descriptors kept free for everything else in the node (LevelDB's table files, P2P
// sockets, logs) when the API sizes itself against RLIMIT_NOFILE: at Start the soft limit is
// raised towards the hard one to fit connections_max + this, and connections_max is lowered
// (with a warning) when even the hard limit is too low, so accept() never takes the store's fds.
constexpr int64_t kApiFdReserve = 256;
// Bytes of answers held at once by connections writing them (a /v1/blocks/{h} of a full block
// is several MiB). An answer is held until the client has read it or the write deadline passes,
// so without a bound 256 connections that never read could pin GiBs; 64 MiB is a dozen of the
// largest answers in flight, far more than honest clients need at once. An answer that would
// pass it is replaced by a small 503 with Retry-After.
constexpr int64_t kApiAnswerBytesMax = int64_t{64} << 20;
// The slowest reader the write deadline allows for: writing an answer may take
// write_timeout_ms + size / this, so an honest slow client still fetches a large block
// (4 MiB at 64 KiB/s is a minute) while one that reads nothing is cut at write_timeout_ms.
constexpr int64_t kApiWriteBytesPerSMin = 64 * 1024;
// Requests waiting for a worker thread (api.threads) beyond those running. A handler reads one
// snapshot and answers in milliseconds, so 64 queued is well under a second of work; past it
// the API answers 503 with Retry-After instead of letting latency grow without bound.
constexpr int64_t kApiQueueMaxDefault = 64;
// POST /v1/txs?wait=commit requests waiting for their commit at once, on their own threads so
// that waits (up to kWaitCommitMsMax) never hold the workers; one more gets 503. A wallet that
// needs more polls GET /v1/txs/{hash} instead.
constexpr int64_t kApiWaitSlotsDefault = 32;
// POST /v1/txs/batch (node/api/txs.cc): txs in one request. Each is admitted exactly as one POST
// /v1/txs (policy checks, then one ~40 us verify, then one application), so a batch costs what
// its txs would cost one by one, minus the HTTP round trips; this bound caps the verdicts one
// answer holds (~1,000 x at most ~400 bytes) and the handler time of a batch of cheap refusals.
// Real txs meet kHttpBodyBytesMax first (~370 transfers of ~180 bytes, hex and quoted), so a
// batch of them holds a batch thread ~25 ms at most on the reference machine.
constexpr int64_t kApiBatchTxsMax = 1000;
// Batches handled at once, on their own threads (niced like the workers), and waiting for one:
// a batch never takes a worker from the single-tx path and reads, and a full batch pool answers
// 503 at once. 4 threads keep both cores of the reference machine busy with batches while single
// requests keep their 16 workers; 16 waiting are at most ~16 x 25 ms / 2 cores = 0.2 s of work.
constexpr int64_t kApiBatchThreadsDefault = 4;
constexpr int64_t kApiBatchQueueMaxDefault = 16;
// GET /v1/stream (Server-Sent Events) followed at once, each on its own stream thread (niced like
// the workers) that mostly sleeps waiting for the next block; one more gets 503. 64 covers the
// operator's dashboards, explorers and wallets watching one node; an explorer for the public
// belongs behind a fan-out proxy. Memory per stream: the block it reads and one piece in flight
// (kStreamPieceBytesMax); a client address has at most connections_per_address_max of them.
constexpr int64_t kApiStreamSlotsDefault = 64;
// A stream's events are written in pieces of at most this many bytes (several events each, or
// one larger event alone: a tx's JSON, bounded by tx_bytes_max), each waited for: a client that
// does not take a piece within write_timeout_ms plus its size at kApiWriteBytesPerSMin is cut
// off, so a stream holds the block it reads and one piece, never a backlog.
constexpr size_t kStreamPieceBytesMax = 64 * 1024;
// A comment line on a quiet stream this often: proxies keep it open, and a client that is gone
// is found out within one write timeout (even when no block comes, create_empty_blocks = false).
constexpr int64_t kStreamKeepaliveMs = 15000;
// From the first byte of a request to the end of its header, and from there to the end of its
// body (kHttpBodyBytesMax at a slow 64 KiB/s is ~2 s): a client trickling bytes (slow loris)
// is cut off after these.
constexpr int64_t kApiHeaderTimeoutMsDefault = 5000;
constexpr int64_t kApiBodyTimeoutMsDefault = 10000;
// A keep-alive connection with no request in progress is closed after this (it costs no thread,
// only a connection slot, and at the cap it is the first to go).
constexpr int64_t kApiIdleTimeoutMsDefault = 30000;
// Writing one answer (at most a few MiB: a page of blocks) to a client that does not read, plus
// the answer's size at kApiWriteBytesPerSMin.
constexpr int64_t kApiWriteTimeoutMsDefault = 10000;
// Requests served on one keep-alive connection before it is closed (the client reconnects), so
// one client cannot hold a connection forever.
constexpr int64_t kApiRequestsPerConnMax = 1000;
// Seconds in the Retry-After of a 503 when the workers or wait slots are full: a handler takes
// milliseconds, so a second later there is room unless the node is under sustained attack.
constexpr int64_t kApiRetryAfterS = 1;
// /v1/blocks?limit= caps a page so one request cannot pin a server thread.
constexpr int64_t kBlocksPageMax = 100;
// Records a listing may pass over that do not match a filter no index serves (e.g. /v1/meters with
// owner and zone: the owner's index, then the zone compared record by record), per request, on top
// of the page. When they run out the page ends early with the cursor where the walk stopped, so an
// anonymous filter that matches nothing costs ~2,000 key reads, not the whole registry (a few ms).
constexpr int64_t kApiListSkipMax = 2'000;
// Signed reads (node/api/access.h): a request's signing time may differ from the node's clock by
// at most this (clients' clocks drift; NTP keeps them within seconds). The node remembers each
// (key, nonce) it took until its signed time + 2 x this by its clock, so a replay is refused as a
// replay while the time check would still pass it, even across a clock stepped back by up to this.
constexpr int64_t kApiReadWindowMs = 30'000;
// Nonces remembered at once (a 16-byte digest each, ~200 bytes with the indexes: ~40 MiB full),
// and at most kApiReadNoncesPerClientMax from one client address (an IPv6 client's /64): one
// client's signed reads get 503 past its share, and it takes 20 clients to fill the record, which
// then answers 503 to new signed reads until entries age out (public reads are not affected).
// 10,000 in 90 s is over 100 signed reads a second from one address: far above a wallet's needs.
constexpr int64_t kApiReadNoncesMax = 200'000;
constexpr int64_t kApiReadNoncesPerClientMax = 10'000;
// State records (or x/ keys deleted, or block summaries) per WriteBatch when the node-local indexes
// are rebuilt at open (node/store/store.h Reindex): a record adds at most ~7 index keys of under
// 100 bytes and a few totals, so a batch holds a few MiB however large the state (one batch for
// the whole state grew with it: GiBs for a chain with millions of trades).
constexpr int64_t kReindexBatchRecordsMax = 10'000;
// Versions (heights) of the state tree a node keeps for proofs (contracts/state_tree.h,
// node/store/store.h): a day of 1 s blocks. An older height's proof answers 404 naming the oldest
// kept. Each version costs the nodes its block rewrote (about depth x keys changed).
constexpr int64_t kStateVersionsKeptDefault = 86'400;
// Stale tree records one commit deletes at most: a block of 50,000 changed keys in a trie of a
// million leaves marks ~1,000,000; a backlog is worked off by the next blocks.
constexpr int64_t kStateTreePruneRecordsPerBlock = 1'000'000;
// /v1/evidence?limit= caps a page of committed evidence (each holds two signed votes).
constexpr int64_t kEvidencePageMax = 100;
// ?wait=commit waits at most this long before answering "accepted, not yet committed".
constexpr int64_t kWaitCommitMsDefault = 10000;
constexpr int64_t kWaitCommitMsMax = 60000;

// ---- meters (contracts/meters.h)
// Meter ids ("CN-GD-SZ-00042:ccs1") and zones ("GD-SZ") are short labels, not storage.
constexpr size_t kMeterIdMax = 64;
constexpr size_t kZoneMax = 32;
// Zones in a genesis: a province has tens of distribution zones; each zone can hold a market per
// delivery interval within the trading window, so this also bounds the number of open markets.
constexpr int64_t kZonesMax = 1024;
// A SubmitReadings reading is ~150 bytes encoded: 256 of them is ~38 KiB, inside the 64 KiB tx
// ceiling, and costs ~13 ms of Ed25519 verification, so one batch cannot stall a block.
constexpr int64_t kReadingsPerTxMax = 256;
static_assert(kBlockUnitsMin == 1 + kReadingsPerTxMax, "the largest readings batch must fit in a block");
// Meters in one RegisterMeters: each costs one proof-of-possession verification (Ed25519, or
// ECDSA for an OCMF meter) and ~3 new records; its encoding is ~145-1,500 bytes, so the tx's
// size binds first (at the default tx_bytes_max, 16 KiB, ~110 native meters fit). The same count
// as a readings batch keeps the block floor above.
constexpr int64_t kMetersPerTxMax = kReadingsPerTxMax;
// OCMF records in one SubmitOcmf: a record is 0.5-8 KiB (common/ocmf.h) and costs one ECDSA
// verification (~0.1 ms for P-256) plus a bounded JSON parse; the tx size ceiling binds first
// for large records.
constexpr int64_t kOcmfRecordsPerTxMax = 32;
// 100 MW: far above any single meter (the largest station discharge seen is 1,052 kW), low
// enough that power x seconds x permille stays far from int64 overflow.
constexpr int64_t kMeterPowerWMax = 100'000'000;
// Vehicle batteries: 1 kWh (keeps cycles_milli = export*1000/capacity <= export) to 10 MWh.
// A meter's own event enrollments and program memberships open at once (a transfer lists them;
// the per-meter index that finds them never holds more than this).
constexpr int64_t kMeterOpenEnrollmentsMax = 32;
// Open obligations a refused transfer names (the count is always given in full).
constexpr size_t kMeterObligationsListed = 16;
constexpr int64_t kBatteryCapacityWhMin = 1'000;
constexpr int64_t kBatteryCapacityWhMax = 10'000'000;
// Battery history: one state-of-health sample per day, two years of them; older ones drop off.
constexpr int64_t kBatterySamplesMax = 730;
// Settlement intervals: 10 s to 1 day, and a whole number of them per day so intervals and days
// share boundaries. Markets use 900 s; intervals under a minute are for test networks, where ten
// intervals of attested energy must pass in minutes, not hours.
constexpr int64_t kSettlementIntervalSDefault = 900;
constexpr int64_t kSettlementIntervalSMin = 10;
constexpr int64_t kSettlementIntervalSMax = 86400;
// How far past block time a reading's interval may end: block time (BFT time) lags the validators'
// clocks by about a block and meters' clocks drift, but an interval that has not ended cannot be attested.
constexpr int64_t kReadingFutureSkewSDefault = 60;
constexpr int64_t kReadingFutureSkewSMax = 3600;
// Energy allowance over max power x duration: meter accuracy classes are within 1-2 %, and the
// registers count whole Wh, so a few Wh of rounding at each end.
constexpr int64_t kReadingEnergyTolerancePermilleDefault = 20;
constexpr int64_t kReadingEnergyTolerancePermilleMax = 1000;
constexpr int64_t kReadingEnergyToleranceWhDefault = 10;
constexpr int64_t kReadingEnergyToleranceWhMax = 1'000'000;
// HTTP: one page of /v1/meters or /v1/meters/{id}/readings.
constexpr int64_t kMetersPageMax = 500;
// OCMF records are up to 8 KiB each: 50 keep a page under ~400 KiB.
constexpr int64_t kOcmfRecordsPageMax = 50;

// ---- energy market (contracts/market.h)
// One order: up to 1 GWh (the largest pilot event moved ~0.5 GWh in a day) at up to 10^12
// minimal units per kWh; the product is checked against int64 separately.
constexpr int64_t kOrderEnergyWhMax = 1'000'000'000;
constexpr int64_t kOrderPriceMax = 1'000'000'000'000;
// Orders per market: clearing sorts them all in one block; 200,000 clear in well under 0.1 s.
constexpr int64_t kOrdersPerMarketMax = 200'000;
// Work bound of one block's market timers (issue 12): due clearings and settlements run in due
// order until this many orders and contracts have been processed; the rest stay due and run in the
// next blocks. At least one market runs per block, so the queue always moves (one market holds at
// most kOrdersPerMarketMax orders and contract proposals together). Markets in many zones due at the same gate closure can no
// longer make one block do all of their work.
constexpr int64_t kMarketWorkPerBlockMax = 200'000;
// Defaults and ceilings of the market's genesis parameters.
constexpr int64_t kGateClosureSDefault = 300;      // 5 minutes before delivery
constexpr int64_t kGateClosureSMax = 86400;
constexpr int64_t kMarketHorizonSDefault = 86400;  // day-ahead
constexpr int64_t kMarketHorizonSMax = 7 * 86400;
constexpr int64_t kMarketGraceSDefault = 300;      // readings have 5 minutes after the interval
constexpr int64_t kMarketGraceSMax = 86400;
constexpr int64_t kCollateralBpsDefault = 1000;    // 10 % of the sell's notional
constexpr int64_t kPenaltyBpsDefault = 1000;       // 10 % of the undelivered value
constexpr int64_t kBpsMax = 10000;
// ---- grid services (contracts/grid.h)
// Prior-days baselines: the average of the same interval on the previous 5 days (weekday-blind,
// as simple utility baselines are); at most 30 days of history are read per meter and interval.
constexpr int64_t kBaselineDaysDefault = 5;
constexpr int64_t kBaselineDaysMax = 30;
// Events last at most a week; programs at most a year.
constexpr int64_t kEventDurationSMax = 7 * 86400;
// An event starts, a tariff takes effect, at most this far ahead (params.grid_horizon_s): an
// enrollment holds a meter, and a pool's members, no longer than this plus kEventDurationSMax.
constexpr int64_t kGridHorizonSDefault = 30 * 86400;

// Governance (contracts/gov.h). A proposal's voting period, in block time: long enough for every
// member of a consortium to read and vote (Cosmos' default is two days), never so long that an
// open proposal pins the slots below for months. Set by params.gov_voting_period_s (0 in a record
// written before it existed: the default).
constexpr int64_t kGovVotingPeriodSDefault = 2 * 86400;
constexpr int64_t kGovVotingPeriodSMin = 10;
constexpr int64_t kGovVotingPeriodSMax = 30 * 86400;
// Open proposals: every block's timer pass may close all of them, and each close counts the votes
// of at most kValidatorsMax validators, so this bounds a block's governance work (64 x 150 vote
// reads). Per proposer, so one member (or its stolen key) cannot take every slot.
constexpr int64_t kGovOpenProposalsMax = 64;
constexpr int64_t kGovOpenProposalsPerProposerMax = 8;
// A proposal's title and description (its reasons, a link to the full text): shown by every
// explorer and wallet, and kept in state for good.
constexpr size_t kGovTitleBytesMax = 140;
constexpr size_t kGovDescriptionBytesMax = 8 * 1024;
constexpr int64_t kGridHorizonSMax = 366 * 86400;
constexpr int64_t kProgramDurationSMax = 366 * 86400;
// Amounts (budgets) and rates are bounded so every product stays inside int64.
constexpr int64_t kBudgetMax = 1'000'000'000'000'000;  // 10^15 minimal units
// Meters in one pool (issue 12), counted until a departure completes (a member that asked to
// leave still counts). A pool's event enrollment is one indivisible step of the grid pass, 1 + its
// members records (its performance is shared pro rata over all of them at once), so this bounds
// the largest step: 1,001 records, a tenth of kGridWorkPerBlockMax (asserted below), so a block
// that takes one still has room for others and the per-block bound holds with no exception. It
// also bounds what one tx reads (a pool's sell or contract checks capacity over every member,
// PoolCapacityWh) and what settling one pooled obligation reads. 1,000 cars and chargers is a
// large aggregation in one zone today; an aggregator with more runs several pools.
constexpr int64_t kPoolMembersMax = 1'000;
// Intervals settled per block when a chain catches up after a halt (each is a scan of enrolled
// meters and open events and programs).
constexpr int64_t kGridIntervalsPerBlockMax = 96;
// Work bound of one block's grid pass (issue 12), in records visited: an open event, an event
// enrollment (measured, or paid at the event's end), a tariff enrollment, an open program, a
// program member, a pool departure. A pool's enrollment counts 1 + the pool's members and is not
// split (its performance is shared pro rata over all of them at once): the largest indivisible
// step, at most 1 + kPoolMembersMax, which this bound must hold (asserted below). When the next
// record does not fit, the interval's pass stops there (s/grid_cursor records where) and resumes in
// the next block; at least one record is done per block, so the pass always moves (a bound below
// the largest step, as tests pass to RunGridTimers, would let that one step exceed it). Each record
// costs at most ~40 key reads and writes (a prior-days baseline reads kBaselineDaysMax intervals; a
// bill reads the meter, tariff, energy and claim and writes balances, debt and statement), so a
// block does at most ~400,000 of them here (~1 s on LevelDB at worst, far less in practice),
// however many enrollments and members txs have made.
constexpr int64_t kGridWorkPerBlockMax = 10'000;
static_assert(kGridWorkPerBlockMax >= 1 + kPoolMembersMax,
              "a pool's enrollment is one indivisible step: the block bound must hold it");

// ---- fees (contracts/app.h TxFeeUnits, docs/DESIGN.md "The cost of state")
// params.fee_min is per fee unit; a tx has at most 1 + kReadingsPerTxMax units, so the required
// fee fee_min x units <= 10^12 x 257 ~ 2.6e14 fits int64 with room, and so does any balance check.
constexpr int64_t kFeeMinMax = 1'000'000'000'000;
// What `v2gd init` and `v2gd testnet` write: 1 minimal unit per fee unit (0.01 CNY; a batch of 96
// readings pays 0.97 CNY, ~1% of what a day of V2G discharge at 7 kW earns).
constexpr int64_t kFeeMinDefault = 1;
// The most the wallet pays on its own, per fee unit, when the node says the chain requires a fee
// (GET /v1/params): a node that lies about fee_min cannot make a wallet sign its balance away. A
// higher fee is paid only when the user names it (--fee).
constexpr int64_t kAutoFeeMinMax = 100;

// HTTP: one page of markets, orders or trades.
constexpr int64_t kMarketPageMax = 500;

// ---- consensus (consensus/tendermint.h, node/bft/)
// A Byzantine validator could send votes for arbitrarily high rounds to make us keep state for
// them; rounds beyond this lookahead are ignored (a correct network is never that far ahead
// within one height: each round takes at least its timeouts).
constexpr int32_t kConsensusRoundsAheadMax = 64;
// Early messages for the next height, held (verified) until it starts. Per validator: a proposal
// and two votes of each type for the first rounds, with room to spare; in all, bounded in bytes
// too, since a proposal carries a whole block.
constexpr size_t kConsensusHeldPerValidatorMax = 64;
constexpr size_t kConsensusHeldMessagesMax = 4096;
constexpr int64_t kConsensusHeldBytesMax = 2 * kBlockBytesCeiling + 4 * 1024 * 1024;

// ---- what one peer can cost a node (node/p2p/, node/bft/, node/tx_relay.h)
// The largest P2P message: a block of the ceiling size plus its header, commit (150 validators x
// ~150 bytes) and protobuf framing, with a wide margin (node/p2p/p2p.h kP2pMessageBytesMax).
constexpr int64_t kPeerMessageBytesMax = kBlockBytesCeiling + 1024 * 1024;
// What a queued inbound message costs beyond its payload (queue entry, string and key): charged
// per message, so a flood of empty messages is bounded by bytes too, not only by count.
constexpr int64_t kInboxMessageOverheadBytes = 128;
// Messages from one peer waiting for the consensus thread (consensus, block sync, evidence
// channels), in bytes. Room for two of the largest messages: a peer's reads pause as soon as its
// next message might not fit (so in practice one full block waits while votes keep flowing), and
// resume when the consensus thread has taken enough; nothing an honest peer sends is dropped.
constexpr int64_t kConsensusInboxPeerBytesMax =
    2 * (kPeerMessageBytesMax + kInboxMessageOverheadBytes);
// All peers together (~136 MiB at the block ceiling, ~4x less memory in practice at the default
// 4 MiB blocks): four peers' whole budgets. Past it every peer's reads pause until the consensus
// thread catches up; it serves peers in turn, so one flooding peer never starves the others.
constexpr int64_t kConsensusInboxBytesMax = 4 * kConsensusInboxPeerBytesMax;
// Txs gossiped by peers wait for the tx thread (signature check + mempool admission, ~50 us each)
// in a queue of their own: per peer 2 MiB (~11,000 transfers, about one full block's worth), 16
// MiB in all. Txs over it are dropped, not paused for: tx gossip is best effort (every node
// re-gossips what it admits) and must never hold up the same peer's votes.
constexpr int64_t kTxInboxPeerBytesMax = 2 * 1024 * 1024;
constexpr int64_t kTxInboxBytesMax = 16 * 1024 * 1024;
// Tx gossip (node/tx_gossip.h): admitted txs (from the API and from peers) are sent to each peer
// in batches, many txs per mempool-channel message, instead of one encrypted message per tx per
// peer. A batch is flushed when it holds kGossipBatchTxsMax txs, when the next tx would take it past
// kGossipBatchBytesMax, or kGossipFlushDelayMs after its first tx was queued, whichever comes first.
// A receiver refuses (and counts against the peer) a batch over either max, unread.
// 1,024 txs: at the 10,000 tx/s the block limits allow, a batch fills in ~100 ms, far longer than
// the flush delay, so in practice batches are closed by the delay; the cap only bounds the work
// (1,024 signature checks, ~50 ms) one message can queue on the receiver's tx thread.
constexpr int64_t kGossipBatchTxsMax = 1024;
// 256 KiB: room for ~1,300 transfers or three txs of the ceiling size, so the count cap usually
// closes a batch first; an eighth of kTxInboxPeerBytesMax, so a peer's inbox holds 8 batches.
constexpr int64_t kGossipBatchBytesMax = 256 * 1024;
// 5 ms: what batching adds to a tx's path to the next proposer, against a 1,000 ms block interval
// and commit latencies of hundreds of ms. At 10,000 tx/s it still packs ~50 txs per message
// (~200 messages/s per peer instead of 10,000); at 100 tx/s batches are small, and so is the load.
constexpr int64_t kGossipFlushDelayMs = 5;
// Txs waiting to be flushed, all peers together: 2 s at 10,000 tx/s (a flush runs every 5 ms, so a
// full queue means the P2P side cannot keep up). Past either bound a tx is not gossiped (counted):
// gossip is best effort, it must never block the API or the relay, and the tx is still in this
// node's mempool and is proposed from there.
constexpr int64_t kGossipQueueTxsMax = 20000;
constexpr int64_t kGossipQueueBytesMax = 8 * 1024 * 1024;
static_assert(kGossipBatchBytesMax >= 3 * (kTxBytesCeiling + 4) + 4);
static_assert(kGossipBatchBytesMax + kInboxMessageOverheadBytes <= kTxInboxPeerBytesMax);
static_assert(kGossipQueueBytesMax >= kGossipBatchBytesMax);
// Distinct peers an inbox tracks. Only authenticated, allowed peers reach it (150 validators plus
// configured nodes); a bound all the same.
constexpr size_t kInboxPeersMax = 1024;
// Peer messages the consensus thread takes in a row before it looks at its timers again, so a
// busy queue cannot delay a timeout by more than this many messages.
constexpr size_t kConsensusBatchMax = 64;
// Peer connect/disconnect events waiting for the consensus thread; more are dropped (connections
// are bounded by the allowed set and by the handshake limits below).
constexpr size_t kConsensusEventsMax = 1024;
// Pre-authentication handshakes: anyone who reaches the P2P port can start one, and each costs an
// X25519 exchange, an Ed25519 verify and one of the 64 pending slots (kP2pHandshakesPendingMax).
// Per source address (an IPv4 address, or an IPv6 /64, which one host usually owns whole) at most
// 8 at once, so one host cannot take all the slots; 8 leaves room for a devnet's nodes that share
// 127.0.0.1. And a token bucket per source: bursts of 32, refilled at 8 per second; an honest node
// dials each peer at most every 100 ms, backing off to 5 s.
constexpr int64_t kHandshakesPendingPerIpMax = 8;
constexpr int64_t kHandshakeBurstPerIp = 32;
constexpr int64_t kHandshakesPerIpPerSecond = 8;
// Source addresses the handshake limiter remembers; when full, the least recently seen address
// with no handshake in progress is forgotten (at most 64 have one in progress).
constexpr size_t kHandshakeIpsTrackedMax = 4096;
// Per prefix: addresses are cheap to multiply. A rented IPv4 /24 holds 256 addresses and an IPv6
// /48 65,536 /64s, each with buckets of its own above, so every handshake also takes from the
// bucket of its IPv4 /24 or IPv6 /48 (an IPv6 address that embeds an IPv4 one, 6to4 or Teredo,
// counts as that IPv4 address and /24, else each IPv4 host would own 65,536 fresh /64s). 4 times
// the per-address numbers: a subnet shared by a few honest nodes (an operator's rack, a devnet on
// 127.0.0.0/24) still fits, while renting a /24 buys 4 addresses' worth, not 256.
constexpr int64_t kHandshakesPendingPerPrefixMax = 4 * kHandshakesPendingPerIpMax;  // 32
constexpr int64_t kHandshakeBurstPerPrefix = 4 * kHandshakeBurstPerIp;             // 128
constexpr int64_t kHandshakesPerPrefixPerSecond = 4 * kHandshakesPerIpPerSecond;   // 32
// Prefixes remembered, forgotten like the addresses above (at most 64 have a handshake pending).
constexpr size_t kHandshakePrefixesTrackedMax = 4096;
// Over all sources, one bucket, against an attacker with many prefixes (a botnet): it bounds the
// pre-authentication crypto the P2P thread runs (an ephemeral X25519 key, the key exchange and an
// Ed25519 verify: ~0.12 ms on a 2-core dev machine) to 256/s x 0.12 ms, about 3% of a core. An
// honest node never needs that many: its peers are the allowed set (at most kValidatorsMax = 150
// validators plus a few configured full nodes), each keeping one long-lived connection and, while
// it is down, redialling after 100 ms doubling to 5 s (5 tries in the first 5 s). A burst of 1,024
// lets all 150 reconnect at once after a restart with 6 tries each; 256/s refills it in 4 s. The
// cost: a flood from many prefixes can keep new connections out while it lasts (as an attacker
// holding the 64 pending slots already could); connected peers are not affected.
constexpr int64_t kHandshakeBurstGlobal = 1024;
constexpr int64_t kHandshakesGlobalPerSecond = 256;
static_assert(kHandshakeBurstGlobal >= 6 * static_cast<int64_t>(kValidatorsMax));

}  // namespace v2g::limits
