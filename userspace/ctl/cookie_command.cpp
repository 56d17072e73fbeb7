// `synwardenctl cookie synack` and `synwardenctl cookie check`: run the cookie engine on a host's
// secrets file and print what the host's kernel would send / decide, as one JSON object.
//
// Time: the file's clock sample is taken as current at the file's own mono_ms, so without
// --now-mono-ms the output is a pure function of the file and the arguments. --now-mono-ms is a
// time on that same clock (the host's CLOCK_MONOTONIC in ms). By default the firewall's safety
// margins apply (the count and TSval it would really use); --exact-clock drops them to reproduce
// what the host itself sends at that instant.
//
// --datapath xdp asks synwarden's XDP program the same question (xdp_cookie_runner.h) and prints
// the same JSON from what the program answered; the default (afxdp) runs the C++ engine that the
// AF_XDP workers run.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>

#include "cli_args.h"
#include "commands.h"
#include "synwarden/clock.h"
#include "synwarden/cookie.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/secrets.h"
#include "synwarden/synack_plan.h"
#include "synwarden/synack_planner.h"
#include "synwarden/tcp_timestamp.h"
#include "xdp_cookie_runner.h"

namespace synwarden::ctl {
namespace {

using json = nlohmann::ordered_json;  // keeps keys in the order written

struct CommonArgs {
  std::string secrets;
  std::string src;
  std::string dst;
  std::string now_ms;
  bool exact_clock = false;
  std::string datapath = "afxdp";
};

void add_common_options(CLI::App* cmd, CommonArgs& a) {
  cmd->add_option("--secrets", a.secrets, "The host's secrets JSON file (the agent's format)")
      ->required();
  cmd->add_option("--src", a.src, "The client: IPv4:PORT or [IPv6]:PORT")->required();
  cmd->add_option("--dst", a.dst, "The protected host: IPv4:PORT or [IPv6]:PORT")->required();
  cmd->add_option("--now-mono-ms", a.now_ms,
                  "Evaluate at this host CLOCK_MONOTONIC time in ms (default: the file's mono_ms)");
  cmd->add_flag("--exact-clock", a.exact_clock,
                "Use the host's clocks without the firewall's safety margins");
  cmd->add_option("--datapath", a.datapath,
                  "afxdp: the C++ engine of the AF_XDP workers (default); xdp: run synwarden's XDP "
                  "program on a frame built from the arguments (BPF_PROG_TEST_RUN, root)")
      ->check(CLI::IsMember({"afxdp", "xdp"}));
}

// The secrets, the clock reading to use, and the connection, resolved from the common options.
struct Context {
  HostSecrets secrets;
  ClockReading clock;
  Endpoint client;
  Endpoint host;
  uint64_t now_ms = 0;  // the host CLOCK_MONOTONIC instant evaluated
  ClockSafety safety;
  bool xdp = false;

  XdpQuery xdp_query() const { return XdpQuery{secrets, safety, now_ms, client, host}; }
};

Context resolve(const CommonArgs& a) {
  Context c;
  c.xdp = a.datapath == "xdp";
  if (c.xdp) XdpCookieRunner::require_privileges();
  c.client = parse_endpoint("--src", a.src);
  c.host = parse_endpoint("--dst", a.dst);
  if (c.client.address.is_v6() != c.host.address.is_v6()) {
    throw CLI::ValidationError("--src/--dst", "both endpoints must be IPv4 or both IPv6");
  }
  c.secrets = load_secrets_file(a.secrets);
  c.now_ms = a.now_ms.empty() ? c.secrets.clock.mono_ms
                              : parse_unsigned("--now-mono-ms", a.now_ms, UINT64_MAX);
  c.safety = a.exact_clock ? kExactClock : ClockSafety{};
  const HostClock clock(c.secrets.clock, c.secrets.clock.mono_ms, c.safety);
  c.clock = clock.at(c.now_ms);
  return c;
}

Ipv4Flow flow4(const Context& c) {
  Ipv4Flow f;
  f.client_addr = load_raw32(c.client.address.bytes().data());
  f.host_addr = load_raw32(c.host.address.bytes().data());
  f.client_port = to_be16(c.client.port);
  f.host_port = to_be16(c.host.port);
  return f;
}

Ipv6Flow flow6(const Context& c) {
  Ipv6Flow f;
  f.client_addr = c.client.address.bytes();
  f.host_addr = c.host.address.bytes();
  f.client_port = to_be16(c.client.port);
  f.host_port = to_be16(c.host.port);
  return f;
}

// Calls fn(flow) with the connection as an Ipv4Flow or Ipv6Flow.
template <typename Fn>
auto with_flow(const Context& c, Fn&& fn) {
  return c.client.address.is_v6() ? fn(flow6(c)) : fn(flow4(c));
}

// The SYN-ACK's TCP options as written on the wire, one object each, in order.
json describe_options(const uint8_t* p, size_t len) {
  json list = json::array();
  size_t i = 0;
  while (i < len) {
    const uint8_t kind = p[i];
    if (kind == 0) {  // EOL: the rest is padding
      list.push_back({{"kind", "eol"}});
      break;
    }
    if (kind == 1) {
      list.push_back({{"kind", "nop"}});
      ++i;
      continue;
    }
    const size_t olen = i + 1 < len ? p[i + 1] : 0;
    if (olen < 2 || i + olen > len) {
      list.push_back({{"kind", "malformed"}, {"offset", i}});
      break;
    }
    const uint8_t* v = p + i + 2;
    if (kind == 2 && olen == 4) {
      list.push_back({{"kind", "mss"}, {"value", load_be16(v)}});
    } else if (kind == 3 && olen == 3) {
      list.push_back({{"kind", "wscale"}, {"value", v[0]}});
    } else if (kind == 4 && olen == 2) {
      list.push_back({{"kind", "sack_permitted"}});
    } else if (kind == 8 && olen == 10) {
      list.push_back({{"kind", "timestamp"}, {"tsval", load_be32(v)}, {"tsecr", load_be32(v + 4)}});
    } else {
      list.push_back({{"kind", "unknown"}, {"type", kind}, {"length", olen}});
    }
    i += olen;
  }
  return list;
}

void add_synack(CLI::App& cookie) {
  struct Args {
    CommonArgs common;
    std::string isn, mss, wscale, tsval;
    bool sack = false;
    bool ecn = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = cookie.add_subcommand(
      "synack", "Print the cookie SYN-ACK the host would send for a SYN (JSON)");
  add_common_options(cmd, args->common);
  cmd->add_option("--isn", args->isn, "The SYN's sequence number")->required();
  cmd->add_option("--mss", args->mss, "The SYN's MSS option (omit: no MSS option)");
  cmd->add_option("--wscale", args->wscale, "The SYN's window scale option (omit: none)");
  cmd->add_flag("--sack", args->sack, "The SYN offered SACK");
  cmd->add_option("--tsval", args->tsval, "The SYN's timestamp TSval (omit: no timestamps)");
  cmd->add_flag("--ecn", args->ecn, "The SYN asked for ECN (ECE and CWR set)");

  cmd->callback([args] {
    const Context c = resolve(args->common);
    const auto isn = static_cast<uint32_t>(parse_unsigned("--isn", args->isn, UINT32_MAX));
    SynOptions syn;
    if (!args->mss.empty()) {
      syn.has_mss = true;
      syn.mss = static_cast<uint16_t>(parse_unsigned("--mss", args->mss, 65535));
    }
    if (!args->wscale.empty()) {
      syn.has_wscale = true;
      syn.wscale = static_cast<uint8_t>(parse_unsigned("--wscale", args->wscale, 255));
    }
    syn.sack_permitted = args->sack;
    if (!args->tsval.empty()) {
      syn.has_timestamp = true;
      syn.tsval = static_cast<uint32_t>(parse_unsigned("--tsval", args->tsval, UINT32_MAX));
    }
    syn.ece_cwr = args->ecn;

    SynAckPlan plan;
    uint32_t ts_off = 0;
    uint8_t options[kMaxTcpOptionBytes] = {};
    size_t options_len = 0;
    if (c.xdp) {
      XdpCookieRunner xdp(c.xdp_query());
      const XdpSynAck answer = xdp.synack(isn, syn);
      plan = answer.plan;
      ts_off = answer.ts_off;
      options_len = std::min(answer.options.size(), sizeof options);
      std::memcpy(options, answer.options.data(), options_len);
    } else {
      std::tie(plan, ts_off) = with_flow(c, [&](const auto& flow) {
        const SynAckPlan p = plan_synack(c.secrets, c.clock, flow, isn, syn);
        const uint32_t off = host_ts_off(c.secrets.ts_offset, c.secrets.ts_key, flow,
                                         c.secrets.sysctls.tcp_timestamps);
        return std::pair{p, off};
      });
      options_len = write_synack_options(plan, options);
    }
    const auto& table = c.client.address.is_v6() ? kMssTableV6 : kMssTableV4;

    json flags = json::array({"SYN", "ACK"});
    if (plan.ece) flags.push_back("ECE");
    json out = {
        {"family", c.client.address.is_v6() ? "ipv6" : "ipv4"},
        {"seq", plan.seq},
        {"ack", plan.ack},
        {"flags", flags},
        {"window", plan.window},
        {"mss", plan.mss},
        {"mss_index", plan.mss_index},
        {"mss_encoded", table[plan.mss_index]},
        {"tsval", plan.has_timestamp ? json(plan.tsval) : json(nullptr)},
        {"tsecr", plan.has_timestamp ? json(plan.tsecr) : json(nullptr)},
        {"ts_off", plan.has_timestamp ? json(ts_off) : json(nullptr)},
        {"options", describe_options(options, options_len)},
        {"cookie_count", c.clock.cookie_count},
        {"host_ms", c.clock.tcp_ms},
    };
    std::cout << out.dump() << "\n";
  });
}

void add_check(CLI::App& cookie) {
  struct Args {
    CommonArgs common;
    std::string seq, ack, tsecr;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = cookie.add_subcommand(
      "check", "Print whether the host would accept an ACK as a cookie, and its options (JSON)");
  add_common_options(cmd, args->common);
  cmd->add_option("--seq", args->seq, "The ACK's sequence number")->required();
  cmd->add_option("--ack", args->ack, "The ACK's acknowledgement number")->required();
  cmd->add_option("--tsecr", args->tsecr, "The ACK's timestamp TSecr (omit: no timestamps)");

  cmd->callback([args] {
    const Context c = resolve(args->common);
    AckSegment ack;
    ack.seq = static_cast<uint32_t>(parse_unsigned("--seq", args->seq, UINT32_MAX));
    ack.ack = static_cast<uint32_t>(parse_unsigned("--ack", args->ack, UINT32_MAX));
    if (!args->tsecr.empty()) {
      ack.has_timestamp = true;
      ack.tsecr = static_cast<uint32_t>(parse_unsigned("--tsecr", args->tsecr, UINT32_MAX));
    }
    const AckVerdict v =
        c.xdp ? XdpCookieRunner(c.xdp_query()).check(ack)
              : with_flow(c, [&](const auto& flow) { return check_ack(c.secrets, c.clock, flow, ack); });
    const bool ok = v.valid();
    json out = {
        {"valid", ok},
        {"reason", ack_status_name(v.status)},
        {"mss", ok ? json(v.mss) : json(nullptr)},
        {"wscale", ok && v.wscale_ok ? json(v.snd_wscale) : json(nullptr)},
        {"sack", ok && v.sack_ok},
        {"ecn", ok && v.ecn_ok},
        {"timestamps", ok && v.tstamp_ok},
        {"ts_off", ok ? json(v.ts_off) : json(nullptr)},
        {"cookie_count", c.clock.cookie_count},
    };
    std::cout << out.dump() << "\n";
  });
}

}  // namespace

void add_cookie_commands(CLI::App& app) {
  CLI::App* cookie = app.add_subcommand(
      "cookie", "Compute or check SYN cookies from a host's secrets file, as its kernel would");
  cookie->require_subcommand(1);
  add_synack(*cookie);
  add_check(*cookie);
}

}  // namespace synwarden::ctl
