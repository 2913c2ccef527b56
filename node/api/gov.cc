// HTTP API of governance (contracts/gov.h; docs/API.md "Governance"): proposals with their votes
// and tally, and the holders of each role. Public: the consortium's decisions are everyone's to
// read. Read-only: every handler reads one store snapshot and caps its pages.
#include "contracts/gov.h"

#include <map>
#include <optional>
#include <string>

#include "common/version.h"
#include "contracts/state.h"
#include "node/api/paging.h"
#include "node/api/params.h"
#include "node/api/render.h"
#include "node/api/reply.h"
#include "node/api/routes.h"
#include "proto/encode.h"

namespace v2g::api {
namespace {

constexpr int64_t kPageMax = 200;

json ProposalJson(const StateView& v, const pb::ProposalRecord& p) {
  json j = {{"id", p.id()},
            {"proposer", AddressText(p.proposer())},
            {"title", p.title()},
            {"description", p.description()},
            {"action", GovActionJson(p.action())},
            {"status", ProposalStatusName(p.status())},
            {"submit_height", p.submit_height()},
            {"submit_time", Rfc3339Ms(p.submit_time_ms())},
            {"voting_end", Rfc3339Ms(p.voting_end_ms())},
            {"voting_end_ms", p.voting_end_ms()},
            {"tally",
             {{"yes", p.yes_power()},
              {"no", p.no_power()},
              {"abstain", p.abstain_power()},
              {"total", p.total_power()}}},
            {"closed_height", p.closed_height() > 0 ? json(p.closed_height()) : json(nullptr)},
            {"execute_height", p.execute_height() > 0 ? json(p.execute_height()) : json(nullptr)},
            {"result", TextOrNull(p.result_log())}};
  if (p.status() == pb::PROPOSAL_VOTING) {
    // An open proposal's record holds no tally (contracts/gov.h): counted now, by the power of
    // the current set (at most kValidatorsMax votes; at most 64 proposals are open).
    const GovTally t = CountVotes(v.state, p.id());
    j["tally"] = {{"yes", t.yes}, {"no", t.no}, {"abstain", t.abstain}, {"total", t.total}};
  }
  return j;
}

}  // namespace

json GovActionJson(const pb::GovAction& a) {
  json j = {{"kind", GovActionKind(a)}};
  switch (a.action_case()) {
    case pb::GovAction::kRole:
      j["role"] = a.role().role();
      j["address"] = AddressText(a.role().address());
      j["revoke"] = a.role().revoke();
      break;
    case pb::GovAction::kIssuer:
      j["denom"] = a.issuer().denom();
      j["issuer"] =
          a.issuer().issuer().empty() ? json(nullptr) : json(AddressText(a.issuer().issuer()));
      break;
    case pb::GovAction::kZone:
      j["zone"] = a.zone().zone();
      j["grid_company"] = AddressText(a.zone().grid_company());
      break;
    case pb::GovAction::kParam:
      j["param"] = a.param().name();
      j["value"] = a.param().value();
      break;
    case pb::GovAction::kMarket:
      j["zone"] = a.market().zone();
      j["suspend"] = a.market().suspend();
      break;
    case pb::GovAction::kValidator: {
      const auto& v = a.validator();
      j["address"] = AddressText(v.address());
      j["power"] = v.power();
      j["name"] = v.name().empty() ? json(nullptr) : json(v.name());
      j["consensus_pubkey"] =
          v.consensus_pubkey().empty() ? json(nullptr) : json(HexEncode(v.consensus_pubkey()));
      j["node_pubkey"] = v.node_pubkey().empty() ? json(nullptr) : json(HexEncode(v.node_pubkey()));
      break;
    }
    case pb::GovAction::kUpgrade: {
      const auto& u = a.upgrade();
      j["name"] = u.name();
      j["cancel"] = u.cancel();
      j["height"] = u.cancel() ? json(nullptr) : json(u.height());
      j["version"] = u.cancel() ? json(nullptr) : json(u.version());
      break;
    }
    case pb::GovAction::ACTION_NOT_SET:
      break;
  }
  return j;
}

json GovOpJson(const pb::TxBody& body) {
  if (body.has_submit_proposal()) {
    const auto& s = body.submit_proposal();
    return {{"type", "submit_proposal"},
            {"title", s.title()},
            {"description", s.description()},
            {"action", GovActionJson(s.action())}};
  }
  if (body.has_rotate_validator_key()) {
    const auto& r = body.rotate_validator_key();
    return {{"type", "rotate_validator_key"},
            {"new_consensus_pubkey", r.new_consensus_pubkey().empty()
                                         ? json(nullptr)
                                         : json(HexEncode(r.new_consensus_pubkey()))},
            {"new_node_pubkey",
             r.new_node_pubkey().empty() ? json(nullptr) : json(HexEncode(r.new_node_pubkey()))}};
  }
  return {{"type", "vote_proposal"},
          {"proposal_id", body.vote_proposal().proposal_id()},
          {"option", GovVoteOptionName(body.vote_proposal().option())}};
}

void ListProposals(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  auto before = BeforeParam(req);
  if (!before.ok()) return ReplyError(res, before.status());
  auto limit = LimitParam(req, kPageDefault, kPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  auto snap = c.store->Snapshot();
  const StateView v(snap->reader());
  const Page<pb::ProposalRecord> page = NewestFirst<pb::ProposalRecord>(
      v.state, kProposalPrefix, *before, *limit,
      [](uint64_t, std::string_view val) -> std::optional<pb::ProposalRecord> {
        return DecodeRecord<pb::ProposalRecord>(std::string(val));
      });
  Reply(res, 200,
        {{"proposals",
          JsonList(page.items, [&](const pb::ProposalRecord& p) { return ProposalJson(v, p); })},
         {"next_before", page.next}});
}

void GetProposal(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  ReplyLookup<uint64_t>(c, IdParam(req), res, [&](const StateView& v, uint64_t id) -> Result<json> {
    auto p = LoadProposal(v.state, id);
    if (!p) return NotFoundById("proposal", id, "", "", false);
    json j = ProposalJson(v, *p);
    // Each vote with the voter's power now (what a tally at this height counts; 0 once it is no
    // longer a validator) and name. At most one per address that was a validator: bounded.
    std::map<std::string, const pb::ValidatorRecord*> vals;
    const pb::ValidatorSet set = LoadValidators(v.state);
    for (const auto& val : set.validators()) vals[val.address()] = &val;
    j["votes"] = JsonList(LoadProposalVotes(v.state, id), [&](const pb::GovVoteRecord& r) {
      auto it = vals.find(r.voter());
      return json{{"voter", AddressText(r.voter())},
                  {"validator", it == vals.end() ? json(nullptr) : json(it->second->name())},
                  {"option", GovVoteOptionName(r.option())},
                  {"power", it == vals.end() ? 0 : it->second->power()},
                  {"height", r.height()}};
    });
    return j;
  });
}

void ListRoles(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  std::string role;
  if (req.has_param("role")) {
    role = req.get_param_value("role");
    if (!KnownRole(role)) {
      return ReplyError(
          res, Error(Code::kInvalidArgument,
                     "role: '" + role + "' is not a role (known: " + RoleNamesText() + ")"));
    }
  }
  auto limit = LimitParam(req, kPageDefault, kPageMax);
  if (!limit.ok()) return ReplyError(res, limit.status());
  // `after`: the last "role/address" of the previous page.
  std::string after;
  if (req.has_param("after")) {
    const std::string text = req.get_param_value("after");
    const size_t slash = text.find('/');
    auto addr = slash == std::string::npos
                    ? Result<Address>(Error(Code::kInvalidArgument, "no '/'"))
                    : DecodeAddress(text.substr(slash + 1));
    if (!addr.ok() || !KnownRole(text.substr(0, slash)) ||
        (!role.empty() && text.substr(0, slash) != role)) {
      return ReplyError(
          res,
          Error(Code::kInvalidArgument,
                "after: must be <role>/<address> as next_after gave it (of the role asked for)"));
    }
    after = role.empty() ? text.substr(0, slash) + "/" + AddressBytes(*addr) : AddressBytes(*addr);
  }
  const std::string prefix = std::string(kRolePrefix) + (role.empty() ? "" : role + "/");
  auto snap = c.store->Snapshot();
  const Page<json> page =
      FirstAfter<json>(snap->reader(), prefix, after, *limit,
                       [&](std::string_view suffix, std::string_view) -> std::optional<json> {
                         const std::string full =
                             role.empty() ? std::string(suffix) : role + "/" + std::string(suffix);
                         const size_t slash = full.find('/');
                         if (slash == std::string::npos || full.size() != slash + 1 + kAddressBytes)
                           return std::nullopt;
                         return json{{"role", full.substr(0, slash)},
                                     {"address", AddressText(full.substr(slash + 1))}};
                       });
  json next = nullptr;
  if (!page.next.is_null()) {
    const std::string suffix = page.next.get<std::string>();
    const std::string full = role.empty() ? suffix : role + "/" + suffix;
    const size_t slash = full.find('/');
    if (slash != std::string::npos)
      next = full.substr(0, slash) + "/" + AddressText(full.substr(slash + 1));
  }
  Reply(res, 200, {{"roles", page.items}, {"next_after", next}});
}

namespace {
json UpgradeJson(const pb::SoftwareUpgrade& u) {
  return {{"name", u.name()}, {"height", u.height()}, {"version", u.version()}};
}
// Upgrades are planned by governance only (a few a year): this many is every one for decades.
constexpr size_t kUpgradesDoneMax = 1000;
}  // namespace

void GetUpgrade(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  auto snap = c.store->Snapshot();
  const auto plan = LoadUpgradePlan(snap->reader());
  json done = json::array();
  for (const auto& u : LoadDoneUpgrades(snap->reader(), kUpgradesDoneMax)) {
    done.push_back(UpgradeJson(u));
  }
  const std::string halted = c.bft ? c.bft->HaltReason() : std::string();
  Reply(res, 200,
        {{"version", SoftwareVersion()},
         {"plan", plan ? UpgradeJson(*plan) : json(nullptr)},
         {"done", done},
         {"halted", halted.empty() ? json(nullptr) : json(halted)}});
}

}  // namespace v2g::api
