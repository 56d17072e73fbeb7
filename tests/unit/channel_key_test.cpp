// The channel's pre-shared key file (channel_key.h): only a 32-byte regular file readable by its
// owner alone is accepted, and every refusal says why and what to do.
#include "synwarden/channel_key.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace synwarden {
namespace {

namespace fs = std::filesystem;

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/synwarden-key-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes, mode_t mode) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    ::chmod(path.c_str(), mode);
    return path;
  }

  static std::string refusal(const std::string& path) {
    try {
      ChannelKey::load_file(path);
    } catch (const ChannelKeyError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(KeyFile, Mode0600With32BytesIsAccepted) {
  const std::string path = write("agent.key", std::string(32, '\x42'), 0600);
  const ChannelKey key = ChannelKey::load_file(path);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(key.data()), 32), std::string(32, '\x42'));
}

TEST_F(KeyFile, Mode0400IsAcceptedToo) {
  const std::string path = write("agent.key", std::string(32, 'k'), 0400);
  EXPECT_NO_THROW(ChannelKey::load_file(path));
}

TEST_F(KeyFile, GroupOrWorldAccessIsRefusedWithTheFix) {
  for (mode_t mode : {0640, 0604, 0644, 0660, 0610}) {
    const std::string path = write("k" + std::to_string(mode), std::string(32, 'k'), mode);
    const std::string why = refusal(path);
    EXPECT_NE(why.find("lets group or others access it"), std::string::npos) << why;
    EXPECT_NE(why.find("chmod 600 " + path), std::string::npos) << why;
  }
}

TEST_F(KeyFile, WrongSizeIsRefused) {
  for (size_t size : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    const std::string path = write("k" + std::to_string(size), std::string(size, 'k'), 0600);
    const std::string why = refusal(path);
    EXPECT_NE(why.find("has " + std::to_string(size) + " bytes"), std::string::npos) << why;
  }
}

TEST_F(KeyFile, SymlinkIsRefused) {
  const std::string target = write("real.key", std::string(32, 'k'), 0600);
  const std::string link = (dir_ / "link.key").string();
  fs::create_symlink(target, link);
  EXPECT_NE(refusal(link).find("symbolic link"), std::string::npos);
}

TEST_F(KeyFile, MissingFileSaysHowToCreateOne) {
  const std::string why = refusal((dir_ / "absent.key").string());
  EXPECT_NE(why.find("synwarden-agent genkey"), std::string::npos) << why;
}

TEST_F(KeyFile, DirectoryIsRefused) {
  fs::create_directory(dir_ / "d");
  ::chmod((dir_ / "d").c_str(), 0700);
  EXPECT_NE(refusal((dir_ / "d").string()).find("not a regular file"), std::string::npos);
}

TEST_F(KeyFile, FileOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  const std::string path = write("other.key", std::string(32, 'k'), 0600);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  EXPECT_NE(refusal(path).find("owned by uid 65534"), std::string::npos);
}

TEST_F(KeyFile, WriteNewFileMakesALoadableOwnerOnlyKeyAndNeverOverwrites) {
  const std::string path = (dir_ / "new.key").string();
  const mode_t old_umask = ::umask(0);   // a permissive umask must not widen the mode
  ChannelKey::write_new_file(path);
  ::umask(old_umask);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  const ChannelKey a = ChannelKey::load_file(path);
  EXPECT_THROW(ChannelKey::write_new_file(path), ChannelKeyError);
  const ChannelKey b = ChannelKey::load_file(path);
  EXPECT_EQ(a.id(), b.id());
}

TEST(ChannelKeyGenerate, KeysAreRandom) {
  EXPECT_NE(ChannelKey::generate().id(), ChannelKey::generate().id());
}

}  // namespace
}  // namespace synwarden
