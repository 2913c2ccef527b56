// v2g gov propose|vote|list|show: the consortium's governance (contracts/gov.h). Validators (with
// the key of their consensus address) and holders of the proposer role propose; validators vote;
// a proposal passes with more than 2/3 of the voting power and executes at the next height.

#include <iostream>
#include <string>
#include <vector>

#include "cli/v2g/families.h"
#include "cli/v2g/output.h"
#include "cli/v2g/submit.h"
#include "common/fsutil.h"
#include "common/limits.h"
#include "common/version.h"
#include "wallet/actions.h"

namespace v2g::cli {
namespace {

struct GovArgs {
  std::string kind;
  std::vector<std::string> args;
  std::string title;
  std::string description;
  uint64_t id = 0;
  std::string option;
  std::string rotation_file;
};

constexpr char kKinds[] =
    "text | grant-role ROLE ACCOUNT | revoke-role ROLE ACCOUNT | set-issuer DENOM (ACCOUNT|none) | "
    "zone ZONE GRID_COMPANY | param NAME VALUE | suspend-market ZONE | resume-market ZONE | "
    "add-validator NAME CONSENSUS_PUBKEY NODE_PUBKEY POWER | validator-power VALIDATOR POWER | "
    "remove-validator VALIDATOR | upgrade NAME HEIGHT VERSION | cancel-upgrade NAME";

// A 64-character hex Ed25519 public key (as `v2gd keys show` prints it).
Result<PublicKey> HexKey(const std::string& what, const std::string& text) {
  auto raw = HexDecode(text);
  if (!raw.ok() || raw->size() != 32) {
    return Error(Code::kInvalidArgument,
                 what + " must be a 64-character hex public key, got '" + text + "'");
  }
  PublicKey k{};
  std::copy(raw->begin(), raw->end(), k.begin());
  return k;
}

Result<int64_t> PowerArg(const std::string& text) {
  int64_t value = 0;
  size_t used = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < 1 || value > limits::kValidatorPowerMax) {
    return Error(Code::kInvalidArgument, "POWER must be an integer from 1 to " +
                                             std::to_string(limits::kValidatorPowerMax) +
                                             ", got '" + text + "'");
  }
  return value;
}

// Text from the node as it may be printed on a terminal: control characters (escape sequences
// could rewrite the lines around them) become '?'; newlines stay where `multiline`.
std::string Printable(const std::string& text, bool multiline = false) {
  std::string out = text;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(multiline && c == '\n')) || u == 0x7f) c = '?';
  }
  return out;
}

std::string ActionText(const json& a);

Status WantArgs(const GovArgs& g, size_t n) {
  if (g.args.size() != n) {
    return Error(Code::kInvalidArgument, "gov propose " + g.kind + " takes " + std::to_string(n) +
                                             " argument" + (n == 1 ? "" : "s") + ", got " +
                                             std::to_string(g.args.size()) + " (kinds: " + kKinds +
                                             ")");
  }
  return Status::Ok();
}

// The action of `v2g gov propose KIND ARGS...` and its words.
Status BuildAction(Context& ctx, const GovArgs& g, pb::GovAction& action, std::string& words) {
  auto account = [&](const std::string& text) { return ResolveAccount(ctx.keystore(), text); };
  if (g.kind == "text") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 0));
    words = "record a decision";
    return Status::Ok();
  }
  if (g.kind == "grant-role" || g.kind == "revoke-role") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 2));
    V2G_ASSIGN_OR_RETURN(who, account(g.args[1]));
    const bool revoke = g.kind == "revoke-role";
    action = GovRoleAction(g.args[0], who.address, revoke);
    words = (revoke ? "revoke the " : "grant the ") + g.args[0] + " role " +
            (revoke ? "from " : "to ") + AccountLabel(who.address_text, who.key_name);
    return Status::Ok();
  }
  if (g.kind == "set-issuer") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 2));
    if (g.args[1] == "none") {
      action = GovIssuerAction(Upper(g.args[0]), std::nullopt);
      words = "leave " + Upper(g.args[0]) + " without an issuer (nobody may mint or burn it)";
      return Status::Ok();
    }
    V2G_ASSIGN_OR_RETURN(who, account(g.args[1]));
    action = GovIssuerAction(Upper(g.args[0]), who.address);
    words = "make " + AccountLabel(who.address_text, who.key_name) + " the issuer of " +
            Upper(g.args[0]);
    return Status::Ok();
  }
  if (g.kind == "zone") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 2));
    V2G_ASSIGN_OR_RETURN(who, account(g.args[1]));
    action = GovZoneAction(g.args[0], who.address);
    words = "add zone " + g.args[0] + " (or move it) to grid company " +
            AccountLabel(who.address_text, who.key_name);
    return Status::Ok();
  }
  if (g.kind == "param") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 2));
    int64_t value = 0;
    size_t used = 0;
    try {
      value = std::stoll(g.args[1], &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != g.args[1].size()) {
      return Error(Code::kInvalidArgument,
                   "param VALUE must be an integer, got '" + g.args[1] + "'");
    }
    action = GovParamAction(g.args[0], value);
    words = "set params." + g.args[0] + " to " + std::to_string(value);
    return Status::Ok();
  }
  if (g.kind == "suspend-market" || g.kind == "resume-market") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 1));
    const bool suspend = g.kind == "suspend-market";
    action = GovMarketAction(g.args[0], suspend);
    words = (suspend ? "suspend the market of zone " : "resume the market of zone ") + g.args[0];
    return Status::Ok();
  }
  if (g.kind == "add-validator") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 4));
    V2G_ASSIGN_OR_RETURN(ck, HexKey("CONSENSUS_PUBKEY", g.args[1]));
    V2G_ASSIGN_OR_RETURN(nk, HexKey("NODE_PUBKEY", g.args[2]));
    V2G_ASSIGN_OR_RETURN(power, PowerArg(g.args[3]));
    action = GovAddValidatorAction(g.args[0], ck, nk, power);
    words = "add validator " + g.args[0] + " (" + EncodeAddress(AddressFromPublicKey(ck)) +
            ") with power " + std::to_string(power);
    return Status::Ok();
  }
  if (g.kind == "validator-power" || g.kind == "remove-validator") {
    const bool remove = g.kind == "remove-validator";
    V2G_RETURN_IF_ERROR(WantArgs(g, remove ? 1 : 2));
    V2G_ASSIGN_OR_RETURN(who, account(g.args[0]));
    int64_t power = 0;
    if (!remove) {
      V2G_ASSIGN_OR_RETURN(p, PowerArg(g.args[1]));
      power = p;
    }
    action = GovValidatorPowerAction(who.address, power);
    words = remove ? "remove validator " + AccountLabel(who.address_text, who.key_name)
                   : "give validator " + AccountLabel(who.address_text, who.key_name) + " power " +
                         std::to_string(power);
    return Status::Ok();
  }
  if (g.kind == "upgrade") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 3));
    int64_t height = 0;
    const bool digits = !g.args[1].empty() && g.args[1].size() <= 18 &&
                        g.args[1].find_first_not_of("0123456789") == std::string::npos;
    if (digits) height = std::stoll(g.args[1]);
    if (!digits || height <= 0) {
      return Error(Code::kInvalidArgument,
                   "upgrade HEIGHT must be a positive integer, got '" + g.args[1] + "'");
    }
    if (!ParseVersion(g.args[2])) {
      return Error(
          Code::kInvalidArgument,
          "upgrade VERSION must be MAJOR.MINOR.PATCH (e.g. 0.2.0), got '" + g.args[2] + "'");
    }
    action = GovUpgradeAction(g.args[0], height, g.args[2]);
    words = "upgrade every node to version " + g.args[2] + " or later from height " +
            std::to_string(height) + " (" + g.args[0] + ")";
    return Status::Ok();
  }
  if (g.kind == "cancel-upgrade") {
    V2G_RETURN_IF_ERROR(WantArgs(g, 1));
    action = GovCancelUpgradeAction(g.args[0]);
    words = "cancel the pending upgrade " + g.args[0];
    return Status::Ok();
  }
  return Error(Code::kInvalidArgument,
               "unknown proposal kind '" + g.kind + "' (kinds: " + kKinds + ")");
}

Status CmdPropose(Context& ctx, const GovArgs& g, const TxArgs& a) {
  if (g.title.empty() || g.title.size() > limits::kGovTitleBytesMax || !ValidUtf8(g.title)) {
    return Error(
        Code::kInvalidArgument,
        "--title must be 1-" + std::to_string(limits::kGovTitleBytesMax) + " bytes of UTF-8");
  }
  if (g.description.size() > limits::kGovDescriptionBytesMax || !ValidUtf8(g.description)) {
    return Error(Code::kInvalidArgument, "--description must be at most " +
                                             std::to_string(limits::kGovDescriptionBytesMax) +
                                             " bytes of UTF-8");
  }
  pb::GovAction action;
  std::string words;
  V2G_RETURN_IF_ERROR(BuildAction(ctx, g, action, words));
  TxDescription d;
  d.summary = "Propose to " + words + ": '" + g.title + "'";
  d.op = {{"type", "submit_proposal"}, {"kind", g.kind}, {"title", g.title}, {"args", g.args}};
  return SubmitTx(ctx, a, MakeSubmitProposal(0, g.title, g.description, action), d,
                  CreatedId("proposal", [](const std::string& id) {
                    return "validators vote with: v2g gov vote --from KEY " + id + " yes";
                  }));
}

Status CmdVote(Context& ctx, const GovArgs& g, const TxArgs& a) {
  pb::GovVoteOption option = pb::GOV_VOTE_UNSPECIFIED;
  if (g.option == "yes") option = pb::GOV_VOTE_YES;
  if (g.option == "no") option = pb::GOV_VOTE_NO;
  if (g.option == "abstain") option = pb::GOV_VOTE_ABSTAIN;
  if (option == pb::GOV_VOTE_UNSPECIFIED) {
    return Error(Code::kInvalidArgument,
                 "OPTION must be yes, no or abstain, got '" + g.option + "'");
  }
  // Say what the vote is for, from the node (as it says it): the voter confirms the action, not
  // only a number.
  std::string about;
  {
    V2G_ASSIGN_OR_RETURN(client, ctx.client());
    V2G_ASSIGN_OR_RETURN(p, client->GetJson("/v1/proposals/" + std::to_string(g.id)));
    about = " (" + Printable(ActionText(p.value("action", json::object()))) + ": '" +
            Printable(JsonText(p, "title")) + "', " + Printable(JsonText(p, "status")) + ")";
  }
  TxDescription d;
  d.summary = "Vote " + g.option + " on proposal " + std::to_string(g.id) + about;
  d.op = {{"type", "vote_proposal"}, {"proposal_id", g.id}, {"option", g.option}};
  return SubmitTx(ctx, a, MakeVoteProposal(0, g.id, option), d, nullptr);
}

std::string ActionTextRaw(const json& a) {
  const std::string kind = JsonText(a, "kind");
  if (kind == "role") {
    return (a.value("revoke", false) ? "revoke " : "grant ") + JsonText(a, "role") + " " +
           JsonText(a, "address");
  }
  if (kind == "issuer") {
    return "issuer of " + JsonText(a, "denom") + ": " +
           (a.value("issuer", json()).is_null() ? "none" : JsonText(a, "issuer"));
  }
  if (kind == "zone") return "zone " + JsonText(a, "zone") + " to " + JsonText(a, "grid_company");
  if (kind == "param") return JsonText(a, "param") + " = " + JsonText(a, "value");
  if (kind == "market")
    return (a.value("suspend", false) ? "suspend " : "resume ") + JsonText(a, "zone");
  if (kind == "validator") {
    if (JsonText(a, "power") == "0") return "remove validator " + JsonText(a, "address");
    return (a.value("name", json()).is_null() ? "validator "
                                              : "add validator " + JsonText(a, "name") + " ") +
           JsonText(a, "address") + " power " + JsonText(a, "power");
  }
  if (kind == "upgrade") {
    if (a.value("cancel", false)) return "cancel upgrade " + JsonText(a, "name");
    return "upgrade " + JsonText(a, "name") + " to " + JsonText(a, "version") + " at height " +
           JsonText(a, "height");
  }
  return kind;
}

std::string ActionText(const json& a) { return Printable(ActionTextRaw(a)); }

std::string TallyText(const json& p) {
  const json t = p.value("tally", json::object());
  return JsonText(t, "yes") + " yes / " + JsonText(t, "no") + " no / " + JsonText(t, "abstain") +
         " abstain of " + JsonText(t, "total");
}

Status CmdList(Context& ctx) {
  return ShowAnswer(ctx, "/v1/proposals?limit=100", [&](const json& j) -> Status {
    const json list = j.value("proposals", json::array());
    if (list.empty()) {
      std::cout << "No proposals\n";
      return Status::Ok();
    }
    std::vector<std::vector<std::string>> rows{
        {"ID", "STATUS", "TITLE", "ACTION", "VOTING ENDS", "TALLY (POWER)"}};
    for (const auto& p : list) {
      rows.push_back(
          {JsonText(p, "id"), Printable(JsonText(p, "status")), Printable(JsonText(p, "title")),
           ActionText(p.value("action", json::object())), JsonText(p, "voting_end"), TallyText(p)});
    }
    PrintTable(rows, {0});
    if (!j.value("next_before", json()).is_null())
      std::cout << "(more: older proposals not shown)\n";
    return Status::Ok();
  });
}

// v2g gov rotate-key FILE: submits what `v2gd keys rotate` printed, signed by the validator's
// account (for a genesis validator, its first consensus key).
Status CmdRotateKey(Context& ctx, const GovArgs& g, const TxArgs& a) {
  auto text = ReadFile(g.rotation_file);
  if (!text.ok()) return text.status();
  const json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Code::kInvalidArgument,
                 g.rotation_file + ": not the JSON 'v2gd keys rotate' prints");
  }
  auto field = [&](const char* name, size_t bytes) -> Result<std::string> {
    const bool is_text = j.contains(name) && j[name].is_string();
    auto raw = HexDecode(is_text ? j[name].get<std::string>() : std::string());
    if (!raw.ok() || raw->size() != bytes) {
      return Error(Code::kInvalidArgument, g.rotation_file + ": " + name + " must be " +
                                               std::to_string(bytes * 2) + " hex digits");
    }
    return std::string(raw->begin(), raw->end());
  };
  pb::RotateValidatorKey r;
  // Each new key (consensus, node) with its signature, when the file names it.
  auto optional_key = [&](const char* key_name, const char* sig_name, std::string* key,
                          std::string* sig) -> Status {
    if (!j.contains(key_name) || j[key_name].is_null()) return Status::Ok();
    V2G_ASSIGN_OR_RETURN(k, field(key_name, 32));
    V2G_ASSIGN_OR_RETURN(s, field(sig_name, 64));
    *key = k;
    *sig = s;
    return Status::Ok();
  };
  V2G_RETURN_IF_ERROR(optional_key("new_consensus_pubkey", "new_consensus_signature",
                                   r.mutable_new_consensus_pubkey(),
                                   r.mutable_new_consensus_signature()));
  V2G_RETURN_IF_ERROR(optional_key("new_node_pubkey", "new_node_signature",
                                   r.mutable_new_node_pubkey(), r.mutable_new_node_signature()));
  if (r.new_consensus_pubkey().empty() && r.new_node_pubkey().empty()) {
    return Error(Code::kInvalidArgument,
                 g.rotation_file + ": names no new key (new_consensus_pubkey, new_node_pubkey)");
  }
  V2G_ASSIGN_OR_RETURN(old_sig, field("old_consensus_signature", 64));
  r.set_old_consensus_signature(old_sig);
  TxDescription d;
  std::string what;
  if (!r.new_consensus_pubkey().empty()) {
    what = "consensus key to " + HexEncode(r.new_consensus_pubkey());
  }
  if (!r.new_node_pubkey().empty()) {
    what += (what.empty() ? "" : " and its ") + std::string("node key to ") +
            HexEncode(r.new_node_pubkey());
  }
  d.summary = "Rotate this validator's " + what + " (from two heights after this tx's block)";
  d.op = {{"type", "rotate_validator_key"},
          {"new_consensus_pubkey", r.new_consensus_pubkey().empty()
                                       ? json(nullptr)
                                       : json(HexEncode(r.new_consensus_pubkey()))},
          {"new_node_pubkey",
           r.new_node_pubkey().empty() ? json(nullptr) : json(HexEncode(r.new_node_pubkey()))}};
  pb::TxBody body;
  *body.mutable_rotate_validator_key() = r;
  return SubmitTx(ctx, a, body, d, nullptr);
}

Status CmdShow(Context& ctx, const GovArgs& g) {
  return ShowAnswer(ctx, "/v1/proposals/" + std::to_string(g.id), [&](const json& p) -> Status {
    const KeyNames names(ctx);
    PrintRows(
        {{"proposal", JsonText(p, "id") + " '" + Printable(JsonText(p, "title")) + "'"},
         {"proposer", names(JsonText(p, "proposer"))},
         {"action", ActionText(p.value("action", json::object()))},
         {"status", JsonText(p, "status")},
         {"submitted",
          "height " + JsonText(p, "submit_height") + ", " + JsonText(p, "submit_time")},
         {"voting ends", JsonText(p, "voting_end")},
         {"tally (power)", TallyText(p)},
         {"executes at", p.value("execute_height", json()).is_null()
                             ? "-"
                             : "height " + JsonText(p, "execute_height")},
         {"result", p.value("result", json()).is_null() ? "-" : Printable(JsonText(p, "result"))}});
    if (!JsonText(p, "description").empty())
      std::cout << "\n" << Printable(JsonText(p, "description"), true) << "\n";
    const json votes = p.value("votes", json::array());
    if (votes.empty()) return Status::Ok();
    std::cout << "\n";
    std::vector<std::vector<std::string>> rows{{"VALIDATOR", "VOTER", "OPTION", "POWER", "HEIGHT"}};
    for (const auto& v : votes) {
      rows.push_back({Printable(JsonText(v, "validator")), names(JsonText(v, "voter")),
                      Printable(JsonText(v, "option")), JsonText(v, "power"),
                      JsonText(v, "height")});
    }
    PrintTable(rows, {3, 4});
    return Status::Ok();
  });
}

}  // namespace

void AddGovCommands(CLI::App& app, CommandLine& cl) {
  GovArgs& g = cl.Keep<GovArgs>();
  TxArgs& tx = cl.Keep<TxArgs>();
  CLI::App* gov = cl.Group(&app, "gov", "Governance: proposals and validators' votes");
  auto* propose = cl.Command(gov, "propose", "Submit a proposal (validators and the proposer role)",
                             [&](Context& c) { return CmdPropose(c, g, tx); });
  propose->add_option("KIND", g.kind, std::string("What it does: ") + kKinds)->required();
  propose->add_option("ARGS", g.args, "The kind's arguments");
  propose->add_option("--title", g.title, "Title (1-140 bytes)")->required();
  propose->add_option("--description", g.description,
                      "Why, or a link to the full text (at most 8 KiB)");
  AddTxOptions(propose, tx, true);
  auto* vote =
      cl.Command(gov, "vote", "Vote on an open proposal (validators; a later vote replaces yours)",
                 [&](Context& c) { return CmdVote(c, g, tx); });
  vote->add_option("ID", g.id, "Proposal id")->required()->check(IdCheck());
  vote->add_option("OPTION", g.option, "yes, no or abstain")->required();
  AddTxOptions(vote, tx, true);
  cl.Command(gov, "list", "Proposals, newest first, with their tally",
             [&](Context& c) { return CmdList(c); });
  auto* show = cl.Command(gov, "show", "A proposal, its votes and its result",
                          [&](Context& c) { return CmdShow(c, g); });
  show->add_option("ID", g.id, "Proposal id")->required()->check(IdCheck());
  auto* rotate = cl.Command(gov, "rotate-key",
                            "Rotate a validator's consensus key, node key or both with what 'v2gd "
                            "keys rotate' printed (the "
                            "validator's account signs)",
                            [&](Context& c) { return CmdRotateKey(c, g, tx); });
  rotate->add_option("FILE", g.rotation_file, "The rotation 'v2gd keys rotate' printed")
      ->required();
  AddTxOptions(rotate, tx, true);
}

}  // namespace v2g::cli
