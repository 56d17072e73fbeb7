// BPF mode's key life cycle and report (bpf_keys.h): fresh random keys, adoption of pinned keys,
// rotation with an overlap, and a document the firewall's parser accepts whose clock gives the
// tc program's cookie count.
#include <gtest/gtest.h>

#include "bpf_keys.h"
#include "synwarden/clock.h"
#include "synwarden/secrets.h"

namespace synwarden::agent {
namespace {

constexpr uint64_t kS = 1'000'000'000;

TEST(BpfKeys, GeneratedKeysAreRandomAndNeverZero) {
  const HostKeySet a = generate_keyset(1, 5);
  const HostKeySet b = generate_keyset(1, 5);
  EXPECT_NE(a.cookie_v4, b.cookie_v4);
  EXPECT_NE(a.ts_key, b.ts_key);
  for (const SipKey& k : {a.cookie_v4[0], a.cookie_v4[1], a.cookie_v6[0], a.cookie_v6[1], a.ts_key}) {
    EXPECT_FALSE(k.is_zero());
  }
  EXPECT_NE(a.cookie_v4[0], a.cookie_v4[1]);
  EXPECT_EQ(a.generation, 1u);
  EXPECT_EQ(a.created_ns, 5u);
  EXPECT_EQ(a.valid_until_ns, 0u);
}

TEST(BpfKeys, PinnedKeysAreAdoptedOtherwiseAFirstGenerationIsMade) {
  HostKeyState pinned;
  pinned.current = generate_keyset(41, 100);
  EXPECT_EQ(initial_state(pinned, 200), pinned);
  const HostKeyState fresh = initial_state(std::nullopt, 200);
  EXPECT_EQ(fresh.current.generation, 1u);
  EXPECT_EQ(fresh.current.created_ns, 200u);
  EXPECT_EQ(fresh.previous.generation, 0u);
  HostKeyState empty;   // a pinned map whose value was never filled
  EXPECT_EQ(initial_state(empty, 300).current.generation, 1u);
}

TEST(BpfKeys, RotationKeepsThePreviousGenerationForTheOverlapOnly) {
  const RotationPolicy policy{3600 * kS, 300 * kS};
  HostKeyState s = initial_state(std::nullopt, 1000 * kS);
  const HostKeySet first = s.current;

  EXPECT_FALSE(maintain_keys(s, policy, 1000 * kS + 3599 * kS));
  EXPECT_EQ(s.current, first);

  const uint64_t rotate_at = 1000 * kS + 3600 * kS;
  EXPECT_TRUE(maintain_keys(s, policy, rotate_at));
  EXPECT_EQ(s.current.generation, 2u);
  EXPECT_NE(s.current.cookie_v4, first.cookie_v4);
  EXPECT_EQ(s.previous.cookie_v4, first.cookie_v4);
  EXPECT_EQ(s.previous.generation, 1u);
  EXPECT_EQ(s.previous.valid_until_ns, rotate_at + 300 * kS);

  EXPECT_FALSE(maintain_keys(s, policy, rotate_at + 299 * kS));
  EXPECT_EQ(s.previous.generation, 1u);
  EXPECT_TRUE(maintain_keys(s, policy, rotate_at + 300 * kS));   // overlap over: wiped
  EXPECT_EQ(s.previous.generation, 0u);
  EXPECT_TRUE(s.previous.cookie_v4[0].is_zero());
  EXPECT_EQ(s.current.generation, 2u);
}

TEST(BpfKeys, NoRotationWhenThePeriodIsZero) {
  HostKeyState s = initial_state(std::nullopt, 0);
  const HostKeyState before = s;
  EXPECT_FALSE(maintain_keys(s, RotationPolicy{0, 300 * kS}, 365ULL * 86400 * kS));
  EXPECT_EQ(s, before);
}

TEST(BpfKeys, ReportIsAValidSecretsDocumentWithTheProgramsClock) {
  const HostKeySet keys = generate_keyset(3, 0);
  HostFacts facts;
  facts.mss = 1400;
  facts.mss6 = 1380;
  facts.rcv_wscale = 9;
  facts.sysctls.tcp_ecn = 1;
  const uint64_t mono_ms = 7'260'123;   // 121 minutes after boot
  const HostSecrets s = bpf_mode_secrets(keys, facts, mono_ms);
  EXPECT_EQ(s.syncookie, keys.cookie_v4);
  EXPECT_EQ(s.syncookie6, keys.cookie_v6);
  EXPECT_EQ(s.ts_key, keys.ts_key);
  EXPECT_EQ(s.ts_offset, TsOffsetMode::kPerConnection);
  EXPECT_EQ(s.mss, 1400);
  EXPECT_EQ(s.mss6, 1380);
  EXPECT_EQ(s.rcv_wscale, 9);
  EXPECT_EQ(s.sysctls.tcp_ecn, 1);
  // The tc program counts CLOCK_MONOTONIC minutes; the firewall's tcp_cookie_time() must agree.
  EXPECT_EQ(tcp_cookie_time(s.clock.jiffies, s.clock.hz), mono_ms / 60'000);
  EXPECT_EQ(s.clock.mono_ms, mono_ms);
  // The firewall's parser takes it as it is.
  EXPECT_EQ(parse_secrets(serialize_secrets(s), "test"), s);
}

}  // namespace
}  // namespace synwarden::agent
