// kmod mode's secret source (kmod_source.h) and the acceptance gate it holds (kmod_gate.h), on
// stand-ins for the module's file and parameter. The file's format itself is specified by
// kmod_secrets_test.cpp (synwarden/kmod_secrets.h, shared with the VM tier); the real module is
// exercised by the VM tier's vm_agent_kmod.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kmod_gate.h"
#include "kmod_source.h"

#include "kmod_file_sample.h"

namespace synwarden::agent {
namespace {

using test_samples::replace;

namespace fs = std::filesystem;

const std::string kFile = test_samples::kmod_file_sample(false, 0);

class KmodMode : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/synwarden-agent-kmod-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    config_.listen = "127.0.0.1:7070";
    config_.key_file = (root_ / "key").string();
    config_.mode = Mode::kKmod;
    config_.interfaces = {"lo"};
    config_.kmod_file = (root_ / "synwarden_secrets").string();
    config_.kmod_gate_file = (root_ / "accept_cookies").string();
    put(config_.kmod_file, kFile);
    put(config_.kmod_gate_file, "N\n");   // how sysfs shows a bool parameter that is off
  }
  void TearDown() override { fs::remove_all(root_); }

  static void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string get(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  LogFn logger() {
    return [this](const std::string& line) { log_.push_back(line); };
  }
  size_t logged(const std::string& part) const {
    size_t n = 0;
    for (const auto& l : log_) n += l.find(part) != std::string::npos ? 1 : 0;
    return n;
  }

  fs::path root_;
  Config config_;
  std::vector<std::string> log_;
};

TEST_F(KmodMode, TheGateIsOnWhileTheSourceLivesAndOffAgainAfter) {
  {
    KmodSecretSource source(config_, logger());
    EXPECT_EQ(get(config_.kmod_gate_file), "1");
    EXPECT_NE(source.describe().find("gate " + config_.kmod_gate_file + " held on"),
              std::string::npos)
        << source.describe();
  }
  EXPECT_EQ(get(config_.kmod_gate_file), "0");
  EXPECT_EQ(logged("off again (as found at start)"), 1u);
}

TEST_F(KmodMode, AGateFoundOnIsLeftOn) {
  put(config_.kmod_gate_file, "Y\n");
  { KmodSecretSource source(config_, logger()); }
  EXPECT_EQ(get(config_.kmod_gate_file), "Y\n");
  EXPECT_EQ(logged("stays on when the agent stops"), 1u);
}

TEST_F(KmodMode, UpkeepTurnsTheGateBackOnAndLogsOncePerChange) {
  KmodSecretSource source(config_, logger());
  put(config_.kmod_gate_file, "N\n");   // an administrator, or a module reload
  source.maintain(0);
  EXPECT_EQ(get(config_.kmod_gate_file), "1");
  source.maintain(0);
  EXPECT_EQ(logged("turned it back on"), 1u);

  fs::remove(config_.kmod_gate_file);   // module unloaded
  source.maintain(0);
  source.maintain(0);
  EXPECT_EQ(logged("cannot be kept on"), 1u);
  put(config_.kmod_gate_file, "N\n");   // loaded again, gate off by default
  source.maintain(0);
  EXPECT_EQ(get(config_.kmod_gate_file), "1");
  EXPECT_EQ(logged("turned it back on"), 2u);
}

TEST_F(KmodMode, AnUnusableFileStopsTheStartAndLeavesTheGateAlone) {
  put(config_.kmod_file, replace(kFile, "synwarden_secrets 1", "synwarden_secrets 2"));
  EXPECT_THROW(KmodSecretSource(config_, logger()), KmodSecretsError);
  EXPECT_EQ(get(config_.kmod_gate_file), "N\n");
  fs::remove(config_.kmod_file);
  try {
    KmodSecretSource source(config_, logger());
    FAIL() << "started without the module's file";
  } catch (const KmodSecretsError& e) {
    EXPECT_NE(std::string(e.what()).find("modprobe synwarden_secrets"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(get(config_.kmod_gate_file), "N\n");
}

TEST_F(KmodMode, AMissingGateStopsTheStartWithAdvice) {
  fs::remove(config_.kmod_gate_file);
  try {
    KmodSecretSource source(config_, logger());
    FAIL() << "started without the gate";
  } catch (const FactsError& e) {
    EXPECT_NE(std::string(e.what()).find(config_.kmod_gate_file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("module loaded"), std::string::npos) << e.what();
  }
}

TEST_F(KmodMode, EveryReplyReadsTheFileAfreshWithTheHostSettings) {
  KmodSecretSource source(config_, logger());
  const HostSecrets first = source.current();
  const HostFacts facts = read_host_facts("lo");
  EXPECT_EQ(first.syncookie[0], read_kmod_secrets(config_.kmod_file).syncookie[0]);
  EXPECT_EQ(first.clock, (HostClockSample{4295012345u, 250, 181234u}));
  EXPECT_EQ(first.sysctls, facts.sysctls);
  EXPECT_EQ(first.mss, facts.mss);
  EXPECT_EQ(first.mss6, facts.mss6);
  EXPECT_EQ(first.rcv_wscale, facts.rcv_wscale);

  put(config_.kmod_file, replace(replace(replace(kFile, "jiffies 4295012345", "jiffies 4295012595"),
                                         "mono_ns 181234567890", "mono_ns 182234567890"),
                                 "mono_ms 181234", "mono_ms 182234"));
  const HostSecrets second = source.current();
  EXPECT_EQ(second.clock, (HostClockSample{4295012595u, 250, 182234u}));
  EXPECT_EQ(second.syncookie, first.syncookie);

  put(config_.kmod_file, "garbage\n");
  EXPECT_THROW(source.current(), KmodSecretsError);   // request left unanswered
}

TEST_F(KmodMode, AKernelWithoutIpv6GetsTheSameStandInKeysOnEveryReply) {
  put(config_.kmod_file,
      replace(kFile,
              "syncookie6_secret 202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f\n",
              ""));
  KmodSecretSource source(config_, logger());
  const HostSecrets a = source.current();
  const HostSecrets b = source.current();
  EXPECT_FALSE(a.has_uninitialised_keys());
  EXPECT_EQ(a.syncookie6, b.syncookie6);
  EXPECT_NE(source.describe().find("no IPv6"), std::string::npos) << source.describe();
}

TEST(KmodGateValue, SysfsAndPlainSpellingsAreRead) {
  char tmpl[] = "/tmp/synwarden-gate-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const auto with = [&](const std::string& text) {
    std::ofstream(tmpl) << text;
    return read_gate(tmpl);
  };
  EXPECT_TRUE(with("Y\n"));
  EXPECT_FALSE(with("N\n"));
  EXPECT_TRUE(with("1"));
  EXPECT_FALSE(with("0\n"));
  EXPECT_THROW(with("maybe\n"), FactsError);
  write_gate(tmpl, true);
  EXPECT_TRUE(read_gate(tmpl));
  ::unlink(tmpl);
}

}  // namespace
}  // namespace synwarden::agent
