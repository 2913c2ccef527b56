// The block explorer (docs/API.md "Explorer"): GET / answers the page, GET /explorer/<name> its
// script and style sheet, from the copy compiled into the node (node/explorer/assets.h) or, for
// someone working on the page, from [api] explorer_dir on every request. Nothing in a path
// reaches the file system: only the names the build embedded are served.
#include <fstream>
#include <sstream>
#include <string>

#include "node/api/reply.h"
#include "node/api/routes.h"
#include "node/explorer/assets.h"

namespace v2g::api {
namespace {

// Scripts and styles from this origin only, no inline code, requests to this origin only, never
// framed: whatever a meter id, a zone or a memo holds, it is text on the page, never code.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
// A file read from explorer_dir larger than this is refused (the embedded ones are ~100 KB).
constexpr std::streamsize kExplorerFileBytesMax = 4 << 20;

void ServeAsset(ApiContext& c, std::string_view name, httplib::Response& res) {
  if (!c.explorer) {
    return Reply(res, 404,
                 ErrorBody(Code::kNotFound,
                           "the explorer is off on this node ([api] explorer in config.toml)"));
  }
  const explorer::Asset* asset = nullptr;
  for (const explorer::Asset& a : explorer::Assets()) {
    if (a.name == name) asset = &a;
  }
  if (!asset) {
    return Reply(res, 404,
                 ErrorBody(Code::kNotFound, "no explorer file '" + std::string(name) + "'"));
  }
  std::string body(asset->body);
  if (!c.explorer_dir.empty()) {
    const std::string path = c.explorer_dir + "/" + std::string(asset->name);
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
      return Reply(res, 500,
                   ErrorBody(Code::kInternal, "cannot read " + path + " ([api] explorer_dir)"));
    }
    // Its size first: a huge file is refused before anything is allocated for it.
    const std::streamoff size = in.tellg();
    if (size < 0 || size > kExplorerFileBytesMax) {
      return Reply(res, 500,
                   ErrorBody(Code::kInternal, path + " is larger than 4 MiB ([api] explorer_dir)"));
    }
    std::string text(static_cast<size_t>(size), '\0');
    in.seekg(0);
    in.read(text.data(), size);
    if (!in)
      return Reply(res, 500,
                   ErrorBody(Code::kInternal, "cannot read " + path + " ([api] explorer_dir)"));
    body = std::move(text);
  }
  res.status = 200;
  res.set_content(std::move(body), std::string(asset->content_type));
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  // The page changes with the node's version: always revalidated, never stale after an upgrade.
  res.set_header("Cache-Control", "no-cache");
}

}  // namespace

void GetExplorer(ApiContext& c, const httplib::Request&, httplib::Response& res) {
  ServeAsset(c, "index.html", res);
}

void GetExplorerAsset(ApiContext& c, const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];
  if (name == "index.html") return GetExplorer(c, req, res);
  ServeAsset(c, name, res);
}

}  // namespace v2g::api
