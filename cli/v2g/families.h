// The command families of the v2g wallet CLI, one file each (cli/v2g/<family>.cc). Each Add
// function registers its commands, their options and help texts under `app`; main calls them in
// the order `v2g --help` lists the commands.
#pragma once

#include <string>

#include "cli/v2g/command_line.h"
#include "common/ocmf.h"
#include "common/status.h"

namespace v2g::cli {

void AddKeysCommands(CLI::App& app, CommandLine& cl);      // keys add|list|show|delete|export
void AddBankCommands(CLI::App& app, CommandLine& cl);      // balance, send, mint, burn
void AddTxCommands(CLI::App& app, CommandLine& cl);        // tx show, status, get
void AddMeterCommands(CLI::App& app, CommandLine& cl);     // meter keygen|register|show|...
// meter verify-ocmf (cli/v2g/meter_ocmf.cc), under the `meter` group AddMeterCommands made.
void AddMeterOcmfCommands(CLI::App* meter, CommandLine& cl);
// An OCMF meter's public key from hex (`hex_text`) or a file of hex or PEM (`file`): exactly one
// of them; `flags` names the two options in the error.
Result<OcmfPublicKey> LoadOcmfPublicKey(const std::string& hex_text, const std::string& file, const std::string& flags);
void AddBatteryCommands(CLI::App& app, CommandLine& cl);   // battery METER, battery profile
void AddMeterSimCommands(CLI::App& app, CommandLine& cl);  // meter-sim
void AddMarketCommands(CLI::App& app, CommandLine& cl);    // market sell|buy|cancel|orders|...
void AddContractCommands(CLI::App& app, CommandLine& cl);  // contract propose|accept|...
void AddTariffCommands(CLI::App& app, CommandLine& cl);    // tariff set|enroll|show|pay-debt
void AddEventCommands(CLI::App& app, CommandLine& cl);     // event create|enroll|show|...
void AddPoolCommands(CLI::App& app, CommandLine& cl);      // pool create|join|leave|show
void AddProgramCommands(CLI::App& app, CommandLine& cl);   // program create|join|show
void AddEarningsCommands(CLI::App& app, CommandLine& cl);  // earnings
void AddWatchCommands(CLI::App& app, CommandLine& cl);     // watch
void AddGovCommands(CLI::App& app, CommandLine& cl);       // gov propose|vote|list|show
void AddVerifyCommands(CLI::App& app, CommandLine& cl);    // verify trust|balance (light client)

// `keys add` (and `meter keygen`, which makes a device key the same way): creates key `name`, or
// with `recover` imports it from a seed read on stdin, encrypted with a new passphrase.
Status AddKey(Context& ctx, const std::string& name, bool recover, const std::string& kind = "account");

}  // namespace v2g::cli
