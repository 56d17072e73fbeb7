#include "synwarden/bpf_cookie_keys.h"

#include <cstring>

#include "synwarden/synack_planner.h"

namespace synwarden {

namespace {

sw_sip_key raw_key(const SipKey& k) noexcept { return sw_sip_key{k.k0, k.k1}; }

}  // namespace

sw_cookie_keys bpf_cookie_keys(const HostSecrets& s, const HostClock& clock) noexcept {
  sw_cookie_keys k;
  std::memset(&k, 0, sizeof k);
  for (unsigned i = 0; i < 2; ++i) {
    k.syncookie[i] = raw_key(s.syncookie[i]);
    k.syncookie6[i] = raw_key(s.syncookie6[i]);
  }
  k.ts_key = raw_key(s.ts_key);
  k.clock.jiffies = clock.sample().jiffies;
  k.clock.mono_ms = clock.sample().mono_ms;
  k.clock.local_ms = clock.local_ms();
  k.clock.hz = clock.sample().hz;
  k.clock.count_margin_ms = clock.safety().count_margin_ms;
  k.clock.ts_margin_ms = clock.safety().ts_margin_ms;
  k.clock.drift_ppm = clock.safety().drift_ppm;
  k.ts_mode = s.ts_offset == TsOffsetMode::kPerHost ? SW_TS_PER_HOST : SW_TS_PER_CONNECTION;
  k.tcp_timestamps = s.sysctls.tcp_timestamps;
  k.tcp_sack = s.sysctls.tcp_sack;
  k.tcp_window_scaling = s.sysctls.tcp_window_scaling;
  k.tcp_ecn = s.sysctls.tcp_ecn;
  k.rcv_wscale = s.rcv_wscale;
  k.mss = s.mss;
  k.mss6 = s.mss6;
  k.window[0] = synack_window(s.rcv_space, s.mss, false);
  k.window[1] = synack_window(s.rcv_space, s.mss, true);
  k.window[2] = synack_window(s.rcv_space, s.mss6, false);
  k.window[3] = synack_window(s.rcv_space, s.mss6, true);
  return k;
}

}  // namespace synwarden
