// The host keys and clock the cookie-datapath tests give the XDP program (and the C++ engine
// they compare it with): fixed values, so a failing case names the same cookie every run.
#pragma once

#include "synwarden/secrets.h"

namespace synwarden::test {

inline HostSecrets fixed_secrets() {
  HostSecrets s;
  s.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
  s.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
  s.ts_key = SipKey{9, 10};
  s.clock = HostClockSample{123456789, 250, 987654321};
  return s;
}

}  // namespace synwarden::test
