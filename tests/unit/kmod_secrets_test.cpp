// The reader of the synwarden_secrets module's file and of the host settings that complete it
// (synwarden/kmod_secrets.h), against the format of kmod/README.md.
#include "synwarden/kmod_secrets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kmod_file_sample.h"

namespace synwarden {
namespace {

using test_samples::replace;

namespace fs = std::filesystem;

// What kmod/procfile.c prints (Debian 12's 6.1 kernel: per-connection, IPv6 built in).
const std::string kFile = test_samples::kmod_file_sample(true, 17);

const std::vector<std::string> kKeyHex{
    "000102030405060708090a0b0c0d0e0f", "101112131415161718191a1b1c1d1e1f",
    "202122232425262728292a2b2c2d2e2f", "303132333435363738393a3b3c3d3e3f",
    "404142434445464748494a4b4c4d4e4f"};
const std::string kZeroKey(32, '0');

SipKey key_from(uint8_t first) {
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(first + i);
  return SipKey::from_bytes(b);
}

std::string without_line(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix);
  if (at == std::string::npos) throw std::logic_error("test text has no '" + prefix + "'");
  return text.substr(0, at) + text.substr(text.find('\n', at) + 1);
}

// The error a text is refused with; fails the test if it is accepted. Also checks that no key of
// the file ever appears in the message.
std::string refusal(const std::string& text) {
  try {
    parse_kmod_secrets(text, "/proc/synwarden_secrets");
  } catch (const KmodSecretsError& e) {
    const std::string what = e.what();
    for (const std::string& hex : kKeyHex) {
      EXPECT_EQ(what.find(hex.substr(0, 8)), std::string::npos) << "key material in: " << what;
    }
    EXPECT_EQ(what.rfind("/proc/synwarden_secrets", 0), 0u) << "origin missing: " << what;
    return what;
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(KmodSecretsFile, EveryFieldIsReadWithKeysInKernelMemoryOrder) {
  const KmodSecrets k = parse_kmod_secrets(kFile);
  EXPECT_EQ(k.syncookie[0], key_from(0x00));
  EXPECT_EQ(k.syncookie[1], key_from(0x10));
  EXPECT_TRUE(k.has_ipv6);
  EXPECT_EQ(k.syncookie6[0], key_from(0x20));
  EXPECT_EQ(k.syncookie6[1], key_from(0x30));
  EXPECT_EQ(k.ts_offset, TsOffsetMode::kPerConnection);
  EXPECT_EQ(k.ts_key, key_from(0x40));
  EXPECT_EQ(k.hz, 250u);
  EXPECT_EQ(k.jiffies, 4295012345u);
  EXPECT_EQ(k.mono_ns, 181234567890u);
  EXPECT_EQ(k.mono_ms, 181234u);
  EXPECT_TRUE(k.accept_cookies);
  EXPECT_EQ(k.gate_opened, 17u);
  EXPECT_EQ(k.clock(), (HostClockSample{4295012345u, 250, 181234u}));
  // siphash_key_t.key[0] is the first 8 bytes read little-endian.
  EXPECT_EQ(k.syncookie[0].k0, 0x0706050403020100u);
}

TEST(KmodSecretsFile, PerHostKernelsGiveTsSecretWhichMayStillBeZero) {
  const std::string per_host =
      replace(replace(kFile, "per-connection", "per-host"), "net_secret", "ts_secret");
  EXPECT_EQ(parse_kmod_secrets(per_host).ts_offset, TsOffsetMode::kPerHost);
  EXPECT_EQ(parse_kmod_secrets(per_host).ts_key, key_from(0x40));
  // secure_tcp_ts_off() creates ts_secret only once tcp_timestamps is 1.
  const KmodSecrets unset = parse_kmod_secrets(replace(per_host, kKeyHex[4], kZeroKey));
  EXPECT_TRUE(unset.ts_key.is_zero());
}

TEST(KmodSecretsFile, KernelWithoutIpv6HasNoSyncookie6Line) {
  const KmodSecrets k = parse_kmod_secrets(without_line(kFile, "syncookie6_secret"));
  EXPECT_FALSE(k.has_ipv6);
  EXPECT_TRUE(k.syncookie6[0].is_zero());
}

TEST(KmodSecretsFile, UnknownLinesOfTheSameVersionAreIgnored) {
  const std::string text = replace(kFile, "hz 250\n", "hz 250\nfuture_field a b c\n") +
                           "another_addition 7\n";
  EXPECT_EQ(parse_kmod_secrets(text).hz, 250u);
  // No trailing newline is fine too.
  EXPECT_EQ(parse_kmod_secrets(kFile.substr(0, kFile.size() - 1)).gate_opened, 17u);
}

TEST(KmodSecretsFile, AnotherFormatVersionIsRefusedWithAdvice) {
  const std::string e = refusal(replace(kFile, "synwarden_secrets 1", "synwarden_secrets 2"));
  EXPECT_TRUE(contains(e, "format version 2")) << e;
  EXPECT_TRUE(contains(e, "same release")) << e;
  EXPECT_TRUE(contains(refusal(replace(kFile, "synwarden_secrets 1", "synwarden_secrets x")),
                       "line 1: synwarden_secrets: expected an unsigned number"));
}

TEST(KmodSecretsFile, AFileThatDoesNotStartWithTheVersionIsNotTheModules) {
  EXPECT_TRUE(contains(refusal("hz 250\n" + kFile), "not the synwarden_secrets module's file"));
  EXPECT_TRUE(contains(refusal("\n" + kFile), "not the synwarden_secrets module's file"));
  EXPECT_TRUE(contains(refusal(""), "empty"));
}

TEST(KmodSecretsFile, EveryRequiredLineMustBePresent) {
  for (const std::string name : {"syncookie_secret", "ts_offset", "net_secret", "hz", "jiffies",
                                 "mono_ns", "mono_ms", "accept_cookies", "gate_opened"}) {
    const std::string e = refusal(without_line(kFile, name + " "));
    EXPECT_TRUE(contains(e, "no line for " + name)) << name << ": " << e;
  }
}

TEST(KmodSecretsFile, EveryLineWithTooFewOrTooManyValuesIsNamed) {
  struct Case {
    std::string line, bad, field, line_no;
  };
  const std::vector<Case> cases{
      {"synwarden_secrets 1", "synwarden_secrets 1 1", "synwarden_secrets", "1"},
      {"syncookie_secret 0001", "syncookie_secret ", "syncookie_secret", "2"},
      {"syncookie6_secret 2021", "syncookie6_secret 00 2021", "syncookie6_secret", "3"},
      {"ts_offset per-connection", "ts_offset", "ts_offset", "4"},
      {"net_secret 4041", "net_secret 00 4041", "net_secret", "5"},
      {"hz 250", "hz 250 250", "hz", "6"},
      {"jiffies 4295012345", "jiffies", "jiffies", "7"},
      {"mono_ns 181234567890", "mono_ns 1 181234567890", "mono_ns", "8"},
      {"mono_ms 181234", "mono_ms 181234 0", "mono_ms", "9"},
      {"accept_cookies 1", "accept_cookies", "accept_cookies", "10"},
      {"gate_opened 17", "gate_opened 17 17", "gate_opened", "11"},
  };
  for (const Case& c : cases) {
    std::string text = kFile;
    if (c.bad == "syncookie_secret ") {
      // One key instead of two.
      text = replace(text, "syncookie_secret 000102030405060708090a0b0c0d0e0f ",
                     "syncookie_secret ");
    } else {
      text = replace(text, c.line, c.bad);
    }
    const std::string e = refusal(text);
    EXPECT_TRUE(contains(e, "line " + c.line_no + ": " + c.field + ": expected")) << e;
  }
}

TEST(KmodSecretsFile, MalformedNumbersAreRefused) {
  for (const std::string field : {"hz", "jiffies", "mono_ns", "mono_ms", "gate_opened"}) {
    for (const std::string bad : {"x", "-1", "+1", "1.5", "0x10", "12a", "99999999999999999999"}) {
      const size_t at = kFile.find(field + " ");
      const size_t end = kFile.find('\n', at);
      const std::string text = kFile.substr(0, at) + field + " " + bad + kFile.substr(end);
      const std::string e = refusal(text);
      EXPECT_TRUE(contains(e, field + ": ")) << field << " " << bad << ": " << e;
      EXPECT_TRUE(contains(e, "number")) << field << " " << bad << ": " << e;
    }
  }
}

TEST(KmodSecretsFile, ValuesOutsideTheirRangeAreRefused) {
  EXPECT_TRUE(contains(refusal(replace(kFile, "hz 250", "hz 0")), "implausible HZ"));
  EXPECT_TRUE(contains(refusal(replace(kFile, "hz 250", "hz 100001")), "implausible HZ"));
  EXPECT_TRUE(contains(refusal(replace(kFile, "accept_cookies 1", "accept_cookies 2")),
                       "expected 0 or 1"));
  EXPECT_TRUE(contains(refusal(replace(kFile, "per-connection", "per-flow")),
                       "expected per-connection or per-host"));
  EXPECT_TRUE(contains(refusal(replace(kFile, "mono_ms 181234", "mono_ms 181235")),
                       "mono_ms is not mono_ns / 10^6"));
}

TEST(KmodSecretsFile, MalformedKeysAreRefusedWithoutTheirBytes) {
  for (size_t i = 0; i < kKeyHex.size(); ++i) {
    const std::string& hex = kKeyHex[i];
    const std::string line_no = std::to_string(i < 2 ? 2 : i < 4 ? 3 : 5);
    EXPECT_TRUE(contains(refusal(replace(kFile, hex, hex.substr(0, 31))),
                         "line " + line_no + ": "))
        << hex;
    EXPECT_TRUE(contains(refusal(replace(kFile, hex, hex + "0")), "32 hex digits")) << hex;
    EXPECT_TRUE(contains(refusal(replace(kFile, hex, hex.substr(0, 10) + "zz" + hex.substr(12))),
                         "not hexadecimal"))
        << hex;
    EXPECT_TRUE(contains(refusal(replace(kFile, hex, hex.substr(0, 10) + "-1" + hex.substr(12))),
                         "not hexadecimal"))
        << hex;
  }
}

TEST(KmodSecretsFile, AllZeroCookieKeysAndNetSecretAreRefused) {
  for (size_t i = 0; i < kKeyHex.size(); ++i) {
    const std::string e = refusal(replace(kFile, kKeyHex[i], kZeroKey));
    EXPECT_TRUE(contains(e, "all zero")) << i << ": " << e;
    EXPECT_TRUE(contains(e, "reload the module")) << e;
  }
}

TEST(KmodSecretsFile, TimestampKeyMustMatchTheVariant) {
  const std::string e = refusal(replace(kFile, "net_secret", "ts_secret"));
  EXPECT_TRUE(contains(e, "has a ts_secret line, but ts_offset per-connection is keyed by "
                          "net_secret"))
      << e;
  const std::string e2 = refusal(replace(kFile, "per-connection", "per-host"));
  EXPECT_TRUE(contains(e2, "has a net_secret line")) << e2;
}

TEST(KmodSecretsFile, RepeatedLinesAreRefused) {
  const std::string e = refusal(replace(kFile, "hz 250\n", "hz 250\nhz 100\n"));
  EXPECT_TRUE(contains(e, "line 7: hz: appears twice")) << e;
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/synwarden-kmod-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  void put(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  void put_default_sysctls() {
    put("net/ipv4/tcp_timestamps", "1\n");
    put("net/ipv4/tcp_sack", "1\n");
    put("net/ipv4/tcp_window_scaling", "1\n");
    put("net/ipv4/tcp_ecn", "2\n");
    put("net/ipv4/tcp_rmem", "4096\t131072\t6291456\n");
    put("net/core/rmem_max", "212992\n");
  }
  fs::path root_;
};

using KmodSecretsRead = TempDir;

TEST_F(KmodSecretsRead, ReadsTheFileAndNamesItInErrors) {
  put("secrets", kFile);
  EXPECT_EQ(read_kmod_secrets((root_ / "secrets").string()).jiffies, 4295012345u);
  put("broken", replace(kFile, "hz 250", "hz 0"));
  try {
    read_kmod_secrets((root_ / "broken").string());
    FAIL() << "accepted";
  } catch (const KmodSecretsError& e) {
    EXPECT_TRUE(contains(e.what(), (root_ / "broken").string() + " line 6: hz")) << e.what();
  }
}

TEST_F(KmodSecretsRead, AMissingFileSaysToLoadTheModule) {
  try {
    read_kmod_secrets((root_ / "absent").string());
    FAIL() << "accepted";
  } catch (const KmodSecretsError& e) {
    EXPECT_TRUE(contains(e.what(), "No such file")) << e.what();
    EXPECT_TRUE(contains(e.what(), "modprobe synwarden_secrets")) << e.what();
  }
}

TEST_F(KmodSecretsRead, AnOversizedFileIsNotTheModules) {
  put("big", kFile + std::string(5000, '#'));
  try {
    read_kmod_secrets((root_ / "big").string());
    FAIL() << "accepted";
  } catch (const KmodSecretsError& e) {
    EXPECT_TRUE(contains(e.what(), "larger than 4096 bytes")) << e.what();
  }
}

using HostSysctls = TempDir;

TEST_F(HostSysctls, TcpSysctlsAreRead) {
  put_default_sysctls();
  put("net/ipv4/tcp_timestamps", "2\n");
  put("net/ipv4/tcp_sack", "0\n");
  const TcpSysctls s = read_tcp_sysctls(root_);
  EXPECT_EQ(s, (TcpSysctls{2, 0, 1, 2}));
  EXPECT_EQ(read_rcv_wscale(root_), 7);   // Debian defaults
}

TEST_F(HostSysctls, MissingOddOrOutOfRangeValuesNameTheFile) {
  put_default_sysctls();
  const auto error_of = [&](auto&& read) {
    try {
      read();
    } catch (const HostSysctlError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const auto sysctls = [&] { read_tcp_sysctls(root_); };
  const auto wscale = [&] { read_rcv_wscale(root_); };
  put("net/ipv4/tcp_ecn", "6\n");
  EXPECT_TRUE(contains(error_of(sysctls), "tcp_ecn: value 6 is outside 0..5"));
  put("net/ipv4/tcp_ecn", "2\n");
  put("net/ipv4/tcp_sack", "yes\n");
  EXPECT_TRUE(contains(error_of(sysctls), "tcp_sack: expected 1 unsigned number(s)"));
  fs::remove(root_ / "net/ipv4/tcp_sack");
  EXPECT_TRUE(contains(error_of(sysctls), "cannot read " + (root_ / "net/ipv4/tcp_sack").string()));
  put("net/ipv4/tcp_rmem", "4096 131072\n");
  EXPECT_TRUE(contains(error_of(wscale), "tcp_rmem: expected 3"));
  fs::remove(root_ / "net/core/rmem_max");
  put("net/ipv4/tcp_rmem", "4096 131072 6291456\n");
  EXPECT_TRUE(contains(error_of(wscale), "rmem_max"));
}

// Linux 6.1 in a non-initial network namespace: net/core holds somaxconn but no rmem_max (the
// kernel keeps rmem_max global). The default stands in; a tree without net/core still fails.
TEST_F(HostSysctls, RmemMaxHiddenInAChildNamespaceTakesTheDefault) {
  put_default_sysctls();
  put("net/core/rmem_max", "33554432\n");
  EXPECT_FALSE(rmem_max_hidden(root_));
  EXPECT_EQ(read_rcv_wscale(root_), 10);  // rmem_max 32 MiB > tcp_rmem[2] 6 MiB: ilog2 25 - 15
  fs::remove(root_ / "net/core/rmem_max");
  put("net/core/somaxconn", "4096\n");
  EXPECT_TRUE(rmem_max_hidden(root_));
  EXPECT_EQ(read_rcv_wscale(root_), 7);   // tcp_rmem[2] 6 MiB vs the default 208 KiB
  put("net/ipv4/tcp_rmem", "4096 131072 65536\n");
  EXPECT_EQ(read_rcv_wscale(root_), 2);   // the default 212992 wins: ilog2 17 - 15
  fs::remove(root_ / "net/core/somaxconn");
  EXPECT_FALSE(rmem_max_hidden(root_));
  EXPECT_THROW(read_rcv_wscale(root_), HostSysctlError);
}

TEST(HostWindowScale, FitsTheLargestReceiveBufferAsTcpSelectInitialWindow) {
  EXPECT_EQ(tcp_rcv_wscale(6291456, 212992), 7);     // Debian defaults: ilog2(6 MiB) = 22
  EXPECT_EQ(tcp_rcv_wscale(33554432, 212992), 10);
  EXPECT_EQ(tcp_rcv_wscale(4194304, 16777216), 9);   // rmem_max larger: it wins
  EXPECT_EQ(tcp_rcv_wscale(65535, 0), 0);
  EXPECT_EQ(tcp_rcv_wscale(131072, 0), 2);
  EXPECT_EQ(tcp_rcv_wscale(0, 0), 0);
  // The window clamp U16_MAX << 14 caps the space: ilog2 29 -> 14 (TCP_MAX_WSCALE).
  EXPECT_EQ(tcp_rcv_wscale(uint64_t{1} << 30, 0), 14);
  EXPECT_EQ(tcp_rcv_wscale(uint64_t{1} << 40, 0), 14);
}

TEST(KmodHostSecrets, CarryTheModulesKeysClockAndTheHostSettings) {
  const KmodSecrets k = parse_kmod_secrets(kFile);
  const KmodStandIns stand_ins = KmodStandIns::random();
  const TcpSysctls sysctls{1, 1, 0, 2};
  const HostSecrets s = to_host_secrets(k, sysctls, 1460, 1440, 7, stand_ins);
  EXPECT_EQ(s.syncookie, k.syncookie);
  EXPECT_EQ(s.syncookie6, k.syncookie6);
  EXPECT_EQ(s.ts_offset, TsOffsetMode::kPerConnection);
  EXPECT_EQ(s.ts_key, k.ts_key);
  EXPECT_EQ(s.sysctls, sysctls);
  EXPECT_EQ(s.mss, 1460);
  EXPECT_EQ(s.mss6, 1440);
  EXPECT_EQ(s.rcv_wscale, 7);
  EXPECT_EQ(s.clock, k.clock());
  EXPECT_FALSE(s.has_uninitialised_keys());
  // What the agent sends is what the firewall parses.
  EXPECT_EQ(parse_secrets(serialize_secrets(s), "test"), s);
}

TEST(KmodHostSecrets, KeysTheKernelLacksAreStandIns) {
  const KmodStandIns stand_ins = KmodStandIns::random();
  const KmodSecrets no_v6 = parse_kmod_secrets(without_line(kFile, "syncookie6_secret"));
  const HostSecrets s = to_host_secrets(no_v6, TcpSysctls{}, 1460, 1440, 7, stand_ins);
  EXPECT_EQ(s.syncookie6, stand_ins.syncookie6);
  EXPECT_FALSE(s.has_uninitialised_keys());

  const std::string per_host_unset = replace(
      replace(replace(kFile, "per-connection", "per-host"), "net_secret", "ts_secret"),
      kKeyHex[4], kZeroKey);
  const KmodSecrets unset = parse_kmod_secrets(per_host_unset);
  for (const uint8_t timestamps : {uint8_t{0}, uint8_t{2}}) {
    const HostSecrets h =
        to_host_secrets(unset, TcpSysctls{timestamps, 1, 1, 2}, 1460, 1440, 7, stand_ins);
    EXPECT_EQ(h.ts_key, stand_ins.ts_key);
  }
  try {
    to_host_secrets(unset, TcpSysctls{1, 1, 1, 2}, 1460, 1440, 7, stand_ins);
    FAIL() << "a zero ts_secret was passed on while tcp_timestamps is 1";
  } catch (const KmodSecretsError& e) {
    EXPECT_TRUE(contains(e.what(), "ts_secret is still zero")) << e.what();
  }
}

TEST(KmodHostSecrets, StandInsAreRandomAndNeverZero) {
  const KmodStandIns a = KmodStandIns::random();
  const KmodStandIns b = KmodStandIns::random();
  EXPECT_FALSE(a.syncookie6[0].is_zero() || a.syncookie6[1].is_zero() || a.ts_key.is_zero());
  EXPECT_NE(a.syncookie6[0], b.syncookie6[0]);
  EXPECT_NE(a.syncookie6[0], a.syncookie6[1]);
  EXPECT_NE(a.ts_key, b.ts_key);
}

}  // namespace
}  // namespace synwarden
