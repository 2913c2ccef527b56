// Reading secrets and confirmations from the user. The caller wipes returned secrets
// (SecureWipe(s.data(), s.size())) when done.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace v2g {

// A passphrase or seed longer than this is a mistake (a wrong file, a pasted document).
constexpr size_t kSecretLineMax = 1024;

// Prints `prompt` on the controlling terminal (/dev/tty), reads one line with echo off and
// restores the terminal (also on Ctrl-C). kUnavailable when there is no terminal.
Result<std::string> ReadSecretFromTerminal(std::string_view prompt);
// Same with echo on, for confirmations.
Result<std::string> ReadLineFromTerminal(std::string_view prompt);
// One line from file descriptor `fd` (e.g. 0 for stdin) without its line ending; echo is turned
// off while reading when `fd` is a terminal. kInvalidArgument if empty or too long.
Result<std::string> ReadSecretLine(int fd, std::string_view what);
// The first line of `path` without its line ending (a passphrase file). kIo if unreadable.
Result<std::string> ReadFirstLineOfFile(const std::string& path);

}  // namespace v2g
