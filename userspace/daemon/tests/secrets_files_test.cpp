// Specification of the static secrets files the daemon reads until live agents exist.
#include "secrets_files.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "control_test_support.h"
#include "secrets_sources.h"
#include "synwarden/clock_now.h"
#include "synwarden/secrets.h"

namespace synwarden::daemon {
namespace {

// The shared fixture keys (control_test_support.h).
HostSecrets secrets_with(uint64_t k) { return testing::secrets_for_test(k); }

class SecretsFilesTest : public ::testing::Test {
 protected:
  SecretsFilesTest() {
    char dir[] = "/tmp/synwarden-secrets-test-XXXXXX";
    dir_ = mkdtemp(dir);
    path_ = dir_ + "/host.json";
    ProtectedHostConfig host;
    host.address = *IpAddress::parse("192.0.2.10");
    host.secrets_file = path_;
    config_.protected_hosts.push_back(host);
  }
  ~SecretsFilesTest() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  void write(const std::string& text, int64_t age_seconds = 0, mode_t mode = 0600) {
    std::ofstream(path_, std::ios::trunc) << text;
    chmod(path_.c_str(), mode);
    timespec times[2];
    clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= age_seconds;
    times[1] = times[0];
    utimensat(AT_FDCWD, path_.c_str(), times, 0);
  }

  std::string dir_, path_;
  DaemonConfig config_;
};

TEST_F(SecretsFilesTest, LoadsAFileAndReReadsItOnlyWhenItChanges) {
  write(serialize_secrets(secrets_with(100)));
  SecretsFiles files(config_.protected_hosts);
  EXPECT_TRUE(files.refresh());
  ASSERT_TRUE(files.keys(0).has_value());
  EXPECT_EQ(files.keys(0)->secrets, secrets_with(100));
  EXPECT_FALSE(files.refresh()) << "unchanged file: nothing to publish";
  write(serialize_secrets(secrets_with(200)), 1);  // new content, different mtime
  EXPECT_TRUE(files.refresh());
  EXPECT_EQ(files.keys(0)->secrets, secrets_with(200));
}

TEST_F(SecretsFilesTest, KeepsTheLastGoodSecretsWhenTheFileBreaksOrDisappears) {
  write(serialize_secrets(secrets_with(100)));
  SecretsFiles files(config_.protected_hosts);
  ASSERT_TRUE(files.refresh());
  write("{\"syncookie_secret\": 5}", 2);
  EXPECT_FALSE(files.refresh());
  EXPECT_EQ(files.keys(0)->secrets, secrets_with(100));
  std::remove(path_.c_str());
  EXPECT_FALSE(files.refresh());
  EXPECT_EQ(files.keys(0)->secrets, secrets_with(100));
}

TEST_F(SecretsFilesTest, AHostWithoutAReadableFileHasNoKeys) {
  SecretsFiles files(config_.protected_hosts);
  EXPECT_FALSE(files.refresh());
  EXPECT_FALSE(files.keys(0).has_value());
  // The snapshot the control plane publishes for this host (secrets_sources.h).
  SecretsSources sources(config_.protected_hosts);
  sources.refresh();
  const auto snapshot = build_snapshot(config_, sources, MacAddress{}, 1);
  ASSERT_EQ(snapshot->hosts().size(), 1u);
  EXPECT_FALSE(snapshot->hosts()[0].keys.has_value()) << "the host's fail policy applies";
}

TEST_F(SecretsFilesTest, AFileOthersCanReadIsRefusedUntilItsModeIsFixed) {
  write(serialize_secrets(secrets_with(100)), 0, 0644);
  SecretsFiles files(config_.protected_hosts);
  EXPECT_FALSE(files.refresh());
  EXPECT_FALSE(files.keys(0).has_value()) << "a readable copy of the host's keys is not used";
  EXPECT_NE(files.freshness(0, monotonic_ms()).last_error.find("chmod 600 " + path_), std::string::npos)
      << files.freshness(0, monotonic_ms()).last_error;
  ASSERT_EQ(chmod(path_.c_str(), 0600), 0);  // the content and mtime stay as they were
  EXPECT_TRUE(files.refresh()) << "the fix is noticed without touching the file's content";
  EXPECT_EQ(files.keys(0)->secrets, secrets_with(100));
}

TEST_F(SecretsFilesTest, ASymlinkToASecretsFileIsRefused) {
  write(serialize_secrets(secrets_with(100)));
  const std::string real = dir_ + "/real.json";
  ASSERT_EQ(rename(path_.c_str(), real.c_str()), 0);
  ASSERT_EQ(symlink(real.c_str(), path_.c_str()), 0);
  SecretsFiles files(config_.protected_hosts);
  EXPECT_FALSE(files.refresh());
  EXPECT_FALSE(files.keys(0).has_value());
  EXPECT_NE(files.freshness(0, monotonic_ms()).last_error.find("symbolic link"), std::string::npos)
      << files.freshness(0, monotonic_ms()).last_error;
  std::remove(real.c_str());
}

TEST_F(SecretsFilesTest, TheClockSampleIsTakenAsValidAtTheFilesModificationTime) {
  write(serialize_secrets(secrets_with(100)), 30);  // written 30 s ago
  SecretsFiles files(config_.protected_hosts);
  ASSERT_TRUE(files.refresh());
  const uint64_t expected = monotonic_ms() - 30'000;
  const uint64_t local = files.keys(0)->clock.local_ms();
  EXPECT_NEAR(static_cast<double>(local), static_cast<double>(expected), 1500.0)
      << "so a file written once keeps extrapolating the host's clocks from when it was true";
}

}  // namespace
}  // namespace synwarden::daemon
