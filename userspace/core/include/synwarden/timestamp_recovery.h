// Stateless recovery of an established flow from its TCP timestamp (docs/flow-recovery.md).
//
// A firewall that lost its established map (reboot, daemon start without pinned maps, an ECMP
// change that moved the flow from another box) sees the flow's next segments as unknown ACKs
// whose cookie check fails. If the segment carries a timestamp, its TSecr echoes a TSval the
// host sent: the host's TCP clock at that moment plus the connection's ts_off. With the host's
// ts_off key and clock estimate, the firewall can check that TSecr − ts_off lies at most
// `window_ms` behind the host's clock (and not more than `ahead_ms` in front of the estimate,
// which is biased backwards). A random 32-bit TSecr passes with probability
// (window_ms + ahead_ms + 1) / 2^32: 7.0e-5 for the default 300 s window.
//
// It proves nothing when the host's ts_off is 0 (tcp_timestamps = 2: the clock is then public),
// so recovery is off for such hosts, and for hosts without timestamps at all.
#pragma once

#include <cstdint>

#include "synwarden/clock.h"
#include "synwarden/secrets.h"
#include "synwarden/synack_planner.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden {

// In front of the clock estimate: covers HostClock's backward bias (ts margin, drift over the
// sample's age) and a host clock that the agent samples a little late.
inline constexpr uint32_t kRecoveryAheadMs = 1000;

enum class RecoveryStatus : uint8_t {
  kRecovered,      // TSecr − ts_off is within the window: a segment of a live connection
  kDisabled,       // window 0, or the host's timestamps carry no secret offset
  kNoTimestamp,    // the segment has no timestamp, or TSecr is 0
  kOutOfWindow,    // TSecr does not fit the host's clock: forged (or idle longer than the window)
};

template <class Flow>
[[gnu::always_inline]] inline RecoveryStatus recover_by_timestamp(
    const HostSecrets& secrets, const ClockReading& clock, const Flow& flow,
    const AckSegment& segment, uint32_t window_ms) noexcept {
  if (window_ms == 0 || secrets.sysctls.tcp_timestamps != 1) return RecoveryStatus::kDisabled;
  if (!segment.has_timestamp || segment.tsecr == 0) return RecoveryStatus::kNoTimestamp;
  const uint32_t ts_off = host_ts_off(secrets.ts_offset, secrets.ts_key, flow, 1);
  const uint32_t host_ms_then = segment.tsecr - ts_off;
  // How long ago (host ms) the echoed TSval was sent, by the estimate; negative = ahead of it.
  const auto behind = static_cast<int32_t>(static_cast<uint32_t>(clock.tcp_ms) - host_ms_then);
  if (behind < -static_cast<int32_t>(kRecoveryAheadMs) ||
      behind > static_cast<int64_t>(window_ms)) {
    return RecoveryStatus::kOutOfWindow;
  }
  return RecoveryStatus::kRecovered;
}

}  // namespace synwarden
