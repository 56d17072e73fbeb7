// Specification of how the daemon saves its config file: all or nothing (temp file, fsync,
// rename), the operator's mode kept, a symlinked config updated where it points, and failures
// that say which step failed on which path.
#include "control_config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "control_test_support.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

TEST(ConfigFile, AtomicWriteReplacesTheContentAndKeepsTheMode) {
  TempDir dir;
  dir.write("fw.json", "old", 0600);
  write_file_atomically(dir.file("fw.json"), "new content\n");
  EXPECT_EQ(dir.read("fw.json"), "new content\n");
  EXPECT_EQ(dir.mode("fw.json"), 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir.file("fw.json.tmp")));
  dir.write("group.json", "old", 0640);
  write_file_atomically(dir.file("group.json"), "x");
  EXPECT_EQ(dir.mode("group.json"), 0640u);
}

TEST(ConfigFile, ANewFileIsCreatedWithoutWorldAccess) {
  TempDir dir;
  const mode_t old_umask = ::umask(0);
  write_file_atomically(dir.file("new.json"), "{}");
  ::umask(old_umask);
  EXPECT_EQ(dir.mode("new.json"), 0640u);
}

TEST(ConfigFile, ASymlinkedConfigIsUpdatedWhereItPointsAndStaysALink) {
  TempDir dir;
  dir.write("real.json", "old", 0600);
  std::filesystem::create_symlink(dir.file("real.json"), dir.file("link.json"));
  write_file_atomically(dir.file("link.json"), "new");
  EXPECT_TRUE(std::filesystem::is_symlink(dir.file("link.json")));
  EXPECT_EQ(dir.read("real.json"), "new");
}

TEST(ConfigFile, AStaleTempFileFromACrashIsReplaced) {
  TempDir dir;
  dir.write("fw.json", "old");
  dir.write("fw.json.tmp", "half-written garbage from a killed daemon");
  write_file_atomically(dir.file("fw.json"), "new");
  EXPECT_EQ(dir.read("fw.json"), "new");
  EXPECT_FALSE(std::filesystem::exists(dir.file("fw.json.tmp")));
}

TEST(ConfigFile, AFailedWriteNamesTheStepAndLeavesTheFileAlone) {
  TempDir dir;
  dir.write("fw.json", "old");
  std::filesystem::create_directory(dir.file("fw.json.tmp"));  // the temp name is taken
  try {
    write_file_atomically(dir.file("fw.json"), "new");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("creating " + dir.file("fw.json.tmp").string()));
  }
  EXPECT_EQ(dir.read("fw.json"), "old");
}

TEST(ConfigFile, ReadingKeepsTextDocumentOrderAndValidatedConfig) {
  TempDir dir;
  const std::string text = R"({"protected_hosts": [{"address": "192.0.2.10",
    "mac": "02:00:5e:00:53:10", "secrets_file": "/s"}], "interface": "eth1"})";
  dir.write("fw.json", text);
  const LoadedConfig loaded = read_config_file(dir.file("fw.json"));
  EXPECT_EQ(loaded.text, text);
  EXPECT_EQ(loaded.document.begin().key(), "protected_hosts") << "the operator's key order";
  EXPECT_EQ(loaded.config.interface, "eth1");
  dir.write("bad.json", R"({"interface": "eth1", "protected_hosts": [], "x": 1})");
  try {
    read_config_file(dir.file("bad.json"));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.file("bad.json").string() + ": config key"));
  }
}

}  // namespace
}  // namespace synwarden::daemon
