// The indexer's versioned schema migrations (schema.cc).
#pragma once

#include <span>

namespace v2g::indexer {

struct Migration {
  int version;       // 1, 2, ...: applied in order, each once
  const char* name;  // what it adds, for the log and schema_migrations
  const char* sql;
};

// Every migration, oldest first.
std::span<const Migration> Migrations();

}  // namespace v2g::indexer
