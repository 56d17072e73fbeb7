// Writes the seed corpus of every fuzz target into <dir>/<target>/ (tests/fuzz/corpus):
//
//   fuzz_make_seeds tests/fuzz/corpus [frame|cookie|secrets|channel|daemon_handler ...]
//
// Seeds are small and each stands for one case worth starting from: a Linux SYN v4/v6 with and
// without VLAN tags, the ACK of a handshake, each malformed-frame class, a sample secrets file
// per timestamp-offset mode, channel messages sealed with the fuzz key (so fuzzing starts inside
// the authenticated paths), structured cases for the engine and the replay window. Channel
// seeds carry random nonces, so regenerating changes their bytes but not what they cover.
// Existing files of the same name are overwritten; crash reproducers added by hand (crash-*)
// are left alone.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_cases.h"
#include "fuzz_keys.h"
#include "synwarden/channel.h"
#include "synwarden/channel_confirm.h"
#include "synwarden/packet_builder.h"
#include "synwarden/secrets.h"

namespace {

using namespace synwarden;
using namespace synwarden::fuzz;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

fs::path g_root;
size_t g_written = 0;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
  ++g_written;
}
void write_text(const std::string& target, const std::string& name, const std::string& text) {
  write(target, name, Bytes(text.begin(), text.end()));
}

template <typename Case>
Bytes encode(Case c) {
  Bytes out;
  CaseWriter w(out);
  c.visit(w);
  return out;
}

// ---- frame ----------------------------------------------------------------------------------

FrameBuilder v4() {
  FrameBuilder b;
  b.ipv4("198.51.100.10", "192.0.2.80").ports(40000, 80).seq(0x1A2B3C4D);
  return b;
}
FrameBuilder v6() {
  FrameBuilder b;
  b.ipv6("2001:db8:1::10", "2001:db8:2::80").ports(40000, 443).seq(0x0BADCAFE);
  return b;
}

void frame_seeds() {
  const std::string t = "frame";
  write(t, "v4-syn-linux", v4().linux_syn_options(1460, 0x01020304, 7).build());
  write(t, "v4-syn-bare", v4().build());
  write(t, "v4-syn-padded-to-60", v4().pad_to(60).build());
  write(t, "v4-syn-mss-only", v4().mss(1300).build());
  write(t, "v4-syn-ecn-setup",
        v4().flags(tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr).tos(0x02)
            .linux_syn_options(1440, 77, 9).build());
  write(t, "v4-syn-ip-options",
        v4().ipv4_options({0x94, 0x04, 0x00, 0x00}).linux_syn_options(1460, 5, 7).build());
  write(t, "v4-syn-odd-options",
        v4().nop().wscale(15).raw_option_bytes({30, 4, 0xAB, 0xCD}).mss(0).sack_permitted()
            .timestamp(0xFFFFFFFF, 0).mss(536).build());
  write(t, "v4-syn-vlan", v4().vlan(ethertype::kVlan, 100).linux_syn_options(1460, 9, 7).build());
  write(t, "v4-syn-qinq",
        v4().vlan(ethertype::kQinQ, 10).vlan(ethertype::kVlan, 20).linux_syn_options(1460, 9, 7)
            .build());
  write(t, "v4-ack-timestamp",
        v4().flags(tcpflag::kAck).seq(0x1A2B3C4E).ack(0x55667788).nop().nop()
            .timestamp(0x01020310, 0x99887766).build());
  write(t, "v4-ack-data-sack",
        v4().flags(tcpflag::kAck | tcpflag::kPsh).ack(7).sack({{1000, 2000}, {3000, 4000}})
            .payload({'G', 'E', 'T', ' ', '/', '\r', '\n'}).build());
  write(t, "v4-rst", v4().flags(tcpflag::kRst).build());
  write(t, "v6-syn-linux", v6().linux_syn_options(1440, 0x0A0B0C0D, 7).flow_label(0x12345).build());
  write(t, "v6-syn-vlan-ecn",
        v6().vlan(ethertype::kVlan, 4094).flags(tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr)
            .tos(0xB8).linux_syn_options(8940, 1, 14).build());
  write(t, "v6-ack", v6().flags(tcpflag::kAck).seq(0x0BADCAFF).ack(0x12345678).build());
  // Not for the engine, or malformed: one of each verdict class.
  write(t, "v6-hop-by-hop", v6().ip_protocol(ipproto::kHopByHop).payload(Bytes(8, 0)).build());
  write(t, "v4-udp", v4().ip_protocol(ipproto::kUdp).payload(Bytes(8, 0)).build());
  write(t, "v4-fragment", v4().ipv4_frag(0x2000).build());
  Bytes arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  write(t, "arp", arp);
  Bytes cut = v4().linux_syn_options(1460, 1, 7).build();
  cut.resize(14 + 20 + 30);
  write(t, "v4-truncated-tcp-options", cut);
  write(t, "v4-bad-option-length", v4().raw_option_bytes({8, 12, 0, 0}).build());
  Bytes bad_sum = v4().linux_syn_options(1460, 1, 7).build();
  bad_sum[14 + 20 + 16] ^= 0x01;  // TCP checksum
  write(t, "v4-bad-tcp-checksum", bad_sum);
  Bytes bad_ihl = v4().build();
  bad_ihl[14] = 0x44;
  write(t, "v4-bad-ihl", bad_ihl);
}

// ---- cookie ---------------------------------------------------------------------------------

CookieCase linux_host(bool ipv6) {
  CookieCase c;
  c.ipv6 = ipv6;
  for (uint8_t i = 0; i < 16; ++i) {
    c.cookie_key0[i] = i;
    c.cookie_key1[i] = static_cast<uint8_t>(0x10 + i);
    c.cookie6_key0[i] = static_cast<uint8_t>(0x20 + i);
    c.cookie6_key1[i] = static_cast<uint8_t>(0x30 + i);
    c.ts_key[i] = static_cast<uint8_t>(0x40 + i);
  }
  c.cookie_count = 0x0001E240;
  c.tcp_ms = 15'025'123;
  c.client_addr = {198, 51, 100, 10};
  c.host_addr = {192, 0, 2, 80};
  if (ipv6) {
    c.client_addr = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
    c.host_addr = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
  }
  c.client_port = 0x409C;  // 40000 in network order, as raw bytes
  c.host_port = 0x5000;    // 80
  c.client_isn = 0x1A2B3C4D;
  c.syn_has_mss = c.syn_has_wscale = c.syn_sack = c.syn_has_ts = true;
  c.syn_mss = ipv6 ? 1440 : 1460;
  c.syn_wscale = 7;
  c.syn_tsval = 0x01020304;
  c.check_age = 1;  // the honest minute
  return c;
}

void cookie_seeds() {
  const std::string t = "cookie";
  write(t, "v4-linux-honest", encode(linux_host(false)));
  write(t, "v6-linux-honest", encode(linux_host(true)));
  CookieCase c = linux_host(false);
  c.per_host_ts = true;
  c.syn_ece_cwr = true;
  c.check_age = 2;  // checked one minute later
  write(t, "v4-per-host-ecn-next-minute", encode(c));
  c = linux_host(false);
  c.syn_ece_cwr = true;
  c.syn_ip_ecn = 2;  // an ECT(0) SYN: the kernel refuses ECN setup...
  write(t, "v4-ecn-setup-on-ect-syn", encode(c));
  c.syn_tcp_res1 = true;  // ...unless a reserved bit (AccECN's AE) is set
  write(t, "v4-ecn-setup-ect-reserved-bit", encode(c));
  c = linux_host(true);
  c.tcp_timestamps = 0;
  c.syn_has_mss = false;
  write(t, "v6-timestamps-off-no-mss", encode(c));
  c = linux_host(false);
  c.syn_has_ts = false;
  c.ack_delta = 1;  // cookie for the next MSS index
  write(t, "v4-no-ts-ack-plus-one", encode(c));
  c = linux_host(false);
  c.ack_delta = 0x01000000;  // next minute's count byte
  c.tsecr_delta = 0x10;      // SACK bit flipped in the echo
  c.tcp_sack = 0;
  write(t, "v4-forged-count-and-sack", encode(c));
  c = linux_host(true);
  c.check_age = 3;  // two minutes later: expired
  c.tcp_ms = 5;     // cookie_init_timestamp() steps back below 0
  c.tcp_timestamps = 2;
  write(t, "v6-expired-clock-near-zero", encode(c));
}

// ---- secrets --------------------------------------------------------------------------------

void secrets_seeds() {
  const std::string t = "secrets";
  HostSecrets s;
  s.syncookie = {SipKey{0x0e37f9c5864d4897ULL, 0x612510bad2d16c6aULL},
                 SipKey{0xa4d457326285367bULL, 0xc3e2f9276849b97aULL}};
  s.syncookie6 = {SipKey{0x8d813718db5ebb7cULL, 0xad8b8411730a6b31ULL},
                  SipKey{0x825a9e348352eecdULL, 0x53c089cd775bac3eULL}};
  s.ts_key = SipKey{0x9413e526d1724943ULL, 0x099ced6a2967116eULL};
  s.clock = HostClockSample{4298647296, 250, 15025000};
  const std::string per_connection = serialize_secrets(s);
  write_text(t, "per-connection", per_connection);
  // Valid up to one mistyped value, so the loader gets as far as its type checks.
  const auto with = [&per_connection](const std::string& from, const std::string& to) {
    std::string doc = per_connection;
    doc.replace(doc.find(from), from.size(), to);
    return doc;
  };
  write_text(t, "sysctl-as-bool", with("\"tcp_sack\":1", "\"tcp_sack\":true"));
  write_text(t, "negative-hz", with("\"hz\":250", "\"hz\":-250"));
  // syncookie_secret[0] as the host kernel has it before its first cookie: all zero.
  write_text(t, "zero-key", with("97484d86c5f9370e6a6cd1d2ba102561", std::string(32, '0')));
  s.ts_offset = TsOffsetMode::kPerHost;
  s.sysctls = TcpSysctls{2, 0, 0, 5};
  s.mss = 536;
  s.mss6 = 1220;
  s.rcv_wscale = 14;
  s.rcv_space = 131072;
  s.clock = HostClockSample{~uint64_t{0}, 100000, 0};
  write_text(t, "per-host-extremes", serialize_secrets(s));
  // A hand-edited file: pretty-printed, keys in another order.
  write_text(t, "pretty-printed",
             "{\n  \"ts_offset\": \"per-host\",\n  \"ts_secret\": \"228d2b7f922d7b4419db83345a0918eb\",\n"
             "  \"syncookie_secret\": [\"97484d86c5f9370e6a6cd1d2ba102561\",\n"
             "                       \"7B3685623257D4A47AB9496827F9E2C3\"],\n"
             "  \"syncookie6_secret\": [\"7cbb5edb1837818d316b0a7311848bad\",\n"
             "                        \"cdee5283349a5e823eac5b77cd89c053\"],\n"
             "  \"tcp_timestamps\": 1, \"tcp_sack\": 1, \"tcp_window_scaling\": 1, \"tcp_ecn\": 2,\n"
             "  \"mss\": 1460, \"mss6\": 1440, \"rcv_wscale\": 7,\n"
             "  \"jiffies\": 4301927196, \"hz\": 1000, \"mono_ms\": 7265000\n}\n");
  // Refusals the loader must explain.
  write_text(t, "bad-mode-key",
             R"({"syncookie_secret":["00112233445566778899aabbccddeeff","00112233445566778899aabbccddeeff"],)"
             R"("syncookie6_secret":["00112233445566778899aabbccddeeff","00112233445566778899aabbccddeeff"],)"
             R"("ts_offset":"per-connection","ts_secret":"00112233445566778899aabbccddeeff",)"
             R"("tcp_timestamps":1,"tcp_sack":1,"tcp_window_scaling":1,"tcp_ecn":2,"mss":1460,)"
             R"("mss6":1440,"rcv_wscale":7,"jiffies":1,"hz":250,"mono_ms":1})");
  write_text(t, "bad-hex-and-types",
             R"({"syncookie_secret":["0011223344556677889xaabbccddeeff",7],"tcp_ecn":-1,)"
             R"("hz":1e3,"mss":"1460","rcv_space":4294967296,"unknown":null})");
  write_text(t, "not-an-object", R"([{"syncookie_secret":[]}, 1.5e400, "\ud800"])");
}

// ---- channel ---------------------------------------------------------------------------------

Bytes request(const ChannelKey& key, uint64_t sent) {
  std::array<uint8_t, kChannelRequestBytes> buf;
  ChannelNonce nonce;
  const size_t n = seal_channel_request(key, sent, nonce, buf);
  return Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
}
Bytes reply(const ChannelKey& key, const ChannelNonce& nonce, const std::string& payload) {
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const size_t n = seal_channel_reply(
      key, nonce,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
      buf);
  if (n == 0) throw std::runtime_error("seed payload too large");
  return Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
}

void channel_seeds() {
  const ChannelKey key = ChannelKey::from_bytes(kFuzzChannelKey);
  const ChannelKey other = ChannelKey::from_bytes(kFuzzOtherKey);
  HostSecrets s;
  s.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
  s.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
  s.ts_key = SipKey{9, 10};
  s.clock = HostClockSample{4298647296, 250, 15025000};
  const std::string secrets = serialize_secrets(s);

  std::string t = "channel_open";
  write(t, "request", request(key, 1'790'000'000'123));
  write(t, "reply-secrets", reply(key, kFuzzRequestNonce, secrets));
  write(t, "reply-empty", reply(key, kFuzzRequestNonce, ""));
  ChannelNonce stale = kFuzzRequestNonce;
  stale[23] ^= 0xFF;
  write(t, "reply-to-other-request", reply(key, stale, secrets));
  write(t, "request-other-key", request(other, 1));
  Bytes v2 = request(key, 2);
  v2[4] = 2;
  write(t, "request-version-2", v2);
  write(t, "header-only", Bytes(v2.begin(), v2.begin() + kChannelHeaderBytes));
  Bytes big = reply(key, kFuzzRequestNonce, std::string(kChannelMaxPayloadBytes, 'x'));
  big.push_back(0);
  write(t, "oversized", big);

  // channel_confirm: mode byte (even: request, odd: answer), expected count, datagram.
  t = "channel_confirm";
  std::vector<ConfirmTuple> tuples(3);
  tuples[0].client_addr[0] = 198;
  tuples[0].client_port = 40001;
  tuples[0].host_port = 443;
  tuples[1].family = 6;
  tuples[1].client_addr[15] = 7;
  tuples[1].host_port = 80;
  tuples[2].client_addr[0] = 203;
  tuples[2].host_port = 22;
  std::array<uint8_t, kChannelMaxMessageBytes> cbuf;
  ChannelNonce cnonce;
  const size_t cn = seal_confirm_request(key, 1'790'000'000'123, tuples, cnonce, cbuf);
  Bytes creq = {0, 0};
  creq.insert(creq.end(), cbuf.begin(), cbuf.begin() + static_cast<std::ptrdiff_t>(cn));
  write(t, "request-3-tuples", creq);
  const bool flags[] = {true, false, true};
  const std::vector<uint8_t> answer = encode_confirm_answer(flags);
  const size_t an = seal_channel_reply(key, kFuzzRequestNonce, answer, cbuf,
                                       ChannelMessageType::kConfirmReply);
  Bytes crep = {1, 3};
  crep.insert(crep.end(), cbuf.begin(), cbuf.begin() + static_cast<std::ptrdiff_t>(an));
  write(t, "answer-3-tuples", crep);
  crep[1] = 4;
  write(t, "answer-wrong-count", crep);

  t = "channel_seal";
  ChannelSealCase c;
  c.sent_unix_ms = 1'790'000'000'123;
  write(t, "request", encode(c));
  c.mutation = ChannelSealCase::kFlipBit;
  c.position = 40;  // inside the nonce
  c.bit = 3;
  write(t, "request-flip-nonce", encode(c));
  c.reply = true;
  c.request_nonce = kFuzzRequestNonce;
  c.position = 17;  // body length field
  Bytes r = encode(c);
  r.insert(r.end(), secrets.begin(), secrets.end());
  write(t, "reply-flip-length", r);
  c.mutation = ChannelSealCase::kTruncate;
  c.position = 100;
  r = encode(c);
  r.insert(r.end(), secrets.begin(), secrets.end());
  write(t, "reply-truncated", r);
  c.mutation = ChannelSealCase::kAppend;
  c.extra = 4000;
  write(t, "reply-empty-padded", encode(c));

  t = "channel_guard";
  GuardCase g;
  const auto steps = [&g](std::initializer_list<GuardStep> list) {
    Bytes b = encode(g);
    for (const GuardStep& step : list) {
      const Bytes e = encode(step);
      b.insert(b.end(), e.begin(), e.end());
    }
    return b;
  };
  write(t, "fresh-then-replayed", steps({{1, 1, 0}, {2, 1, -1}, {1, 1, -1}, {3, 0, 5}}));
  write(t, "stale-both-ways", steps({{1, 1, 11}, {2, 1, -11}, {3, 1, 10}}));
  // A captured request replayed after the agent's wall clock stepped back (NTP): it was
  // admitted, expired, and must stay refused.
  write(t, "replay-after-clock-step-back",
        steps({{1, 0, 0}, {2, 100, 0}, {1, 0x80 | 99, -1}, {1, 0, 0}}));
  g.capacity = 2;
  write(t, "capacity-eviction", steps({{1, 0, 0}, {2, 0, 1}, {3, 0, 2}, {1, 0, 0}, {4, 0, -1}}));
  g.capacity = 16;
  g.rate_per_s = 2;
  g.burst = 3;
  g.tick_ms = 100;
  write(t, "rate-limited-burst", steps({{1, 0, 0}, {2, 0, 0}, {3, 0, 0}, {4, 0, 0}, {5, 10, 0}}));
}

// ---- daemon_handler -------------------------------------------------------------------------

// Frames at the target's snapshot hosts 192.0.2.10:80 and [2001:db8::10]:443.
FrameBuilder to_v4_host() {
  FrameBuilder b;
  b.ipv4("198.51.100.10", "192.0.2.10").ports(40000, 80).seq(0x1A2B3C4D);
  return b;
}
FrameBuilder to_v6_host() {
  FrameBuilder b;
  b.ipv6("2001:db8:1::10", "2001:db8::10").ports(40000, 443).seq(0x0BADCAFE);
  return b;
}

void handler_seed(const std::string& name, const HandlerCase& c, const Bytes& frame) {
  Bytes out = encode(c);
  out.insert(out.end(), frame.begin(), frame.end());
  write("daemon_handler", name, out);
}

void daemon_handler_seeds() {
  using H = HandlerCase;
  const HandlerCase base;
  const Bytes syn4 = to_v4_host().linux_syn_options(1460, 0x01020304, 7).build();
  handler_seed("v4-syn-answered", base, syn4);
  handler_seed("v6-syn-vlan-ecn-answered", base,
               to_v6_host().vlan(ethertype::kVlan, 4094)
                   .flags(tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr).tos(0xB8)
                   .linux_syn_options(8940, 1, 14).build());
  handler_seed("v4-syn-qinq-no-ts-answered", base,
               to_v4_host().vlan(ethertype::kQinQ, 10).vlan(ethertype::kVlan, 20).mss(1300)
                   .build());
  HandlerCase c = base;
  c.v4_host |= H::kShedSyns;
  handler_seed("v4-syn-shed", c, syn4);
  c = base;
  c.synack_pps = 1;
  c.synack_burst = 2;
  c.repeats = 4;
  handler_seed("v4-syn-rate-limited", c, syn4);
  c = base;
  c.v4_host = H::kProtection | H::kFailClosed | H::kHostCounters;
  handler_seed("v4-syn-no-keys-fail-closed", c, syn4);
  c.v4_host = H::kProtection | H::kHostCounters;
  handler_seed("v4-ack-no-keys-fail-open", c,
               to_v4_host().flags(tcpflag::kAck).seq(0x1A2B3C4E).ack(0x55667788).build());
  c = base;
  c.v4_host |= H::kPreviousKeys;
  handler_seed("v4-ack-bad-cookie-previous-keys", c,
               to_v4_host().flags(tcpflag::kAck).seq(0x1A2B3C4E).ack(0x55667788).nop().nop()
                   .timestamp(0x01020310, 0x99887766).build());
  c = base;
  c.v4_host |= H::kPortFilter;
  c.port = 8080;
  handler_seed("v4-syn-unprotected-port", c, syn4);
  c = base;
  c.v6_host = H::kKeys | H::kHostCounters;
  handler_seed("v6-ack-pass-mode", c, to_v6_host().flags(tcpflag::kAck).ack(5).build());
  handler_seed("v4-rst", base, to_v4_host().flags(tcpflag::kRst).build());
  handler_seed("v4-syn-ack", base, to_v4_host().flags(tcpflag::kSyn | tcpflag::kAck).build());
  handler_seed("v4-no-flags", base, to_v4_host().flags(0).build());
  Bytes bad_sum = syn4;
  bad_sum[14 + 20 + 16] ^= 0x01;
  handler_seed("v4-syn-bad-checksum", base, bad_sum);
  c = base;
  c.headroom = 0;
  handler_seed("v4-syn-no-room-for-synack", c, to_v4_host().build());
  handler_seed("v4-unknown-host", base,
               v4().linux_syn_options(1460, 1, 7).build());  // 192.0.2.80 is not protected
  Bytes arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  handler_seed("arp", base, arp);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <corpus dir, e.g. tests/fuzz/corpus> [target...]\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  // Optional target names after the directory: only those (channel seeds carry random nonces,
  // so regenerating everything rewrites files whose coverage did not change).
  const std::vector<std::pair<std::string, void (*)()>> targets = {
      {"frame", frame_seeds},     {"cookie", cookie_seeds},
      {"secrets", secrets_seeds}, {"channel", channel_seeds},
      {"daemon_handler", daemon_handler_seeds}};
  try {
    for (const auto& [name, write_seeds] : targets) {
      bool wanted = argc == 2;
      for (int i = 2; i < argc; ++i) wanted |= name == argv[i];
      if (wanted) write_seeds();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", e.what());
    return 1;
  }
  std::printf("wrote %zu seed files under %s\n", g_written, g_root.c_str());
  return 0;
}
