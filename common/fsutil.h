// Small filesystem helpers with the durability the node and the wallet need. Every file that
// must survive a crash (config, genesis, node and validator keys, the signer's last-signed
// record, wallet key files) is written through WriteFileAtomic: nobody ever sees it half written.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace v2g {

// Whether WriteFileAtomic may replace a file that already exists at `path`.
enum class Overwrite { kReplace, kRefuse };

// Writes `data` to `path` atomically and durably: a new temp file beside it (unique name, created
// exclusively, never following a symlink), fsync, rename over `path`, fsync of the directory.
// `mode` applies to the new file (0600 for secrets). With Overwrite::kRefuse an existing `path` is
// never replaced, checked atomically with the rename: kAlreadyExists "<path> already exists".
// On any failure `path` is unchanged and the temp file is removed. Errors are kIo naming the file.
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0644,
                       Overwrite overwrite = Overwrite::kReplace);
// fsync of a directory, so that a rename or unlink inside it survives a crash.
Status SyncDir(const std::string& dir);
Result<std::string> ReadFile(const std::string& path);
bool FileExists(const std::string& path);
// mkdir -p with `mode` for created directories.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

}  // namespace v2g
