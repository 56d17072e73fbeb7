// synwarden-agent's configuration file and mode choice: what is accepted, the defaults, and that
// every mistake is refused with a message naming the key and the fix.
#include <gtest/gtest.h>

#include <string>

#include "agent_config.h"
#include "mode_probe.h"

namespace synwarden::agent {
namespace {

constexpr const char* kMinimal =
    R"({"listen": "192.0.2.10:7070", "key_file": "/etc/synwarden/agent.key",
        "interfaces": ["eth0"]})";

std::string refusal(const std::string& json) {
  try {
    parse_config(json, "agent.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(AgentConfig, MinimalFileGetsDocumentedDefaults) {
  const Config c = parse_config(kMinimal, "agent.json");
  EXPECT_EQ(c.listen, "192.0.2.10:7070");
  EXPECT_EQ(c.mode, Mode::kAuto);
  EXPECT_EQ(c.interfaces, std::vector<std::string>{"eth0"});
  EXPECT_TRUE(c.ports.empty());
  EXPECT_EQ(c.key_rotation_s, 3600u);
  EXPECT_EQ(c.key_overlap_s, 300u);
  EXPECT_EQ(c.pin_dir, "/sys/fs/bpf/synwarden/agent");
  EXPECT_EQ(c.kmod_file, "/proc/synwarden_secrets");
  EXPECT_EQ(c.kmod_gate_file, "/sys/module/synwarden_secrets/parameters/accept_cookies");
  EXPECT_EQ(c.request_max_age_s, 120u);
  EXPECT_TRUE(c.detach_on_exit);
  EXPECT_EQ(c.outbound_stamp, StampMode::kAuto);
}

TEST(AgentConfig, FullFileIsRead) {
  const Config c = parse_config(
      R"({"listen": "[2001:db8::10]:7443", "key_file": "/k", "mode": "bpf",
          "interfaces": ["eth0", "eth1"], "ports": [80, 443], "key_rotation_s": 0,
          "key_overlap_s": 600, "pin_dir": "/sys/fs/bpf/x", "kmod_file": "/proc/y",
          "kmod_gate_file": "/sys/z",
          "request_max_age_s": 30, "reply_rate": 5, "reply_burst": 10,
          "detach_on_exit": false, "outbound_stamp": "off"})",
      "agent.json");
  EXPECT_EQ(c.mode, Mode::kBpf);
  EXPECT_EQ(c.ports, (std::vector<uint16_t>{80, 443}));
  EXPECT_EQ(c.key_rotation_s, 0u);
  EXPECT_EQ(c.key_overlap_s, 600u);
  EXPECT_EQ(c.reply_rate, 5);
  EXPECT_FALSE(c.detach_on_exit);
  EXPECT_EQ(c.outbound_stamp, StampMode::kOff);
  EXPECT_EQ(c.kmod_file, "/proc/y");
  EXPECT_EQ(c.kmod_gate_file, "/sys/z");
}

TEST(AgentConfig, OutboundStampTakesAutoOnOrOffOnly) {
  const std::string base = R"({"listen": "192.0.2.10:7070", "key_file": "/k",
                                "interfaces": ["eth0"], "outbound_stamp": )";
  EXPECT_EQ(parse_config(base + R"("on"})", "a").outbound_stamp, StampMode::kOn);
  EXPECT_NE(refusal(base + R"("yes"})").find("\"outbound_stamp\""), std::string::npos);
  EXPECT_NE(refusal(base + R"(true})").find("outbound_stamp"), std::string::npos);
}

TEST(AgentConfig, MistakesNameTheKeyAndTheFix) {
  EXPECT_NE(refusal("{").find("not valid JSON"), std::string::npos);
  // A number out of double's range is nlohmann's out_of_range, not a parse_error: still ours.
  EXPECT_NE(refusal(R"({"poll": 1e400})").find("not valid JSON"), std::string::npos);
  EXPECT_NE(refusal(R"({"key_file": "/k", "interfaces": ["e"]})").find("\"listen\": missing"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "agent:7070", "key_file": "/k", "interfaces": ["e"]})")
                .find("\"listen\""),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "192.0.2.1:1", "key_file": "/k", "interfaces": []})")
                .find("\"interfaces\""),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "192.0.2.1:1", "key_file": "/k", "interfaces": ["e"],
                        "mode": "ebpf"})")
                .find("not one of bpf, kmod, auto"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "192.0.2.1:1", "key_file": "/k", "interfaces": ["e"],
                        "ports": [80, 0]})")
                .find("1 to 65535"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "192.0.2.1:1", "key_file": "/k", "interfaces": ["e"],
                        "ports": [80, 80]})")
                .find("listed twice"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "192.0.2.1:1", "key_file": "/k", "interfaces": ["e"],
                        "portz": [80]})")
                .find("\"portz\": unknown key"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"listen": "192.0.2.1:1", "key_file": "/k",
                        "interfaces": ["an-interface-name-too-long"]})")
                .find("\"interfaces\""),
            std::string::npos);
}

TEST(AgentConfig, NulBytesTrailingGarbageAndRepeatedKeysAreRefused) {
  const std::string listen = R"({"key_file": "/k", "interfaces": ["eth0"], )";
  EXPECT_NE(refusal(listen + R"("listen": "192.0.2.10\u0000:7070"})")
                .find("\"listen\": the string"),
            std::string::npos);
  EXPECT_NE(refusal(listen + R"("listen": "192.0.2.10:7070x"})").find("\"listen\""),
            std::string::npos);
  EXPECT_NE(refusal(listen + R"("listen": "192.0.2.10 :7070"})").find("not an IPv4 address"),
            std::string::npos);
  const std::string base = R"({"listen": "192.0.2.10:7070", "key_file": "/k", )";
  EXPECT_NE(refusal(base + R"("interfaces": ["eth0\u0000x"]})").find("\"interfaces[0]\""),
            std::string::npos);
  EXPECT_NE(refusal(base + R"("interfaces": ["eth0:1"]})").find("contains '/' or ':'"),
            std::string::npos);
  EXPECT_NE(refusal(base + R"("interfaces": [".."]})").find("\"interfaces\""), std::string::npos);
  EXPECT_NE(refusal(base + R"("interfaces": ["eth0"], "pin_dir": "/sys/fs/bpf\u0000/x"})")
                .find("\"pin_dir\": the string at 'pin_dir' contains a NUL byte"),
            std::string::npos);
  EXPECT_NE(refusal(base + R"("interfaces": ["eth0"], "mode": "bpf", "mode": "kmod"})")
                .find("\"mode\": duplicate key 'mode'"),
            std::string::npos);
}

TEST(AgentConfig, PreviousKeysMustOutliveTheCookieLifetime) {
  const std::string base = R"({"listen": "192.0.2.1:1", "key_file": "/k", "interfaces": ["e"], )";
  EXPECT_NE(refusal(base + R"("key_overlap_s": 60})").find("\"key_overlap_s\""), std::string::npos);
  // Rotation must leave at most two generations alive.
  EXPECT_NE(refusal(base + R"("key_overlap_s": 300, "key_rotation_s": 300})")
                .find("must be greater than key_overlap_s"),
            std::string::npos);
  EXPECT_NO_THROW(parse_config(base + R"("key_overlap_s": 120, "key_rotation_s": 121})", "a"));
}

TEST(AgentConfig, BpfModeNeedsPorts) {
  const Config c = parse_config(kMinimal, "agent.json");
  EXPECT_THROW(check_config_for_mode(c, Mode::kBpf, "agent.json"), ConfigError);
  EXPECT_NO_THROW(check_config_for_mode(c, Mode::kKmod, "agent.json"));
}

ProbeResult probe(bool kfunc, bool kmod) {
  ProbeResult p;
  p.kfunc_present = kfunc;
  p.kfunc_detail = kfunc ? "" : "no kfunc here";
  p.kmod_present = kmod;
  p.kernel_release = "6.1.0-test";
  return p;
}

std::string mode_refusal(Mode requested, const ProbeResult& p) {
  try {
    resolve_mode(requested, p, "/proc/synwarden_secrets");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(AgentMode, AutoPrefersBpfThenKmod) {
  EXPECT_EQ(resolve_mode(Mode::kAuto, probe(true, true), "/p"), Mode::kBpf);
  EXPECT_EQ(resolve_mode(Mode::kAuto, probe(false, true), "/p"), Mode::kKmod);
}

TEST(AgentMode, AutoWithNeitherSaysWhatToInstall) {
  const std::string why = mode_refusal(Mode::kAuto, probe(false, false));
  EXPECT_NE(why.find("6.1.0-test"), std::string::npos) << why;
  EXPECT_NE(why.find("no kfunc here"), std::string::npos) << why;
  EXPECT_NE(why.find("synwarden-dkms"), std::string::npos) << why;
  EXPECT_NE(why.find(">= 6.9"), std::string::npos) << why;
}

TEST(AgentMode, ExplicitModeIsHonouredOrRefused) {
  EXPECT_EQ(resolve_mode(Mode::kKmod, probe(true, true), "/p"), Mode::kKmod);
  EXPECT_EQ(resolve_mode(Mode::kBpf, probe(true, false), "/p"), Mode::kBpf);
  EXPECT_NE(mode_refusal(Mode::kBpf, probe(false, true)).find("\"mode\": \"kmod\""),
            std::string::npos);
  EXPECT_NE(mode_refusal(Mode::kKmod, probe(true, false)).find("\"mode\": \"bpf\""),
            std::string::npos);
}

TEST(AgentMode, ProbeExplainsAMissingBtf) {
  const ProbeResult p = probe_host("/nonexistent/btf/vmlinux", "/nonexistent/kmod");
  EXPECT_FALSE(p.kfunc_present);
  EXPECT_FALSE(p.kmod_present);
  EXPECT_NE(p.kfunc_detail.find("CONFIG_DEBUG_INFO_BTF"), std::string::npos) << p.kfunc_detail;
}

}  // namespace
}  // namespace synwarden::agent
