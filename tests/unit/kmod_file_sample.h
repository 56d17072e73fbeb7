// A sample of the synwarden_secrets module's file (what kmod/procfile.c prints on Debian 12's
// 6.1 kernel: per-connection timestamp offsets, IPv6 built in) and a text-edit helper, shared
// by the tests of its parser (kmod_secrets_test.cpp) and of the agent's kmod mode.
#pragma once

#include <stdexcept>
#include <string>

namespace synwarden::test_samples {

inline std::string kmod_file_sample(bool accept_cookies, unsigned gate_opened) {
  return "synwarden_secrets 1\n"
         "syncookie_secret 000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f\n"
         "syncookie6_secret 202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f\n"
         "ts_offset per-connection\n"
         "net_secret 404142434445464748494a4b4c4d4e4f\n"
         "hz 250\n"
         "jiffies 4295012345\n"
         "mono_ns 181234567890\n"
         "mono_ms 181234\n"
         "accept_cookies " + std::string(accept_cookies ? "1" : "0") + "\n" +
         "gate_opened " + std::to_string(gate_opened) + "\n";
}

// `text` with the first `from` replaced by `to`; a test whose text lacks `from` is a bug.
inline std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("test text has no '" + from + "'");
  text.replace(at, from.size(), to);
  return text;
}

}  // namespace synwarden::test_samples
