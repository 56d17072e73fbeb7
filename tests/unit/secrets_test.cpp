// The host secrets document (its JSON shape): what a valid file means, that serialisation
// round-trips, and that every malformed variant is refused with a message naming the key.
#include "synwarden/secrets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace synwarden {
namespace {

using nlohmann::json;

const std::filesystem::path kData = SYNWARDEN_TEST_DATA;

std::array<uint8_t, 16> hex_bytes(const std::string& hex) {
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < 16; ++i) b[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return b;
}

json valid_doc() {
  return json::parse(R"({
    "syncookie_secret": ["000102030405060708090a0b0c0d0e0f", "101112131415161718191A1B1C1D1E1F"],
    "syncookie6_secret": ["202122232425262728292a2b2c2d2e2f", "303132333435363738393a3b3c3d3e3f"],
    "ts_offset": "per-connection",
    "net_secret": "404142434445464748494a4b4c4d4e4f",
    "tcp_timestamps": 1, "tcp_sack": 1, "tcp_window_scaling": 1, "tcp_ecn": 2,
    "mss": 1460, "mss6": 1440, "rcv_wscale": 7,
    "jiffies": 18446744073709551615, "hz": 250, "mono_ms": 123456789
  })");
}

TEST(Secrets, ParsesEveryFieldOfTheDocument) {
  const HostSecrets s = parse_secrets(valid_doc().dump(), "test");
  EXPECT_EQ(s.syncookie[0], SipKey::from_bytes(hex_bytes("000102030405060708090a0b0c0d0e0f")));
  // Hex digits are case-insensitive.
  EXPECT_EQ(s.syncookie[1], SipKey::from_bytes(hex_bytes("101112131415161718191a1b1c1d1e1f")));
  EXPECT_EQ(s.syncookie6[0], SipKey::from_bytes(hex_bytes("202122232425262728292a2b2c2d2e2f")));
  EXPECT_EQ(s.syncookie6[1], SipKey::from_bytes(hex_bytes("303132333435363738393a3b3c3d3e3f")));
  EXPECT_EQ(s.ts_offset, TsOffsetMode::kPerConnection);
  EXPECT_EQ(s.ts_key, SipKey::from_bytes(hex_bytes("404142434445464748494a4b4c4d4e4f")));
  EXPECT_EQ(s.sysctls, (TcpSysctls{1, 1, 1, 2}));
  EXPECT_EQ(s.mss, 1460);
  EXPECT_EQ(s.mss6, 1440);
  EXPECT_EQ(s.rcv_wscale, 7);
  EXPECT_EQ(s.rcv_space, HostSecrets::kDefaultRcvSpace);
  EXPECT_EQ(s.clock, (HostClockSample{18446744073709551615ULL, 250, 123456789}));
  EXPECT_FALSE(s.has_uninitialised_keys());
}

TEST(Secrets, KeyBytesAreTakenInMemoryOrder) {
  const HostSecrets s = parse_secrets(valid_doc().dump(), "test");
  // "0001..0f" is key[0] = 0x0706050403020100 on a little-endian host.
  EXPECT_EQ(s.syncookie[0].k0, 0x0706050403020100ULL);
  EXPECT_EQ(s.syncookie[0].k1, 0x0f0e0d0c0b0a0908ULL);
}

TEST(Secrets, PerHostModeTakesTsSecret) {
  json d = valid_doc();
  d.erase("net_secret");
  d["ts_offset"] = "per-host";
  d["ts_secret"] = "505152535455565758595a5b5c5d5e5f";
  const HostSecrets s = parse_secrets(d.dump(), "test");
  EXPECT_EQ(s.ts_offset, TsOffsetMode::kPerHost);
  EXPECT_EQ(s.ts_key, SipKey::from_bytes(hex_bytes("505152535455565758595a5b5c5d5e5f")));
}

TEST(Secrets, OptionalRcvSpaceOverridesTheDefaultListenerSpace) {
  json d = valid_doc();
  d["rcv_space"] = 262144;
  EXPECT_EQ(parse_secrets(d.dump(), "test").rcv_space, 262144u);
}

TEST(Secrets, SampleFilesLoad) {
  const HostSecrets pc = load_secrets_file(kData / "secrets_per_connection.json");
  EXPECT_EQ(pc.ts_offset, TsOffsetMode::kPerConnection);
  EXPECT_EQ(pc.clock.hz, 250u);
  const HostSecrets ph = load_secrets_file(kData / "secrets_per_host.json");
  EXPECT_EQ(ph.ts_offset, TsOffsetMode::kPerHost);
  EXPECT_EQ(ph.clock.hz, 1000u);
}

TEST(Secrets, SerialiseThenParseIsIdentityInBothModes) {
  for (const char* file : {"secrets_per_connection.json", "secrets_per_host.json"}) {
    HostSecrets s = load_secrets_file(kData / file);
    EXPECT_EQ(parse_secrets(serialize_secrets(s), "round trip"), s) << file;
    s.rcv_space = 1234567;
    EXPECT_EQ(parse_secrets(serialize_secrets(s), "round trip"), s) << file;
  }
}

TEST(Secrets, SerialisedDocumentHasExactlyTheAgentShape) {
  const HostSecrets s = parse_secrets(valid_doc().dump(), "test");
  const json out = json::parse(serialize_secrets(s));
  std::set<std::string> keys;
  for (const auto& [k, v] : out.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"syncookie_secret", "syncookie6_secret", "ts_offset",
                                         "net_secret", "tcp_timestamps", "tcp_sack",
                                         "tcp_window_scaling", "tcp_ecn", "mss", "mss6",
                                         "rcv_wscale", "jiffies", "hz", "mono_ms"}));
  EXPECT_EQ(out["syncookie_secret"][1], "101112131415161718191a1b1c1d1e1f");  // lower-case hex
  EXPECT_EQ(out["ts_offset"], "per-connection");
}

TEST(Secrets, AllZeroKeysAreReportedAsNotYetInitialisedByTheHost) {
  json d = valid_doc();
  d["syncookie6_secret"][1] = "00000000000000000000000000000000";
  EXPECT_TRUE(parse_secrets(d.dump(), "test").has_uninitialised_keys());
}

struct Malformed {
  const char* what;
  void (*mutate)(json&);
  const char* key_in_message;  // the key the error must name
};

const Malformed kMalformed[] = {
    {"missing syncookie_secret", [](json& d) { d.erase("syncookie_secret"); }, "syncookie_secret"},
    {"missing syncookie6_secret", [](json& d) { d.erase("syncookie6_secret"); }, "syncookie6_secret"},
    {"missing ts_offset", [](json& d) { d.erase("ts_offset"); }, "ts_offset"},
    {"missing net_secret", [](json& d) { d.erase("net_secret"); }, "net_secret"},
    {"missing tcp_timestamps", [](json& d) { d.erase("tcp_timestamps"); }, "tcp_timestamps"},
    {"missing tcp_sack", [](json& d) { d.erase("tcp_sack"); }, "tcp_sack"},
    {"missing tcp_window_scaling", [](json& d) { d.erase("tcp_window_scaling"); },
     "tcp_window_scaling"},
    {"missing tcp_ecn", [](json& d) { d.erase("tcp_ecn"); }, "tcp_ecn"},
    {"missing mss", [](json& d) { d.erase("mss"); }, "mss"},
    {"missing mss6", [](json& d) { d.erase("mss6"); }, "mss6"},
    {"missing rcv_wscale", [](json& d) { d.erase("rcv_wscale"); }, "rcv_wscale"},
    {"missing jiffies", [](json& d) { d.erase("jiffies"); }, "jiffies"},
    {"missing hz", [](json& d) { d.erase("hz"); }, "hz"},
    {"missing mono_ms", [](json& d) { d.erase("mono_ms"); }, "mono_ms"},
    {"unknown key", [](json& d) { d["tcp_syncookies"] = 2; }, "tcp_syncookies"},
    {"key too short", [](json& d) { d["syncookie_secret"][0] = "000102030405060708090a0b0c0d0e0"; },
     "syncookie_secret"},
    {"key not hex", [](json& d) { d["syncookie6_secret"][1] = "z01112131415161718191a1b1c1d1e1f"; },
     "syncookie6_secret"},
    {"key not a string", [](json& d) { d["net_secret"] = 5; }, "net_secret"},
    {"one cookie key only", [](json& d) { d["syncookie_secret"].erase(1); }, "syncookie_secret"},
    {"three cookie keys",
     [](json& d) { d["syncookie_secret"].push_back("000102030405060708090a0b0c0d0e0f"); },
     "syncookie_secret"},
    {"cookie keys not an array",
     [](json& d) { d["syncookie_secret"] = "000102030405060708090a0b0c0d0e0f"; }, "syncookie_secret"},
    {"unknown ts_offset mode", [](json& d) { d["ts_offset"] = "per-flow"; }, "ts_offset"},
    {"ts_secret with per-connection",
     [](json& d) { d["ts_secret"] = "505152535455565758595a5b5c5d5e5f"; }, "ts_secret"},
    {"net_secret with per-host", [](json& d) { d["ts_offset"] = "per-host"; }, "net_secret"},
    {"tcp_timestamps 3", [](json& d) { d["tcp_timestamps"] = 3; }, "tcp_timestamps"},
    {"tcp_sack 2", [](json& d) { d["tcp_sack"] = 2; }, "tcp_sack"},
    {"tcp_window_scaling true", [](json& d) { d["tcp_window_scaling"] = true; },
     "tcp_window_scaling"},
    {"tcp_ecn 6", [](json& d) { d["tcp_ecn"] = 6; }, "tcp_ecn"},
    {"mss 0", [](json& d) { d["mss"] = 0; }, "mss"},
    {"mss above 16 bits", [](json& d) { d["mss"] = 70000; }, "mss"},
    {"mss6 fractional", [](json& d) { d["mss6"] = 1440.5; }, "mss6"},
    {"rcv_wscale 15", [](json& d) { d["rcv_wscale"] = 15; }, "rcv_wscale"},
    {"rcv_space 0", [](json& d) { d["rcv_space"] = 0; }, "rcv_space"},
    {"negative jiffies", [](json& d) { d["jiffies"] = -1; }, "jiffies"},
    {"hz 0", [](json& d) { d["hz"] = 0; }, "hz"},
    {"mono_ms as a string", [](json& d) { d["mono_ms"] = "123"; }, "mono_ms"},
};

TEST(Secrets, EveryMalformedVariantIsRejectedNamingItsKey) {
  for (const Malformed& m : kMalformed) {
    json d = valid_doc();
    m.mutate(d);
    try {
      (void)parse_secrets(d.dump(), "host-a.json");
      ADD_FAILURE() << m.what << ": accepted";
    } catch (const SecretsError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("\"") + m.key_in_message + "\""), std::string::npos)
          << m.what << ": " << msg;
      EXPECT_NE(msg.find("host-a.json"), std::string::npos) << m.what << ": " << msg;
    }
  }
}

TEST(Secrets, ARepeatedKeyOrANulByteIsRefusedNamingTheKey) {
  std::string text = valid_doc().dump();
  std::string repeated = text;
  repeated.replace(repeated.find("\"mss\""), 0, "\"mss\":536,");
  try {
    (void)parse_secrets(repeated, "host-a.json");
    ADD_FAILURE() << "accepted a repeated key";
  } catch (const SecretsError& e) {
    EXPECT_NE(std::string(e.what()).find("\"mss\": duplicate key 'mss'"), std::string::npos)
        << e.what();
  }
  std::string nul = text;
  nul.replace(nul.find("per-connection"), 14, "per-connection\\u0000");
  try {
    (void)parse_secrets(nul, "host-a.json");
    ADD_FAILURE() << "accepted a NUL byte";
  } catch (const SecretsError& e) {
    EXPECT_NE(std::string(e.what()).find("\"ts_offset\": the string at 'ts_offset' contains a NUL"),
              std::string::npos)
        << e.what();
  }
}

TEST(Secrets, RejectsDocumentsThatAreNotAnObject) {
  EXPECT_THROW(parse_secrets("[1, 2]", "x"), SecretsError);
  EXPECT_THROW(parse_secrets("{\"mss\": ", "x"), SecretsError);
  EXPECT_THROW(parse_secrets("", "x"), SecretsError);
}

TEST(Secrets, MissingFileErrorNamesThePath) {
  try {
    (void)load_secrets_file(kData / "does-not-exist.json");
    ADD_FAILURE() << "accepted a missing file";
  } catch (const SecretsError& e) {
    EXPECT_NE(std::string(e.what()).find("does-not-exist.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace synwarden
