#include "wallet/battery_wear.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/checked.h"
#include "common/fsutil.h"
#include "contracts/meters.h"

namespace v2g {
namespace {

Status Field(const char* name, int64_t v, int64_t lo, int64_t hi, const char* unit) {
  if (v < lo || v > hi) {
    return Error(Code::kInvalidArgument, std::string("battery profile ") + name + " must be " + std::to_string(lo) + ".." +
                                             std::to_string(hi) + unit + ", got " + std::to_string(v));
  }
  return Status::Ok();
}

std::string ProfilePath(const std::string& home, const std::string& meter_id) {
  return home + "/battery/" + meter_id + ".json";
}

Int128 Denominator(const BatteryProfile& p) {
  return static_cast<Int128>(p.cycle_life) * p.capacity_wh * p.dod_permille;
}

int64_t CeilDiv(Int128 num, Int128 den) {
  const Int128 q = (num + den - 1) / den;
  return q > std::numeric_limits<int64_t>::max() ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(q);
}

}  // namespace

Status ValidateProfile(const BatteryProfile& p) {
  if (!ValidMeterId(p.meter_id)) return Error(Code::kInvalidArgument, "battery profile: meter id is not 1-64 of A-Z a-z 0-9 . _ : -");
  V2G_RETURN_IF_ERROR(Field("replacement cost", p.replacement_cost, 1, kReplacementCostMax, " minimal units"));
  V2G_RETURN_IF_ERROR(Field("capacity", p.capacity_wh, 1'000, 10'000'000, " Wh"));
  V2G_RETURN_IF_ERROR(Field("cycle life", p.cycle_life, 1, 1'000'000, " cycles"));
  return Field("depth of discharge", p.dod_permille, 1, 1000, " permille");
}

int64_t WearCostPerKwh(const BatteryProfile& p) {
  return CeilDiv(static_cast<Int128>(p.replacement_cost) * 1'000'000, Denominator(p));
}

int64_t WearCostOf(const BatteryProfile& p, int64_t export_wh) {
  if (export_wh <= 0) return 0;
  return CeilDiv(static_cast<Int128>(export_wh) * p.replacement_cost * 1'000'000, Denominator(p) * 1000);
}

Status SaveProfile(const std::string& home, const BatteryProfile& p) {
  V2G_RETURN_IF_ERROR(ValidateProfile(p));
  std::error_code ec;
  std::filesystem::create_directories(home + "/battery", ec);
  if (ec) return Error(Code::kIo, "cannot create " + home + "/battery: " + ec.message());
  nlohmann::json j = {{"meter_id", p.meter_id},
                      {"replacement_cost", p.replacement_cost},
                      {"capacity_wh", p.capacity_wh},
                      {"cycle_life", p.cycle_life},
                      {"dod_permille", p.dod_permille}};
  const std::string path = ProfilePath(home, p.meter_id);
  return WriteFileAtomic(path, j.dump(2) + "\n", 0600);
}

Result<BatteryProfile> LoadProfile(const std::string& home, const std::string& meter_id) {
  if (!ValidMeterId(meter_id)) return Error(Code::kInvalidArgument, "meter id is not 1-64 of A-Z a-z 0-9 . _ : -");
  const std::string path = ProfilePath(home, meter_id);
  std::ifstream in(path);
  if (!in) return Error(Code::kNotFound, "no battery profile for meter '" + meter_id + "' (" + path + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  BatteryProfile p;
  try {
    if (!j.is_object()) throw nlohmann::json::type_error::create(302, "not an object", nullptr);
    p.meter_id = j.at("meter_id").get<std::string>();
    p.replacement_cost = j.at("replacement_cost").get<int64_t>();
    p.capacity_wh = j.at("capacity_wh").get<int64_t>();
    p.cycle_life = j.at("cycle_life").get<int64_t>();
    p.dod_permille = j.at("dod_permille").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    return Error(Code::kMalformed, path + " is not a battery profile: " + e.what());
  }
  if (p.meter_id != meter_id) return Error(Code::kMalformed, path + " holds the profile of meter '" + p.meter_id + "'");
  V2G_RETURN_IF_ERROR(ValidateProfile(p));
  return p;
}

}  // namespace v2g
