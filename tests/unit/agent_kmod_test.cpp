// kmod mode's reader of /proc/synwarden_secrets (kmod_source.h), on text in the module's format.
#include <gtest/gtest.h>

#include <string>

#include "kmod_source.h"

namespace synwarden::agent {
namespace {

const std::string kFile =
    "synwarden_secrets 1\n"
    "syncookie_secret 000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f\n"
    "syncookie6_secret 202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f\n"
    "ts_offset per-connection\n"
    "net_secret 404142434445464748494a4b4c4d4e4f\n"
    "hz 250\n"
    "jiffies 4295012345\n"
    "mono_ns 181234567890\n"
    "mono_ms 181234\n"
    "accept_cookies 1\n"
    "gate_opened 17\n";

std::array<uint8_t, 16> bytes_from(uint8_t first) {
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

std::string refusal(const std::string& text) {
  try {
    parse_kmod_file(text, "/proc/synwarden_secrets");
  } catch (const FactsError& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(KmodFile, KeysAreTheBytesAsInKernelMemory) {
  const KmodReading r = parse_kmod_file(kFile, "/proc/synwarden_secrets");
  EXPECT_EQ(r.secrets.syncookie[0], SipKey::from_bytes(bytes_from(0x00)));
  EXPECT_EQ(r.secrets.syncookie[1], SipKey::from_bytes(bytes_from(0x10)));
  EXPECT_EQ(r.secrets.syncookie6[0], SipKey::from_bytes(bytes_from(0x20)));
  EXPECT_EQ(r.secrets.syncookie6[1], SipKey::from_bytes(bytes_from(0x30)));
  EXPECT_EQ(r.secrets.ts_key, SipKey::from_bytes(bytes_from(0x40)));
  EXPECT_EQ(r.secrets.ts_offset, TsOffsetMode::kPerConnection);
  EXPECT_EQ(r.secrets.clock.hz, 250u);
  EXPECT_EQ(r.secrets.clock.jiffies, 4295012345u);
  EXPECT_EQ(r.secrets.clock.mono_ms, 181234u);
  EXPECT_TRUE(r.accept_cookies);
  EXPECT_EQ(r.gate_opened, 17u);
}

TEST(KmodFile, PerHostKernelsNameTheirKeyTsSecret) {
  const std::string text = replace(replace(kFile, "per-connection", "per-host"), "net_secret",
                                   "ts_secret");
  EXPECT_EQ(parse_kmod_file(text, "f").secrets.ts_offset, TsOffsetMode::kPerHost);
  EXPECT_NE(refusal(replace(kFile, "per-connection", "per-host")).find("does not match"),
            std::string::npos);
}

TEST(KmodFile, KernelWithoutIpv6StillYieldsUsableKeys) {
  const std::string text =
      replace(kFile,
              "syncookie6_secret 202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f\n",
              "");
  const KmodReading r = parse_kmod_file(text, "f");
  EXPECT_FALSE(r.secrets.has_uninitialised_keys());
}

TEST(KmodFile, WrongVersionMissingLinesAndBadKeysAreRefusedWithoutKeyMaterial) {
  EXPECT_NE(refusal(replace(kFile, "synwarden_secrets 1", "synwarden_secrets 2"))
                .find("format version 2"),
            std::string::npos);
  EXPECT_NE(refusal(replace(kFile, "hz 250\n", "")).find("no \"hz\" line"), std::string::npos);
  EXPECT_NE(refusal(replace(kFile, "jiffies 4295012345\n", "")).find("jiffies"), std::string::npos);
  const std::string bad_key =
      refusal(replace(kFile, "404142434445464748494a4b4c4d4e4f", "4041424344454647zz494a4b4c4d4e4f"));
  EXPECT_NE(bad_key.find("line 5"), std::string::npos) << bad_key;
  EXPECT_EQ(bad_key.find("4041"), std::string::npos) << "key material in an error: " << bad_key;
  EXPECT_NE(refusal(replace(kFile, "hz 250", "hz 0")).find("implausible hz"), std::string::npos);
  EXPECT_NE(refusal(replace(kFile, "syncookie_secret 0001", "syncookie_secret 01")).find("32 hex"),
            std::string::npos);
}

}  // namespace
}  // namespace synwarden::agent
