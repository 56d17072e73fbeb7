// The host settings the agent reports (host_facts.h) and the kernel functions they mirror.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "host_facts.h"

namespace synwarden::agent {
namespace {

namespace fs = std::filesystem;

TEST(HostFacts, AdvertisedMssFollowsTheKernelsRouteDefaults) {
  EXPECT_EQ(advertised_mss_v4(1500), 1460);
  EXPECT_EQ(advertised_mss_v6(1500), 1440);
  EXPECT_EQ(advertised_mss_v4(9000), 8960);
  EXPECT_EQ(advertised_mss_v6(9000), 8940);
  // Loopback: the values the kernel selftest calls MSS_LOCAL_IPV4 / MSS_LOCAL_IPV6.
  EXPECT_EQ(advertised_mss_v4(65536), 65495);
  EXPECT_EQ(advertised_mss_v6(65536), 65476);
  // Floors: ip_rt_min_advmss and ip6_rt_min_advmss.
  EXPECT_EQ(advertised_mss_v4(200), 256);
  EXPECT_EQ(advertised_mss_v6(1280), 1220);
}

// The window scale itself (tcp_rcv_wscale()) is tested with the core reader in
// kmod_secrets_test.cpp.

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/synwarden-facts-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "sys/net/ipv4");
    fs::create_directories(root_ / "sys/net/core");
    put("sys/net/ipv4/tcp_timestamps", "1\n");
    put("sys/net/ipv4/tcp_sack", "1\n");
    put("sys/net/ipv4/tcp_window_scaling", "1\n");
    put("sys/net/ipv4/tcp_ecn", "2\n");
    put("sys/net/ipv4/tcp_syncookies", "1\n");
    put("sys/net/ipv4/tcp_rmem", "4096\t131072\t16777216\n");
    put("sys/net/core/rmem_max", "212992\n");
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) { std::ofstream(root_ / rel) << text; }

  fs::path root_;
};

TEST_F(FakeProc, ReadsSysctlsAndTheInterfaceMtu) {
  put("sys/net/ipv4/tcp_timestamps", "2\n");
  put("sys/net/ipv4/tcp_ecn", "0\n");
  const HostFacts f = read_host_facts("lo", root_.string());
  EXPECT_EQ(f.sysctls.tcp_timestamps, 2);
  EXPECT_EQ(f.sysctls.tcp_sack, 1);
  EXPECT_EQ(f.sysctls.tcp_window_scaling, 1);
  EXPECT_EQ(f.sysctls.tcp_ecn, 0);
  EXPECT_EQ(f.tcp_syncookies, 1);
  EXPECT_EQ(f.rcv_wscale, 9);
  EXPECT_EQ(f.mtu, interface_mtu("lo"));
  EXPECT_EQ(f.mss, advertised_mss_v4(f.mtu));
  EXPECT_EQ(f.mss6, advertised_mss_v6(f.mtu));
}

TEST_F(FakeProc, UnreadableOrOddValuesAreNamed) {
  fs::remove(root_ / "sys/net/ipv4/tcp_sack");
  try {
    read_host_facts("lo", root_.string());
    FAIL() << "missing sysctl accepted";
  } catch (const FactsError& e) {
    EXPECT_NE(std::string(e.what()).find("tcp_sack"), std::string::npos) << e.what();
  }
  put("sys/net/ipv4/tcp_sack", "1\n");
  put("sys/net/ipv4/tcp_rmem", "4096 131072\n");
  try {
    read_host_facts("lo", root_.string());
    FAIL() << "short tcp_rmem accepted";
  } catch (const FactsError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 3"), std::string::npos) << e.what();
  }
}

TEST(HostFacts, UnknownInterfaceIsNamed) {
  try {
    interface_mtu("swnosuchif0");
    FAIL() << "unknown interface accepted";
  } catch (const FactsError& e) {
    EXPECT_NE(std::string(e.what()).find("swnosuchif0"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no such interface"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace synwarden::agent
