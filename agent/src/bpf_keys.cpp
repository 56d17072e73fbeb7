#include "bpf_keys.h"

#include <sodium.h>

#include <stdexcept>

namespace synwarden::agent {
namespace {

SipKey random_key() {
  SipKey k;
  do {
    randombytes_buf(&k.k0, sizeof k.k0);
    randombytes_buf(&k.k1, sizeof k.k1);
  } while (k.is_zero());   // zero means "uninitialised" to the firewall: never hand one out
  return k;
}

}  // namespace

HostKeySet generate_keyset(uint64_t generation, uint64_t now_ns) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  HostKeySet s;
  s.cookie_v4 = {random_key(), random_key()};
  s.cookie_v6 = {random_key(), random_key()};
  s.ts_key = random_key();
  s.generation = generation;
  s.created_ns = now_ns;
  s.valid_until_ns = 0;
  return s;
}

HostKeyState initial_state(const std::optional<HostKeyState>& pinned, uint64_t now_ns) {
  if (pinned && pinned->current.generation != 0) return *pinned;
  HostKeyState s;
  s.current = generate_keyset(1, now_ns);
  return s;
}

bool maintain_keys(HostKeyState& state, const RotationPolicy& policy, uint64_t now_ns) {
  bool changed = false;
  if (state.previous.generation != 0 && state.previous.valid_until_ns <= now_ns) {
    sodium_memzero(&state.previous, sizeof state.previous);
    changed = true;
  }
  if (policy.period_ns != 0 && now_ns - state.current.created_ns >= policy.period_ns) {
    state.previous = state.current;
    state.previous.valid_until_ns = now_ns + policy.overlap_ns;
    state.current = generate_keyset(state.current.generation + 1, now_ns);
    changed = true;
  }
  return changed;
}

HostSecrets bpf_mode_secrets(const HostKeySet& current, const HostFacts& facts, uint64_t mono_ms) {
  HostSecrets s;
  s.syncookie = current.cookie_v4;
  s.syncookie6 = current.cookie_v6;
  s.ts_offset = TsOffsetMode::kPerConnection;
  s.ts_key = current.ts_key;
  s.sysctls = facts.sysctls;
  s.mss = facts.mss;
  s.mss6 = facts.mss6;
  s.rcv_wscale = facts.rcv_wscale;
  s.clock = HostClockSample{mono_ms, kBpfModeHz, mono_ms};
  return s;
}

}  // namespace synwarden::agent
