// The simulated world: clock and event queue, network and its schedulers, partitions, crashes,
// the disk under each WAL, and block sync. Validators' envs are in byzantine.cc, checks in
// checks.cc.
#include "tests/sim/sim.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "common/bech32.h"
#include "common/limits.h"
#include "consensus/block.h"
#include "tests/sim/world.h"

namespace v2g::sim {

std::string SchedulerName(Scheduler s) {
  switch (s) {
    case Scheduler::kRandom: return "random";
    case Scheduler::kPct: return "pct";
    case Scheduler::kTargetedDelay: return "targeted-delay";
    case Scheduler::kIsolateProposer: return "isolate-proposer";
  }
  return "?";
}

namespace {

const char* CrashPointName(int p) {
  switch (static_cast<CrashPoint>(p)) {
    case CrashPoint::kRandomTime: return "random-time";
    case CrashPoint::kAfterPrecommit: return "after-precommit";
    case CrashPoint::kBeforeWalAppend: return "before-wal-append";
  }
  return "?";
}

uint64_t Below(std::mt19937_64& rng, uint64_t n) { return n == 0 ? 0 : rng() % n; }

}  // namespace

Sim::Sim(const SimOptions& o) : opts_(o), rng_(o.seed) { SetUp(); }

void Sim::Schedule(Event e, int64_t delay) {
  V2G_ASSERT(delay >= 0);
  e.time = now_ + delay;
  e.seq = seq_++;
  queue_.push(std::move(e));
}

// Sizes, unequal powers (the Byzantine validators below 1/3 of the total), their behaviours, the
// scheduler and the faults, all from the seed. Draw order is fixed: a seed replays exactly. With
// a fixed set (SimOptions::set_changes off) the draws are those made before set changes existed,
// so the regression cases' seeds still build their scenarios; the pool, the genesis set and the
// schedule of a run with set changes add their draws in between and after.
void Sim::SetUp() {
  const int base = 4 + static_cast<int>(Below(rng_, 4));
  // With set changes, one node more than the largest set (4 to 7 validators): a node of the pool
  // is always outside the set, following.
  const int n = opts_.set_changes ? base + 1 : base;
  nodes_.resize(static_cast<size_t>(n));
  const bool equal_power = Below(rng_, 3) == 0;
  for (int i = 0; i < n; ++i) {
    Node& nd = nodes_[static_cast<size_t>(i)];
    nd.index = i;
    Bytes seed(32);
    for (auto& b : seed) b = static_cast<uint8_t>(rng_() & 0xff);
    nd.key = KeyPair::FromSeed(seed);
    nd.address = AddressBytes(AddressFromPublicKey(nd.key.public_key()));
    nd.clock_skew_ms = static_cast<int64_t>(Below(rng_, 200));
    nd.rng.seed(rng_());
    nd.power = equal_power ? 10 : 1 + static_cast<int64_t>(Below(rng_, 20));
  }
  // The genesis set, as power per node (0: not a member): everyone, or 4 to n - 1 of the pool.
  std::vector<int64_t> genesis(static_cast<size_t>(n), 0);
  if (opts_.set_changes) {
    std::vector<int> pick(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) pick[static_cast<size_t>(i)] = i;
    std::shuffle(pick.begin(), pick.end(), rng_);
    const int size = 4 + static_cast<int>(Below(rng_, static_cast<uint64_t>(n - 4)));
    for (int k = 0; k < size; ++k) {
      const size_t i = static_cast<size_t>(pick[static_cast<size_t>(k)]);
      genesis[i] = nodes_[i].power;
    }
  } else {
    for (int i = 0; i < n; ++i)
      genesis[static_cast<size_t>(i)] = nodes_[static_cast<size_t>(i)].power;
  }
  int64_t total = 0;
  for (int64_t p : genesis) total += p;
  // Byzantine nodes in a random order while their power in the genesis set stays below a third
  // (a node outside it adds none; the schedule keeps every later set so).
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  int want = opts_.force_byzantine >= 0
                 ? opts_.force_byzantine
                 : static_cast<int>(
                       Below(rng_, static_cast<uint64_t>((opts_.set_changes ? n : n - 1) / 3 + 1)));
  if (opts_.force_behaviours != 0 && want == 0) want = 1;
  int64_t byz_power = 0;
  for (int i : order) {
    Node& nd = nodes_[static_cast<size_t>(i)];
    const int64_t p = genesis[static_cast<size_t>(i)];
    if (result_.byzantine >= want || (byz_power + p) * 3 >= total) continue;
    nd.byzantine = true;
    byz_power += p;
    result_.byzantine++;
    // One to three behaviours each; the seed decides which.
    const int count = 1 + static_cast<int>(Below(rng_, 3));
    for (int b = 0; b < count; ++b) nd.behaviours |= 1u << Below(rng_, kBehaviourCount);
    if (opts_.force_behaviours != 0) nd.behaviours = opts_.force_behaviours;
    result_.behaviours |= nd.behaviours;
  }
  scheduler_ = static_cast<Scheduler>(opts_.force_scheduler >= 0 ? opts_.force_scheduler
                                                                 : static_cast<int>(Below(rng_, kSchedulerCount)));
  loss_pct_ = static_cast<int>(Below(rng_, 25));
  dup_pct_ = static_cast<int>(Below(rng_, 10));
  max_delay_ms_ = 5 + static_cast<int64_t>(Below(rng_, 400));
  side_.assign(static_cast<size_t>(n), 0);
  if (Below(rng_, 2)) {
    partition_start_ = static_cast<int64_t>(Below(rng_, 6000));
    partition_end_ = partition_start_ + 1000 + static_cast<int64_t>(Below(rng_, 6000));
    for (auto& s : side_) s = static_cast<int>(Below(rng_, 2));
  }
  priority_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) priority_[static_cast<size_t>(i)] = i;
  std::shuffle(priority_.begin(), priority_.end(), rng_);
  for (int c = static_cast<int>(Below(rng_, 4)); c > 0; --c) priority_changes_.push_back(static_cast<int64_t>(Below(rng_, kGstMs)));
  std::sort(priority_changes_.begin(), priority_changes_.end());
  for (int t = 1 + static_cast<int>(Below(rng_, 2)); t > 0; --t) targeted_.insert(static_cast<int>(Below(rng_, static_cast<uint64_t>(n))));
  isolated_until_.assign(static_cast<size_t>(n), -1);
  // A failing disk under one honest node's WAL for a while before GST (restarted after it).
  if (Below(rng_, 4) == 0) {
    disk_failing_node_ = static_cast<int>(Below(rng_, static_cast<uint64_t>(n)));
    disk_fail_start_ = 1000 + static_cast<int64_t>(Below(rng_, 6000));
    disk_fail_end_ = disk_fail_start_ + 500 + static_cast<int64_t>(Below(rng_, 3000));
    if (nodes_[static_cast<size_t>(disk_failing_node_)].byzantine) disk_failing_node_ = -1;
  }
  genesis_app_hash_ = HashString(Blake2b256("sim-genesis-" + std::to_string(opts_.seed)));
  PlanCrashes(opts_.force_crashes >= 0 ? opts_.force_crashes : static_cast<int>(Below(rng_, 3)));
  for (auto& nd : nodes_) {
    Event e;
    e.kind = Event::kAnnounce;
    e.node = nd.index;
    Schedule(e, static_cast<int64_t>(Below(rng_, kAnnounceMs)));
  }
  result_.validators = n;
  if (opts_.set_changes) {
    PlanSetChanges(genesis);
  } else {
    SetEntry e;
    e.set = MakeSet(genesis);
    e.hash = HashString(ValidatorSetHash(e.set));
    schedule_.push_back(std::move(e));
  }
  result_.summary = Describe();
}

// The set of the nodes with power (in node order, so a set is a function of the powers alone).
pb::ValidatorSet Sim::MakeSet(const std::vector<int64_t>& power) const {
  pb::ValidatorSet set;
  for (size_t i = 0; i < power.size(); ++i) {
    if (power[i] == 0) continue;
    const Node& nd = nodes_[i];
    auto* v = set.add_validators();
    v->set_name("v" + std::to_string(i));
    v->set_address(nd.address);
    v->set_consensus_pubkey(std::string(nd.key.public_key().begin(), nd.key.public_key().end()));
    v->set_node_pubkey(v->consensus_pubkey());
    v->set_power(power[i]);
  }
  return set;
}

// The governance schedule, a function of the seed alone (its own generator, drawn from the
// seed's). On the chain a change executed in block H takes effect at H+2 (contracts/gov.h); here
// only its effect is modelled: from genesis, every kSetChangeGapMin..Max heights, a change of one
// to kSetChangeStepsMax steps, each a node of the pool joining (Byzantine or honest), a member
// leaving (Byzantine or honest) or a member re-weighted, each step within what is left of the
// change's budget. The chain's rules hold for every change: the summed absolute change of every
// node's power is at most a third of the set before (contracts/gov.cc), and no set has fewer than
// limits::kValidatorsMin members. The simulation adds its own: Byzantine power stays below a third
// of each set (what safety and liveness need), and at least one node of the pool stays outside
// (a follower). A draw that breaks a rule is drawn again, up to kSetChangeAttempts times; then
// that height keeps its set. Heights past the schedule keep its last set: no chain grows faster
// than a height per kCommitDelayMs, so the schedule covers every height a run can reach.
void Sim::PlanSetChanges(std::vector<int64_t> power) {
  const size_t n = nodes_.size();
  std::mt19937_64 g(rng_());
  auto members = [](const std::vector<int64_t>& p) {
    int64_t count = 0;
    for (int64_t x : p) count += x > 0;
    return count;
  };
  auto total_of = [](const std::vector<int64_t>& p) {
    int64_t sum = 0;
    for (int64_t x : p) sum += x;
    return sum;
  };
  auto changed = [](const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    int64_t sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return sum;
  };
  SetEntry genesis;
  genesis.set = MakeSet(power);
  genesis.hash = HashString(ValidatorSetHash(genesis.set));
  schedule_.push_back(std::move(genesis));
  const int64_t last = opts_.duration_ms / kCommitDelayMs + 2;
  for (int64_t h = 1;;) {
    h += kSetChangeGapMin + static_cast<int64_t>(Below(g, kSetChangeGapMax - kSetChangeGapMin + 1));
    if (h > last) break;
    const int64_t total = total_of(power);
    for (int attempt = 0; attempt < kSetChangeAttempts; ++attempt) {
      std::vector<int64_t> next = power;
      const int steps = 1 + static_cast<int>(Below(g, kSetChangeStepsMax));
      for (int s = 0; s < steps; ++s) {
        // Each step changes one node's power by at most `left`, so the sum stays within budget.
        const int64_t left = total / 3 - changed(power, next);
        if (left <= 0) break;
        enum { kByzantineJoins, kByzantineLeaves, kHonestJoins, kHonestLeaves, kReweight };
        const int kind = static_cast<int>(Below(g, 5));
        std::vector<size_t> candidates;
        for (size_t i = 0; i < n; ++i) {
          const bool byz = nodes_[i].byzantine;
          const bool member = next[i] > 0;
          bool fits = false;
          switch (kind) {
            case kByzantineJoins:
              fits = byz && !member;
              break;
            case kByzantineLeaves:
              fits = byz && member && next[i] <= left;
              break;
            case kHonestJoins:
              fits = !byz && !member;
              break;
            case kHonestLeaves:
              fits = !byz && member && next[i] <= left;
              break;
            case kReweight:
              fits = member;
              break;
          }
          if (fits) candidates.push_back(i);
        }
        if (candidates.empty()) continue;
        const size_t who = candidates[Below(g, candidates.size())];
        if (kind == kByzantineJoins || kind == kHonestJoins) {
          next[who] = 1 + static_cast<int64_t>(
                              Below(g, static_cast<uint64_t>(std::min(kJoinPowerMax, left))));
        } else if (kind == kByzantineLeaves || kind == kHonestLeaves) {
          next[who] = 0;
        } else {
          // Any power in [lo, hi] but the current one.
          const int64_t cur = next[who];
          const int64_t lo = std::max<int64_t>(1, cur - left);
          const int64_t hi = std::min(kReweightPowerMax, cur + left);
          if (hi <= lo) continue;
          int64_t p = lo + static_cast<int64_t>(Below(g, static_cast<uint64_t>(hi - lo)));
          if (p >= cur) ++p;
          next[who] = p;
        }
      }
      int64_t byz = 0;
      for (size_t i = 0; i < n; ++i) byz += nodes_[i].byzantine ? next[i] : 0;
      const int64_t moved = changed(power, next);
      if (moved == 0 || moved * 3 > total ||
          members(next) < static_cast<int64_t>(limits::kValidatorsMin) ||
          members(next) > static_cast<int64_t>(n) - 1 || byz * 3 >= total_of(next)) {
        continue;
      }
      SetEntry e;
      e.from = h;
      e.set = MakeSet(next);
      e.hash = HashString(ValidatorSetHash(e.set));
      for (size_t i = 0; i < n; ++i) {
        const int idx = static_cast<int>(i);
        if (power[i] == 0 && next[i] > 0) e.joined.push_back(idx);
        if (power[i] > 0 && next[i] == 0) e.left.push_back(idx);
        if (power[i] > 0 && next[i] > 0 && power[i] != next[i]) e.reweighted.push_back(idx);
      }
      schedule_.push_back(std::move(e));
      power = std::move(next);
      break;
    }
  }
}

const SetEntry& Sim::EntryAt(int64_t height) const {
  // The last entry starting at or below `height` (the first starts at 1).
  auto it = std::upper_bound(schedule_.begin(), schedule_.end(), height,
                             [](int64_t h, const SetEntry& e) { return h < e.from; });
  return it == schedule_.begin() ? schedule_.front() : *std::prev(it);
}

int64_t Sim::PowerAt(int64_t height, const std::string& address) const {
  for (const auto& v : SetAt(height).validators()) {
    if (v.address() == address) return v.power();
  }
  return 0;
}

// What the run's schedule did: the changes in force by the highest height an honest node
// decided, and the Byzantine nodes they added and removed.
void Sim::CountSetChanges() {
  const int64_t reached = decided_.empty() ? 0 : decided_.rbegin()->first;
  for (size_t k = 1; k < schedule_.size() && schedule_[k].from <= reached; ++k) {
    result_.set_changes++;
    for (int i : schedule_[k].joined)
      result_.byzantine_joins += nodes_[static_cast<size_t>(i)].byzantine;
    for (int i : schedule_[k].left)
      result_.byzantine_leaves += nodes_[static_cast<size_t>(i)].byzantine;
  }
}

// Crashes of honest nodes, each at a CrashPoint, all restarted before GST (so more than 2/3 are
// up after it). One crash per node: a second plan would overwrite the first.
void Sim::PlanCrashes(int count) {
  const int n = static_cast<int>(nodes_.size());
  for (int c = 0; c < count; ++c) {
    Node& victim = nodes_[Below(rng_, static_cast<uint64_t>(n))];
    const int point = opts_.force_crash_point >= 0 ? opts_.force_crash_point : static_cast<int>(Below(rng_, 3));
    const int64_t at = 500 + static_cast<int64_t>(Below(rng_, 8000));
    const int64_t back_after = 300 + static_cast<int64_t>(Below(rng_, 3000));
    if (victim.byzantine || victim.crash_point >= 0) continue;
    victim.crash_point = point;
    victim.crash_not_before_ms = at;
    victim.restart_after_ms = back_after;
    if (point == static_cast<int>(CrashPoint::kRandomTime)) {
      Event e;
      e.kind = Event::kCrash;
      e.node = victim.index;
      Schedule(e, at);
    }
    result_.crashes++;
  }
}

std::string Sim::Describe() const {
  std::string s;
  if (!opts_.set_changes) {
    s = "n=" + std::to_string(nodes_.size()) + " powers=";
    for (const auto& nd : nodes_)
      s += (nd.index ? "," : "") + std::to_string(nd.power) + (nd.byzantine ? "b" : "");
  } else {
    // The genesis set, then each change from its height: +joined:power, -left, re-weighted:power.
    auto name = [&](int i) {
      return "v" + std::to_string(i) + (nodes_[static_cast<size_t>(i)].byzantine ? "b" : "");
    };
    auto power = [&](const SetEntry& e, int i) {
      for (const auto& v : e.set.validators()) {
        if (v.address() == nodes_[static_cast<size_t>(i)].address) return std::to_string(v.power());
      }
      return std::string("0");
    };
    std::string genesis;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const std::string p = power(schedule_.front(), static_cast<int>(i));
      if (p != "0") genesis += (genesis.empty() ? "" : ",") + name(static_cast<int>(i)) + ":" + p;
    }
    s = "pool=" + std::to_string(nodes_.size()) + " set=" + genesis;
    s += " changes=";
    for (size_t k = 1; k < schedule_.size(); ++k) {
      const SetEntry& e = schedule_[k];
      s += (k > 1 ? " @" : "@") + std::to_string(e.from) + ":";
      std::string steps;
      for (int i : e.joined) steps += (steps.empty() ? "+" : ",+") + name(i) + ":" + power(e, i);
      for (int i : e.left) steps += (steps.empty() ? "-" : ",-") + name(i);
      for (int i : e.reweighted) steps += (steps.empty() ? "" : ",") + name(i) + ":" + power(e, i);
      s += steps;
    }
    if (schedule_.size() == 1) s += "none";
  }
  s += " byzantine=" + std::to_string(result_.byzantine);
  for (const auto& nd : nodes_) {
    if (nd.byzantine) s += " v" + std::to_string(nd.index) + ":" + BehaviourNames(nd.behaviours);
  }
  s += " scheduler=" + SchedulerName(scheduler_);
  if (scheduler_ == Scheduler::kTargetedDelay) {
    s += "(";
    for (int t : targeted_) s += "v" + std::to_string(t);
    s += ")";
  }
  s += " loss=" + std::to_string(loss_pct_) + "% dup=" + std::to_string(dup_pct_) + "% delay<=" +
       std::to_string(max_delay_ms_) + "ms partition=" +
       (partition_start_ >= 0 ? std::to_string(partition_start_) + ".." + std::to_string(partition_end_) + "ms"
                              : std::string("none"));
  s += " crashes=" + std::to_string(result_.crashes);
  for (const auto& nd : nodes_) {
    if (nd.crash_point >= 0) s += " v" + std::to_string(nd.index) + ":" + CrashPointName(nd.crash_point);
  }
  if (disk_failing_node_ >= 0) {
    s += " disk-fails=v" + std::to_string(disk_failing_node_) + "@" + std::to_string(disk_fail_start_) + ".." +
         std::to_string(disk_fail_end_) + "ms";
  }
  return s;
}

bool Sim::Connected(int a, int b) const {
  if (isolated_until_[static_cast<size_t>(a)] > now_ || isolated_until_[static_cast<size_t>(b)] > now_) return false;
  if (partition_start_ < 0 || now_ < partition_start_ || now_ >= partition_end_) return true;
  return side_[static_cast<size_t>(a)] == side_[static_cast<size_t>(b)];
}

// The delay of one message from `from`, by scheduler. After GST every delay is small (targeted
// validators' a little larger, still below every timeout).
int64_t Sim::Delay(int from, int /*to*/) {
  if (now_ >= kGstMs) {
    const bool targeted = scheduler_ == Scheduler::kTargetedDelay && targeted_.count(from);
    return 1 + static_cast<int64_t>(Below(rng_, targeted ? kTargetedDelayAfterGstMs : kPostGstDelayMaxMs));
  }
  switch (scheduler_) {
    case Scheduler::kRandom:
    case Scheduler::kIsolateProposer:
      return 1 + static_cast<int64_t>(Below(rng_, static_cast<uint64_t>(max_delay_ms_)));
    case Scheduler::kPct: {
      // At each change point the highest-priority sender drops to the lowest.
      int drops = 0;
      for (int64_t t : priority_changes_) drops += t <= now_;
      const int n = static_cast<int>(nodes_.size());
      const int rank = (priority_[static_cast<size_t>(from)] - drops % n + n) % n;
      const int64_t step = std::max<int64_t>(1, max_delay_ms_ / n);
      return 1 + rank * step + static_cast<int64_t>(Below(rng_, static_cast<uint64_t>(step)));
    }
    case Scheduler::kTargetedDelay:
      if (targeted_.count(from)) {
        // Around the round-0 timeouts (votes 200 ms, propose 400 ms): just before or just after.
        return 150 + static_cast<int64_t>(Below(rng_, 400));
      }
      return 1 + static_cast<int64_t>(Below(rng_, static_cast<uint64_t>(max_delay_ms_)));
  }
  return 1;
}

// kIsolateProposer: the first time a validator sends its own new proposal before GST, it reaches
// only some peers, and then the proposer is cut off from everyone for a while: the worst moment,
// since some validators may lock on a block the others never see.
void Sim::IsolateProposerMaybe(int from, const Payload& p) {
  if (scheduler_ != Scheduler::kIsolateProposer || now_ >= kGstMs) return;
  const auto* m = std::get_if<pb::ConsensusMessage>(&p);
  if (!m || !m->has_proposal() || m->proposal().proposer_address() != nodes_[static_cast<size_t>(from)].address) return;
  if (!isolated_proposals_.insert(m->proposal().signature()).second) return;
  if (Below(rng_, 3) == 0) return;
  std::set<int>& reach = proposal_reach_[m->proposal().signature()];
  const int n = static_cast<int>(nodes_.size());
  for (int i = 0; i < n; ++i) {
    if (i != from && Below(rng_, 2)) reach.insert(i);
  }
  isolated_until_[static_cast<size_t>(from)] = now_ + 200 + static_cast<int64_t>(Below(rng_, 1500));
}

void Sim::Send(int from, int to, Payload p) {
  result_.messages++;
  if (!nodes_[static_cast<size_t>(from)].up) return;  // a crashed node sends nothing
  IsolateProposerMaybe(from, p);
  const auto* m = std::get_if<pb::ConsensusMessage>(&p);
  const auto reach = m && m->has_proposal() ? proposal_reach_.find(m->proposal().signature()) : proposal_reach_.end();
  if (reach != proposal_reach_.end() && isolated_until_[static_cast<size_t>(from)] > now_) {
    if (!reach->second.count(to)) return;  // the part of the broadcast that got out
  } else if (!Connected(from, to)) {
    return;
  }
  const bool before_gst = now_ < kGstMs;
  if (before_gst && static_cast<int>(Below(rng_, 100)) < loss_pct_) return;
  auto shared = std::make_shared<Payload>(std::move(p));
  const int copies = before_gst && static_cast<int>(Below(rng_, 100)) < dup_pct_ ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    Event e;
    e.kind = Event::kDeliver;
    e.node = to;
    e.from = from;
    e.payload = shared;
    Schedule(e, Delay(from, to));
  }
}

void Sim::SendAll(int from, const Payload& p) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (static_cast<int>(i) != from) Send(from, static_cast<int>(i), p);
  }
}

bool Sim::WalSync(Node& n) {
  if (!n.up || !DiskWorks(n)) return false;
  n.wal.synced = n.wal.entries.size();
  return true;
}

bool Sim::WalAppend(Node& n, const WalEntry& e, bool sync) {
  if (!n.up || !DiskWorks(n)) return false;
  if (const auto* m = std::get_if<pb::ConsensusMessage>(&e)) {
    const std::string& sig = m->has_vote() ? m->vote().signature() : m->proposal().signature();
    if (!n.wal.signatures.insert(sig).second) {
      Fail("WAL: node " + std::to_string(n.index) + " logged a message twice (re-sends must not touch the WAL)");
    }
  }
  n.wal.entries.push_back(e);
  if (sync) n.wal.synced = n.wal.entries.size();
  return true;
}

bool Sim::DiskWorks(Node& n) {
  const bool failing = n.index == disk_failing_node_ && now_ >= disk_fail_start_ && now_ < disk_fail_end_;
  if (failing) {
    result_.disk_failures++;
    if (!n.signing_stopped) {
      // The node stops signing until it is restarted on a working disk (node/bft does the same);
      // its operator restarts it once the disk works again.
      n.signing_stopped = true;
      n.crash_point = static_cast<int>(CrashPoint::kRandomTime);
      n.restart_after_ms = 100;
      Event c;
      c.kind = Event::kCrash;
      c.node = n.index;
      Schedule(c, disk_fail_end_ - now_);
    }
    return false;
  }
  return true;
}

// Restarted well before GST, so every honest node is up after it.
bool Sim::CrashDue(const Node& n, CrashPoint point) const {
  return n.up && n.crash_point == static_cast<int>(point) && now_ >= n.crash_not_before_ms &&
         now_ + n.restart_after_ms + 200 < kGstMs;
}

// The node stops at once: volatile state is gone, and of the WAL's unsynced tail only a random
// prefix survives (lost or torn writes).
void Sim::Crash(Node& n) {
  if (!n.up) return;
  n.up = false;
  n.epoch++;
  const size_t unsynced = n.wal.entries.size() - n.wal.synced;
  n.wal.entries.resize(n.wal.synced + Below(n.rng, unsynced + 1));
  n.wal.synced = n.wal.entries.size();
  n.wal.signatures.clear();
  for (const auto& entry : n.wal.entries) {
    if (const auto* m = std::get_if<pb::ConsensusMessage>(&entry)) {
      n.wal.signatures.insert(m->has_vote() ? m->vote().signature() : m->proposal().signature());
    }
  }
  Event e;
  e.kind = Event::kRestart;
  e.node = n.index;
  Schedule(e, n.restart_after_ms);
  n.crash_point = -1;  // one crash per plan
  // What the engine saw in this life is gone; the evidence check starts again from the WAL.
  n.votes_seen_at_height.clear();
  n.vote_signatures_seen.clear();
}

pb::Block Sim::CreateBlockFor(Node& n, int64_t height) {
  V2G_ASSERT(height == n.height() + 1);
  pb::Block b;
  const int txs = static_cast<int>(Below(n.rng, 4));
  std::vector<std::string> items;
  for (int i = 0; i < txs; ++i) {
    items.push_back("tx-" + std::to_string(n.index) + "-" + std::to_string(n.rng()));
    b.add_txs(items.back());
  }
  pb::Header* h = b.mutable_header();
  h->set_chain_id(kChain);
  h->set_height(height);
  h->set_last_block_id(n.blocks.empty() ? "" : HashString(BlockId(n.blocks.back().header())));
  if (!n.commits.empty()) *b.mutable_last_commit() = n.commits.back();
  // BFT time: fixed by the last commit, over the set that signed it (genesis time is 0 here).
  h->set_time_ms(n.blocks.empty() ? 1 : WeightedMedianTime(b.last_commit(), SetAt(height - 1)));
  h->set_last_commit_hash(HashString(CommitHash(b.last_commit())));
  h->set_data_hash(HashString(MerkleRoot(items)));
  h->set_app_hash(n.app_hashes.empty() ? genesis_app_hash_ : n.app_hashes.back());
  h->set_validators_hash(SetHashAt(height));
  h->set_next_validators_hash(SetHashAt(height + 1));
  h->set_proposer_address(n.address);
  h->set_evidence_hash(HashString(EvidenceHash(b)));
  return b;
}

// As node/bft's ValidateBlock: the pure rules, BFT time included; no verdict depends on a clock.
// Every set comes from the schedule at its height (the chain knows them two heights ahead).
Status Sim::ValidateFor(Node& n, const pb::Block& b) {
  ChainTip tip;
  tip.chain_id = kChain;
  tip.height = n.height();
  tip.block_id = n.blocks.empty() ? "" : HashString(BlockId(n.blocks.back().header()));
  tip.time_ms = n.blocks.empty() ? 0 : n.blocks.back().header().time_ms();
  tip.app_hash = n.app_hashes.empty() ? genesis_app_hash_ : n.app_hashes.back();
  tip.validators_hash = SetHashAt(tip.height + 1);
  tip.next_validators_hash = SetHashAt(tip.height + 2);
  pb::ParamsRecord params;
  params.set_block_txs_max(100);
  params.set_block_bytes_max(1 << 20);
  const ValidatorSetsAt sets = [this](int64_t height) { return SetAt(height); };
  return ValidateBlock(b, tip, sets, params);
}

void Sim::Commit(Node& n, const pb::Block& b, const pb::Commit& c, bool from_sync) {
  if (!n.up) return;  // the engine of a node that just crashed: the commit never reached the disk
  const int64_t h = b.header().height();
  V2G_ASSERT(h == n.height() + 1);
  CheckDecided(n, b, c, from_sync);
  const std::string id = HashString(BlockId(b.header()));
  n.blocks.push_back(b);
  n.commits.push_back(c);
  std::string prev = n.app_hashes.empty() ? genesis_app_hash_ : n.app_hashes.back();
  n.app_hashes.push_back(HashString(Blake2b256(prev + id)));
  n.wal = SimWal{};  // the block is durable; the WAL only ever holds the current height
  n.last_decision_ms = now_;
  if (from_sync) return;
  Event e;
  e.kind = Event::kStartHeight;
  e.node = n.index;
  e.epoch = n.epoch;
  e.height = h + 1;
  Schedule(e, kCommitDelayMs);
}

// Every node runs its engine, in the set of the height or not: outside it, the engine signs
// nothing and follows (decides from the same proposals and votes).
void Sim::StartEngine(Node& n, int64_t height) {
  n.engine->StartHeight(height, SetAt(height), SetAt(height + 1));
}

void Sim::Boot(Node& n) {
  n.signer = *Signer::Create(n.key, kChain, std::make_unique<ForwardingStore>(&n.sign_store));
  n.env = MakeEnv(*this, n);
  n.engine = std::make_unique<TendermintEngine>(kChain, n.address, EngineTimeouts{400, 100, 200, 50, 200, 50, 300},
                                                *n.env);
  n.signing_stopped = false;
  n.sync = SyncState{};
  StartEngine(n, n.height() + 1);
  // Replay the WAL of the current height: the engine rebuilds its round, lock and votes. Our own
  // messages in it are re-signed identically or refused by the safety rules.
  n.replaying = true;
  std::vector<WalEntry> wal = n.wal.entries;
  for (const auto& e : wal) {
    if (auto* m = std::get_if<pb::ConsensusMessage>(&e)) {
      if (m->has_vote() && n.vote_signatures_seen.insert(m->vote().signature()).second) {
        n.votes_seen_at_height.push_back(m->vote());
      }
      n.engine->HandleMessage(*m);
    } else {
      n.engine->HandleTimeout(std::get<TimeoutEvent>(e));
    }
  }
  n.replaying = false;
}

void Sim::Deliver(Node& n, int from, const Payload& p) {
  if (auto* m = std::get_if<pb::ConsensusMessage>(&p)) {
    const int64_t h = m->has_proposal() ? m->proposal().height() : m->has_vote() ? m->vote().height() : 0;
    if (h > n.height() + 1) {
      // A message of a later height says its sender has our next block: a hint, never trusted.
      int64_t& claim = n.sync.claims[from];
      claim = std::max(claim, n.height() + 1);
      MaybeRequestSync(n);
    }
    if (m->has_vote() && m->vote().height() == n.engine->height() &&
        n.vote_signatures_seen.insert(m->vote().signature()).second) {
      n.votes_seen_at_height.push_back(m->vote());
    }
    n.engine->HandleMessage(*m);  // the engine persists what it accepts (HonestEnv::Persist)
  } else if (auto* req = std::get_if<SyncRequest>(&p)) {
    n.env->ServeSync(from, *req);
  } else if (auto* claim = std::get_if<HeightClaim>(&p)) {
    n.sync.claims[from] = claim->height;
    MaybeRequestSync(n);
  } else {
    HandleSync(n, from, std::get<SyncResponse>(p));
  }
}

// Asks the next peer (round-robin) that claims to be ahead and is not penalised.
void Sim::MaybeRequestSync(Node& n) {
  if (n.sync.asked >= 0) return;
  const int count = static_cast<int>(nodes_.size());
  for (int k = 0; k < count; ++k) {
    const int peer = (n.sync.next + k) % count;
    auto claim = n.sync.claims.find(peer);
    if (peer == n.index || claim == n.sync.claims.end() || claim->second <= n.height()) continue;
    if (auto pen = n.sync.penalised_until.find(peer); pen != n.sync.penalised_until.end() && pen->second > now_) continue;
    n.sync.next = peer + 1;
    n.sync.asked = peer;
    n.sync.retries = n.sync.asked_height == n.height() + 1 ? n.sync.retries + 1 : 0;
    n.sync.asked_height = n.height() + 1;
    Send(n.index, peer, SyncRequest{n.height() + 1});
    Event e;
    e.kind = Event::kSyncTimeout;
    e.node = n.index;
    e.epoch = n.epoch;
    e.height = static_cast<int64_t>(++n.sync.request);
    Schedule(e, kSyncTimeoutMs * std::min(1 + n.sync.retries, 8));
    return;
  }
}

void Sim::SyncFailed(Node& n, int peer) {
  int& failures = n.sync.failures[peer];
  failures = std::min(failures + 1, 20);
  n.sync.penalised_until[peer] = now_ + std::min(kSyncPenaltyMs << (failures - 1), kSyncPenaltyMaxMs);
  n.sync.claims.erase(peer);  // its claim is not believed any more
  if (n.sync.asked == peer) n.sync.asked = -1;
  MaybeRequestSync(n);
}

void Sim::HandleSync(Node& n, int from, const SyncResponse& r) {
  if (from != n.sync.asked) return;  // only the peer asked may answer
  bool advanced = false;
  for (const auto& [block, commit] : r.blocks) {
    if (block.header().height() <= n.height()) continue;
    const std::string id = HashString(BlockId(block.header()));
    // A synced block is only as good as its commit: verify it against the validator set of its
    // height; history is checked like a proposal.
    if (block.header().height() != n.height() + 1 ||
        !VerifyCommit(kChain, SetAt(block.header().height()), block.header().height(), id, commit)
             .ok() ||
        !ValidateFor(n, block).ok()) {
      if (!advanced) return SyncFailed(n, from);
      break;
    }
    Commit(n, block, commit, true);
    advanced = true;
  }
  if (!advanced) return SyncFailed(n, from);
  n.sync.failures.erase(from);
  n.sync.asked = -1;
  StartEngine(n, n.height() + 1);
  MaybeRequestSync(n);  // maybe more to fetch
}

SimResult Sim::Run() {
  for (auto& n : nodes_) Boot(n);
  while (!queue_.empty() && failure_.empty()) {
    Event e = queue_.top();
    queue_.pop();
    if (e.time > opts_.duration_ms) break;
    if (height_at_gst_ < 0 && e.time >= kGstMs) {
      height_at_gst_ = 0;
      for (auto& n : nodes_) height_at_gst_ = std::max(height_at_gst_, n.height());
    }
    now_ = e.time;
    Node& n = nodes_[static_cast<size_t>(e.node)];
    switch (e.kind) {
      case Event::kDeliver:
        if (n.up) Deliver(n, e.from, *e.payload);
        break;
      case Event::kTimeout:
        if (n.up && e.epoch == n.epoch) {
          if (e.timeout.step != Step::kTick) {
            // A timeout's effects are its own input: logged (not synced) before it is handled.
            if (!n.byzantine && !WalAppend(n, e.timeout, false)) break;
          } else if (!n.byzantine) {
            CheckMemory(n);
          }
          n.env->BeforeTimeout(e.timeout);
          n.engine->HandleTimeout(e.timeout);
        }
        break;
      case Event::kStartHeight:
        if (n.up && e.epoch == n.epoch && n.engine->height() < e.height && e.height == n.height() + 1) {
          StartEngine(n, e.height);
        }
        break;
      case Event::kCrash:
        Crash(n);
        break;
      case Event::kRestart:
        n.up = true;
        n.epoch++;
        Boot(n);
        break;
      case Event::kAnnounce:
        if (n.up) SendAll(n.index, HeightClaim{n.env->ClaimedHeight()});
        Schedule(e, kAnnounceMs);
        break;
      case Event::kSyncTimeout:
        if (n.up && e.epoch == n.epoch && n.sync.asked >= 0 && static_cast<uint64_t>(e.height) == n.sync.request) {
          SyncFailed(n, n.sync.asked);
        }
        break;
    }
  }
  result_.max_height = 0;
  result_.min_honest_height = INT64_MAX;
  for (auto& n : nodes_) {
    result_.max_height = std::max(result_.max_height, n.height());
    if (!n.byzantine) result_.min_honest_height = std::min(result_.min_honest_height, n.height());
  }
  if (failure_.empty()) CheckLiveness();
  if (failure_.empty()) CheckEvidence();
  CountSetChanges();
  if (opts_.set_changes) {
    result_.summary += " set-changes=" + std::to_string(result_.set_changes) +
                       " byzantine-joins=" + std::to_string(result_.byzantine_joins) +
                       " byzantine-leaves=" + std::to_string(result_.byzantine_leaves);
  }
  if (opts_.verbose) PrintVerbose();
  result_.ok = failure_.empty();
  result_.failure = failure_.empty() ? "" : failure_ + " [" + result_.summary + "]";
  return result_;
}

void Sim::PrintVerbose() {
  for (auto& n : nodes_) {
    if (!n.engine) continue;
    EngineInfo info = n.engine->Info();
    EngineStats st = n.engine->Stats();
    std::string rounds;
    for (const auto& [r, t] : info.rounds) {
      rounds += " r" + std::to_string(r) + ":" + std::to_string(t.prevote_power) + "/" + std::to_string(t.precommit_power);
      if (r <= 1 || r == info.round) {
        rounds += "[prop " + HexEncode(t.proposal_block_id).substr(0, 4) + " pv";
        for (const auto& [id, p] : t.prevotes_by_block) rounds += " " + HexEncode(id).substr(0, 4) + "=" + std::to_string(p);
        rounds += " pc";
        for (const auto& [id, p] : t.precommits_by_block) rounds += " " + HexEncode(id).substr(0, 4) + "=" + std::to_string(p);
        rounds += "]";
      }
    }
    rounds += " locked_id=" + HexEncode(info.locked_block_id).substr(0, 4);
    const int64_t power = PowerAt(info.height, n.address);
    const std::string member = power > 0 ? " power=" + std::to_string(power) : " (follower)";
    std::fprintf(stderr,
                 "node %d%s%s chain=%lld engine h=%lld r=%d step=%s locked=%d valid=%d decided=%d "
                 "votes=%zu wal=%zu%s\n",
                 n.index, n.byzantine ? " (byz)" : "", member.c_str(),
                 static_cast<long long>(n.height()), static_cast<long long>(info.height),
                 info.round, std::string(StepName(info.step)).c_str(), info.locked_round,
                 info.valid_round, info.decided ? 1 : 0, st.votes, n.wal.entries.size(),
                 rounds.c_str());
  }
}

SimResult RunSimulation(const SimOptions& opts) {
  InitCrypto();
  Sim sim(opts);
  return sim.Run();
}

}  // namespace v2g::sim
