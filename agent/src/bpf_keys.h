// BPF mode's key life cycle and what the agent reports for it, kept free of BPF calls so the
// unit tier can check it.
//
// Keys: the agent plays the kernel's role with keys of its own — two SipHash keys per family (the
// syncookie_secret[2] / syncookie6_secret[2] roles) and a timestamp-offset key used the way
// current kernels use net_secret (per-connection ts_off, secure_tcp_seq_and_ts_off()). The
// firewall's engine therefore needs no special case: it mints cookies with these keys exactly as
// for a kernel that has them.
//
// Rotation: every `period` a new generation becomes current; the previous one stays valid for
// `overlap` so cookies the firewall minted just before it learnt the new keys still validate.
//
// Clocks: the tc program derives the cookie count from CLOCK_MONOTONIC minutes, so the agent
// reports jiffies = CLOCK_MONOTONIC ms with HZ = 1000 (count = jiffies / (60 * HZ) gives the
// same minute), and the TCP timestamp clock is CLOCK_MONOTONIC ms as on any Linux host.
#pragma once

#include <cstdint>
#include <optional>

#include "host_facts.h"
#include "host_program.h"
#include "synwarden/secrets.h"

namespace synwarden::agent {

inline constexpr uint32_t kBpfModeHz = 1000;

struct RotationPolicy {
  uint64_t period_ns = 0;   // 0 = never rotate
  uint64_t overlap_ns = 0;
};

// A fresh generation: every key from the system CSPRNG, never all zero.
HostKeySet generate_keyset(uint64_t generation, uint64_t now_ns);

// The state to start with: the pinned one if it holds a current generation (an agent restart
// keeps the keys the firewall already uses), else a first generation.
HostKeyState initial_state(const std::optional<HostKeyState>& pinned, uint64_t now_ns);

// Rotates when the current generation is `period` old, and clears the previous generation once
// its overlap has passed (so expired keys do not linger in the map). Returns whether `state`
// changed.
bool maintain_keys(HostKeyState& state, const RotationPolicy& policy, uint64_t now_ns);

// The document the firewall receives for a BPF-mode host at CLOCK_MONOTONIC `mono_ms`.
HostSecrets bpf_mode_secrets(const HostKeySet& current, const HostFacts& facts, uint64_t mono_ms);

}  // namespace synwarden::agent
