// Small filesystem helpers with the durability the node needs.
#pragma once

#include <string>

#include "common/status.h"

namespace v2g {

// Writes `data` to `path` atomically and durably: temp file, fsync, rename, fsync of the
// directory. `mode` applies to the new file (0600 for secrets).
Status WriteFileAtomic(const std::string& path, const std::string& data, unsigned mode = 0644);
Result<std::string> ReadFile(const std::string& path);
bool FileExists(const std::string& path);
// mkdir -p with `mode` for created directories.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

}  // namespace v2g
