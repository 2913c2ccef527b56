// `v2gd keys encrypt|decrypt|show|rotate`: a node home's validator and node key files at rest
// (node/keys.h), the passphrase `v2gd init|testnet --encrypt-keys` encrypt new keys with, and a
// new consensus key, node key or both with the signed rotation that a RotateValidatorKey tx
// carries.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "node/keys.h"

namespace v2g::v2gd {

// Registers `keys` and its subcommands on `app`; after parsing, Run() runs the one given.
class KeysCommands {
 public:
  explicit KeysCommands(CLI::App& app);
  bool selected() const { return keys_->parsed(); }
  // The exit code: 0, or 1 after an error on stderr.
  int Run();

 private:
  int Show();
  int Encrypt();
  int Decrypt();
  int Rotate();

  CLI::App* keys_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* encrypt_ = nullptr;
  CLI::App* decrypt_ = nullptr;
  CLI::App* rotate_ = nullptr;
  std::string home_;
  std::string which_ = "all";
  std::string rotate_which_ = "validator";
  std::string passphrase_file_;
};

// The passphrase for new encrypted keys (init, testnet): `passphrase_file` when not empty, else
// $V2GD_KEY_PASSPHRASE, else typed twice on the terminal.
KeyPassphrase NewKeysPassphrase(const std::string& passphrase_file);

}  // namespace v2g::v2gd
