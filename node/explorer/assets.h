// The block explorer's files (index.html, explorer.js, explorer.css in this folder), compiled
// into the node by embed.cmake and served by the API at / and /explorer/<name> (node/api/
// explorer.cc). The page is static: it reads the same /v1 API as every other client.
#pragma once

#include <span>
#include <string_view>

namespace v2g::explorer {

struct Asset {
  std::string_view name;          // "index.html", "explorer.js", "explorer.css"
  std::string_view content_type;  // with charset
  std::string_view body;
};

// Every file, in a fixed order; the bodies live for the whole program.
std::span<const Asset> Assets();

}  // namespace v2g::explorer
