// common/fsutil.h: durable atomic file writes, the one helper the node (config, genesis, keys,
// signer state) and the wallet (key files, battery profiles) write through.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/fsutil.h"

namespace v2g {
namespace {

class FsutilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/v2g-fsutil-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Every file in the directory: nothing else (no temp file) may be left behind.
  size_t FileCount() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++n;
    return n;
  }
  unsigned ModeOf(const std::string& path) const {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }

  std::string dir_;
};

TEST_F(FsutilTest, ReplacesByDefaultAndLeavesNoTempFile) {
  const std::string path = dir_ + "/config.toml";
  ASSERT_TRUE(WriteFileAtomic(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "two").ok());
  EXPECT_EQ(*ReadFile(path), "two");
  EXPECT_EQ(FileCount(), 1u);
}

TEST_F(FsutilTest, RefuseKeepsTheExistingFileWhole) {
  const std::string path = dir_ + "/key.json";
  ASSERT_TRUE(WriteFileAtomic(path, "first", 0600, Overwrite::kRefuse).ok());
  Status st = WriteFileAtomic(path, "second", 0600, Overwrite::kRefuse);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_EQ(*ReadFile(path), "first");
  EXPECT_EQ(FileCount(), 1u);  // the temp file of the refused write is gone
}

TEST_F(FsutilTest, AppliesTheModeWhateverTheUmask) {
  const mode_t old = ::umask(0);
  const std::string secret = dir_ + "/secret";
  const std::string open = dir_ + "/open";
  Status a = WriteFileAtomic(secret, "s", 0600);
  Status b = WriteFileAtomic(open, "o", 0644);
  ::umask(old);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(ModeOf(secret), 0600u);
  EXPECT_EQ(ModeOf(open), 0644u);
}

TEST_F(FsutilTest, NeverWritesThroughASymlinkAtTheTarget) {
  // A symlink where the file goes is replaced by the rename, never followed: the file it points
  // at keeps its content.
  const std::string victim = dir_ + "/victim";
  ASSERT_TRUE(WriteFileAtomic(victim, "untouched").ok());
  const std::string path = dir_ + "/link";
  std::filesystem::create_symlink(victim, path);
  ASSERT_TRUE(WriteFileAtomic(path, "new").ok());
  EXPECT_EQ(*ReadFile(victim), "untouched");
  EXPECT_FALSE(std::filesystem::is_symlink(path));
  EXPECT_EQ(*ReadFile(path), "new");
}

TEST_F(FsutilTest, FailsCleanlyInAMissingDirectory) {
  Status st = WriteFileAtomic(dir_ + "/no/such/dir/file", "x");
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("cannot create"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace v2g
