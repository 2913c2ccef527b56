// The block explorer as the node serves it (node/api/explorer.cc, docs/API.md "Explorer"): the
// page and its two files with a strict Content-Security-Policy, only the names built in, off
// when configured off, read from explorer_dir when set; and what the page's files may not hold
// (inline code that the policy would block, HTML built from strings). What the page shows is
// checked in a browser: tests/explorer/browser_test.mjs.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "node/api/api.h"
#include "node/explorer/assets.h"
#include "tests/node/node_test_util.h"

namespace v2g::nodetest {
namespace {

std::string ReadSource(const std::string& name) {
  std::ifstream in(std::string(V2G_SOURCE_DIR) + "/node/explorer/" + name, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ExplorerTest : public ::testing::Test {
 protected:
  void Start(bool explorer = true, const std::string& dir = "") {
    node_ = std::make_unique<ManualNode>();
    ASSERT_FALSE(HasFatalFailure());
    ApiContext ctx;
    ctx.store = &node_->store();
    ctx.chain = &node_->chain();
    ctx.mempool = &node_->mempool();
    ctx.chain_id = kChainId;
    ctx.threads = 2;
    ctx.explorer = explorer;
    ctx.explorer_dir = dir;
    api_ = std::make_unique<ApiServer>(ctx);
    ASSERT_TRUE(api_->Start("127.0.0.1", 0).ok());
    cli_ = MakeClient(api_->port());
  }
  void TearDown() override {
    cli_.reset();
    if (api_) api_->Stop();
    api_.reset();
    node_.reset();
  }
  httplib::Result Get(const std::string& path) { return cli_->Get(path.c_str()); }

  std::unique_ptr<ManualNode> node_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<httplib::Client> cli_;
};

constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

TEST_F(ExplorerTest, ServesThePageAndItsFilesAsBuiltWithAStrictPolicy) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  struct Want {
    const char* path;
    const char* file;
    const char* type;
  };
  for (const Want& w :
       {Want{"/", "index.html", "text/html; charset=utf-8"},
        Want{"/explorer/index.html", "index.html", "text/html; charset=utf-8"},
        Want{"/explorer/explorer.js", "explorer.js", "text/javascript; charset=utf-8"},
        Want{"/explorer/explorer.css", "explorer.css", "text/css; charset=utf-8"}}) {
    SCOPED_TRACE(w.path);
    auto res = Get(w.path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), w.type);
    // The build's copy is the source file, byte for byte.
    EXPECT_EQ(res->body, ReadSource(w.file));
    EXPECT_FALSE(res->body.empty());
    EXPECT_EQ(res->get_header_value("Content-Security-Policy"), kPolicy);
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY");
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-cache");
  }
  auto head = cli_->Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());

  // Only the names built in: nothing else under /explorer/, and nothing of the file system.
  auto nope = Get("/explorer/nope.js");
  ASSERT_TRUE(nope);
  EXPECT_EQ(nope->status, 404);
  EXPECT_NE(nope->body.find("no explorer file 'nope.js'"), std::string::npos) << nope->body;
  for (const char* path : {"/explorer/..%2f..%2fconfig.toml", "/explorer/../config.toml",
                           "/explorer/", "/explorer", "/index.html"}) {
    auto res = Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path << ": " << res->body;
    EXPECT_EQ(res->get_header_value("Content-Security-Policy"), "") << path;
  }
  auto post = cli_->Post("/", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(ExplorerTest, OffWhenConfiguredOffWhileTheApiServes) {
  Start(/*explorer=*/false);
  ASSERT_FALSE(HasFatalFailure());
  for (const char* path : {"/", "/explorer/explorer.js"}) {
    auto res = Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_NE(res->body.find("the explorer is off on this node ([api] explorer"), std::string::npos)
        << res->body;
  }
  auto status = Get("/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
}

TEST_F(ExplorerTest, ExplorerDirServesTheFolderOnEveryRequest) {
  TempDir dir;
  Start(/*explorer=*/true, dir.path());
  ASSERT_FALSE(HasFatalFailure());
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() + "/" + name, std::ios::binary) << text;
  };
  write("index.html", "<p>first</p>");
  auto first = Get("/");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "<p>first</p>");
  EXPECT_EQ(first->get_header_value("Content-Security-Policy"), kPolicy);
  write("index.html", "<p>second</p>");
  auto second = Get("/");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "<p>second</p>");  // no restart: read on each request

  // A file the folder lacks is an error naming it, not the built-in copy in disguise.
  auto missing = Get("/explorer/explorer.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 500);
  EXPECT_NE(missing->body.find("cannot read " + dir.path() + "/explorer.js"), std::string::npos)
      << missing->body;
  // Nor is a huge one read whole.
  write("explorer.css", std::string((4 << 20) + 1, 'a'));
  auto huge = Get("/explorer/explorer.css");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 500);
  EXPECT_NE(huge->body.find("larger than 4 MiB"), std::string::npos) << huge->body.substr(0, 200);
}

// The policy forbids inline scripts, inline styles and event-handler attributes, so a page that
// used them would break in the browser; and the script builds the page with DOM calls, never
// from HTML text, so a meter id or memo is always text. A guard on the files, beside the browser
// test that runs them.
TEST(ExplorerFiles, HoldNoInlineCodeAndBuildNoHtmlFromStrings) {
  size_t n = 0;
  for (const explorer::Asset& a : explorer::Assets()) {
    ++n;
    EXPECT_GT(a.body.size(), 100u) << a.name;
  }
  EXPECT_EQ(n, 3u);
  const std::string html = ReadSource("index.html");
  EXPECT_FALSE(
      std::regex_search(html, std::regex(R"(<script(?![^>]*\bsrc=)[^>]*>)", std::regex::icase)))
      << "an inline <script> (the policy allows only script-src 'self')";
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(<style)", std::regex::icase)))
      << "an inline <style>";
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(\sstyle\s*=)", std::regex::icase)))
      << "a style= attribute";
  EXPECT_FALSE(std::regex_search(html, std::regex(R"(\son[a-z]+\s*=)", std::regex::icase)))
      << "an on...= handler";
  EXPECT_FALSE(
      std::regex_search(html, std::regex(R"((src|href)\s*=\s*"(https?:)?//)", std::regex::icase)))
      << "a file from another origin";
  const std::string js = ReadSource("explorer.js");
  for (const char* banned : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                             "eval(", "new Function", "javascript:", "https://"}) {
    EXPECT_EQ(js.find(banned), std::string::npos) << "explorer.js uses " << banned;
  }
  // No URL of another origin: the one absolute URL is SVG's namespace name, never fetched.
  std::string rest = js;
  for (size_t at; (at = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;)
    rest.erase(at, 26);
  EXPECT_EQ(rest.find("http://"), std::string::npos) << "explorer.js names a URL of another origin";
}

TEST_F(ExplorerTest, ValidatorsNameTheirLastSignedHeight) {
  Start();
  ASSERT_FALSE(HasFatalFailure());
  HttpReply none = HttpGet(*cli_, "/v1/validators");
  ASSERT_EQ(none.status, 200) << none.raw;
  EXPECT_TRUE(none.body["validators"][0]["last_signed_height"].is_null())
      << none.raw;  // no block yet
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(node_->CommitNext().ok());
  HttpReply got = HttpGet(*cli_, "/v1/validators");
  ASSERT_EQ(got.status, 200) << got.raw;
  ASSERT_EQ(got.body["validators"].size(), 1u);
  EXPECT_EQ(got.body["validators"][0]["last_signed_height"], 3) << got.raw;
}

}  // namespace
}  // namespace v2g::nodetest
