// sw_vm_agent_kmod (guest): the real synwarden-agent in kmod mode on Debian's stock kernel with
// the real synwarden_secrets module, seen from where the firewall sits.
//
//   1. The agent refuses a key file other users can read, and then leaves the gate alone.
//   2. Started with the operator's configuration (mode auto), it picks kmod on this pre-6.9
//      kernel and turns the module's acceptance gate on.
//   3. The firewall's own poller (synwarden/channel_poller.h) fetches the secrets over the
//      encrypted UDP channel: they are the module's keys, a clock sample taken between two reads
//      of the module's file, and the host's sysctls, window scale and MSS.
//   4. With tcp_syncookies=2 the kernel answers SYNs with its own cookies; the engine, fed with
//      the fetched secrets, must produce the same SYN-ACK frames byte for byte (oracle_replay.h).
//   5. With tcp_syncookies=1, a cookie ACK minted from the fetched secrets for a SYN the kernel
//      never saw is accepted (the agent holds the gate open), with the client's options.
//   6. The agent turns the gate back on when something turns it off; a poller with another key
//      gets nothing and the agent logs the rejection.
//   7. SIGTERM: the agent exits 0 and the gate is off again, so the next cookie ACK is reset.
//   8. The agent's log never contains key material.
//
// Topology: a TAP device (the configuration's interface) "on the wire" with the host's addresses;
// the agent listens on loopback. Prints one "agent: PASS|FAIL <check>" line per check, the
// agent's log as "agent| <line>", and "agent: N passed, M failed"; exits non-zero on any failure.
//
// Usage: sw_vm_agent_kmod --agent BIN --config FILE [--log FILE]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "guest_net.h"
#include "oracle_replay.h"
#include "oracle_syns.h"
#include "synwarden/channel_key.h"
#include "synwarden/channel_poller.h"
#include "synwarden/codec.h"
#include "synwarden/kmod_secrets.h"
#include "synwarden/packet_builder.h"

namespace sw = synwarden;
namespace vt = synwarden::vmtest;

namespace {

constexpr uint16_t kAcceptPort = 9090;   // a listener that never sent a cookie itself
constexpr unsigned kSynsPerFamily = 64;  // every option combination twice

unsigned g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what) {
  (ok ? g_passed : g_failed)++;
  std::cout << (ok ? "agent: PASS " : "agent: FAIL ") << what << std::endl;
}

struct AgentConfig {
  std::string listen, key_file, interface, kmod_file, gate_file;
};

AgentConfig read_agent_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  const nlohmann::json doc = nlohmann::json::parse(in);
  AgentConfig c;
  c.listen = doc.at("listen").get<std::string>();
  c.key_file = doc.at("key_file").get<std::string>();
  c.interface = doc.at("interfaces").at(0).get<std::string>();
  c.kmod_file = doc.value("kmod_file", std::string(sw::kKmodSecretsPath));
  c.gate_file = doc.value("kmod_gate_file", std::string(sw::kKmodGatePath));
  return c;
}

bool gate_on() { return sw::read_kmod_secrets().accept_cookies; }

bool wait_for_gate(bool on, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 50) {
    if (gate_on() == on) return true;
    ::usleep(50'000);
  }
  return false;
}

// Polls the agent the way the firewall does until valid secrets arrive or `timeout_ms` passes.
std::optional<sw::HostSecrets> poll_agent(const std::string& agent, sw::ChannelKey key,
                                          int timeout_ms, sw::SecretPollerStats& stats) {
  sw::SecretPollerOptions o;
  o.host = "guest";
  o.agent = agent;
  o.interval_ms = 300;
  o.reply_timeout_ms = 250;
  std::optional<sw::HostSecrets> got;
  sw::SecretPoller poller(std::move(o), std::move(key),
                          [&got](const sw::HostSecrets& s, uint64_t) { got = s; });
  const uint64_t deadline = sw::monotonic_ms() + static_cast<uint64_t>(timeout_ms);
  while (!got && sw::monotonic_ms() < deadline) {
    const uint64_t now = sw::monotonic_ms();
    const uint64_t next = std::min(poller.tick(now, sw::unix_time_ms()), deadline);
    pollfd p{poller.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(next > now ? next - now : 0)) > 0) {
      poller.on_readable(sw::monotonic_ms());
    }
  }
  stats = poller.stats();
  return got;
}

// The keys in the module's file, as the hex words it prints, to look for in logs.
std::vector<std::string> key_words(const std::string& kmod_file) {
  std::ifstream in(kmod_file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name, w;
    words >> name;
    if (name == "synwarden_secrets") continue;   // the version line
    while (words >> w) {
      if (w.size() == 32) out.push_back(w);
    }
  }
  if (out.size() < 3) throw std::runtime_error(kmod_file + ": fewer than 3 keys found");
  return out;
}

sw::UniqueFd listen_on(int family, const char* host, uint16_t port) {
  sw::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    ::inet_pton(AF_INET, host, &a->sin_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, host, &a->sin6_addr);
    len = sizeof *a;
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(fd.get(), 16) < 0)
    throw std::runtime_error(std::string("cannot listen on ") + host + ": " + std::strerror(errno));
  return fd;
}

struct CookieAckResult {
  bool accepted = false;
  bool reset = false;       // the host answered the ACK with a RST
  std::string tcp_info;     // of the accepted connection
};

// Plays firewall and client at once: a Linux-like SYN the host never sees, the engine's cookie
// SYN-ACK for it from `secrets` (at the firewall's biased clock reading), and the client's ACK to
// that SYN-ACK written to the host. Then: does the listener accept, or does the host reset?
CookieAckResult send_cookie_ack(const vt::TapDevice& tap, const sw::HostSecrets& secrets,
                                bool v6, uint16_t client_port, int listener) {
  const char* client = v6 ? "2001:db8:1::77" : "198.51.100.77";
  const char* host = v6 ? vt::kOracleHostV6[0] : vt::kOracleHostV4[0];
  const uint32_t isn = 0x5eed0000u + client_port;
  const uint32_t client_ts = 1000000u + client_port;
  sw::FrameBuilder syn_builder;
  syn_builder.macs(vt::kOraclePeerMac, tap.mac());
  if (v6) {
    syn_builder.ipv6(client, host);
  } else {
    syn_builder.ipv4(client, host);
  }
  syn_builder.ports(client_port, kAcceptPort).seq(isn).linux_syn_options(1460, client_ts, 7);
  const std::vector<uint8_t> syn_frame = syn_builder.build();
  sw::ParsedFrame syn;
  if (sw::parse_frame(syn_frame.data(), syn_frame.size(), syn) != sw::Verdict::kOk)
    throw std::logic_error("unparsable SYN");
  const sw::HostClock clock(secrets.clock, secrets.clock.mono_ms);   // production margins
  const sw::SynAckPlan plan = vt::plan_for_syn(secrets, clock.at(sw::monotonic_ms()), syn);

  sw::FrameBuilder ack;
  ack.macs(vt::kOraclePeerMac, tap.mac());
  if (v6) {
    ack.ipv6(client, host);
  } else {
    ack.ipv4(client, host);
  }
  ack.ports(client_port, kAcceptPort).seq(isn + 1).ack(plan.seq + 1).flags(sw::tcpflag::kAck)
      .window(502).nop().nop().timestamp(client_ts + 5, plan.tsval);
  const std::vector<uint8_t> ack_frame = ack.build();
  tap.send(ack_frame.data(), ack_frame.size());

  CookieAckResult r;
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 2000) > 0) {
    sw::UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    r.accepted = conn.get() >= 0;
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (r.accepted && ::getsockopt(conn.get(), IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
      r.tcp_info = "ts=" + std::to_string((ti.tcpi_options & TCPI_OPT_TIMESTAMPS) ? 1 : 0) +
                   " sack=" + std::to_string((ti.tcpi_options & TCPI_OPT_SACK) ? 1 : 0) +
                   " snd_wscale=" + std::to_string(ti.tcpi_snd_wscale) +
                   " rcv_wscale=" + std::to_string(ti.tcpi_rcv_wscale);
    }
  }
  // What the host sent back to the client's port, if anything (a RST when it refused).
  uint8_t buf[2048];
  for (size_t n; (n = tap.receive(buf, sizeof buf, r.accepted ? 0 : 500)) != 0;) {
    sw::ParsedFrame f;
    if (sw::parse_frame(buf, n, f) == sw::Verdict::kOk && f.dport == htons(client_port) &&
        (f.tcp_flags & sw::tcpflag::kRst))
      r.reset = true;
  }
  return r;
}

void run(const std::string& agent_bin, const std::string& config_path, const std::string& log) {
  const AgentConfig cfg = read_agent_config(config_path);
  vt::write_sysctl("net/ipv4/tcp_syncookies", "2");   // the kernel answers every SYN with a cookie
  vt::TapDevice tap(cfg.interface, 1500);
  vt::configure_oracle_tap(tap);
  vt::OracleListeners listeners;
  check(!gate_on(), "the gate is off before the agent starts");
  // jiffies start at INITIAL_JIFFIES = -300 s, and a listener that never overflowed has stamp 0:
  // tcp_synq_no_recent_overflow() then sees a "recent overflow" from uptime 299 s to 420 s, and
  // the gate would not matter. The gate checks below need an uptime outside that window.
  const uint64_t uptime_s = sw::monotonic_ns() / 1'000'000'000;
  check(uptime_s < 290, "uptime " + std::to_string(uptime_s) +
                            " s is before the 299-420 s window in which the kernel takes a fresh "
                            "listener for one that overflowed (the gate could not be judged)");

  // 1. A key that others can read is refused before anything else happens.
  std::string refused_log;
  ::chmod(cfg.key_file.c_str(), 0644);
  {
    vt::ChildProcess refused({agent_bin, "run", "--config", config_path}, log + ".refused");
    const std::optional<int> status = refused.wait_exit(20000);
    refused_log = refused.log();
    const std::string& out = refused_log;
    check(status && WIFEXITED(*status) && WEXITSTATUS(*status) != 0 &&
              out.find("chmod") != std::string::npos,
          "a key file readable by others is refused with the chmod to run (" +
              (status ? vt::describe_wait_status(*status) : "still running") + ")");
    check(!gate_on(), "after that refusal the gate is still off");
  }
  ::chmod(cfg.key_file.c_str(), 0600);

  // 2. Start.
  vt::ChildProcess agent({agent_bin, "run", "--config", config_path}, log);
  const bool serving = agent.wait_for_log("serving secrets on", 30000);
  check(serving, "the agent starts and serves on " + cfg.listen);
  check(agent.log().find("auto chose kmod") != std::string::npos,
        "mode auto chose kmod on this kernel (no bpf_sk_assign_tcp_reqsk, module present)");
  check(wait_for_gate(true, 2000), "the agent turned the module's gate on");

  // 3. Fetch as the firewall does; bracket the agent's clock sample with two reads of the file.
  const sw::KmodSecrets before = sw::read_kmod_secrets(cfg.kmod_file);
  sw::SecretPollerStats stats;
  const std::optional<sw::HostSecrets> s =
      poll_agent(cfg.listen, sw::ChannelKey::load_file(cfg.key_file), 10000, stats);
  const sw::KmodSecrets after = sw::read_kmod_secrets(cfg.kmod_file);
  check(s.has_value(), "the firewall's poller got valid secrets over the encrypted channel (" +
                           std::to_string(stats.requests_sent) + " request(s), " +
                           std::to_string(stats.timeouts) + " timeout(s))");
  if (!s) return;
  check(s->syncookie == before.syncookie && s->syncookie6 == before.syncookie6,
        "the served cookie keys are the module's syncookie_secret and syncookie6_secret");
  check(s->ts_offset == before.ts_offset && s->ts_key == before.ts_key,
        "the served timestamp-offset key is the module's " +
            std::string(before.ts_offset == sw::TsOffsetMode::kPerConnection ? "net_secret"
                                                                             : "ts_secret") +
            " (" + std::string(sw::ts_offset_name(s->ts_offset)) + ")");
  check(s->clock.hz == before.hz && before.jiffies <= s->clock.jiffies &&
            s->clock.jiffies <= after.jiffies && before.mono_ms <= s->clock.mono_ms &&
            s->clock.mono_ms <= after.mono_ms,
        "the served clock sample (jiffies " + std::to_string(s->clock.jiffies) + ", mono_ms " +
            std::to_string(s->clock.mono_ms) + ") lies between two reads of the module's file");
  check(s->sysctls == sw::read_tcp_sysctls() && s->rcv_wscale == sw::read_rcv_wscale(),
        "the served sysctls and window scale (" + std::to_string(s->rcv_wscale) +
            ") are the host's");
  check(s->mss == 1460 && s->mss6 == 1440,
        "the served MSS " + std::to_string(s->mss) + "/" + std::to_string(s->mss6) +
            " is what the host advertises over " + cfg.interface + " (MTU 1500)");

  // 4. The kernel's own cookie SYN-ACKs, reproduced from the served secrets.
  std::mt19937_64 rng(std::random_device{}());
  unsigned exchanges = 0, matched = 0, unanswered = 0;
  std::string first_mismatch;
  for (int fam = 0; fam < 2; ++fam) {
    for (unsigned i = 0; i < kSynsPerFamily; ++i) {
      const auto r = vt::exchange_syn(tap, vt::make_oracle_syn(tap.mac(), fam == 1, i, false, rng));
      if (!r) {
        ++unanswered;
        continue;
      }
      ++exchanges;
      const vt::ReplayOutcome o = vt::replay_exchange(*s, *r);
      matched += o.matched ? 1 : 0;
      if (!o.matched && first_mismatch.empty()) first_mismatch = "\n" + o.report;
    }
  }
  check(exchanges == 2 * kSynsPerFamily && matched == exchanges,
        "the engine fed with the served secrets reproduces the kernel's cookie SYN-ACKs: " +
            std::to_string(matched) + "/" + std::to_string(exchanges) + " identical, " +
            std::to_string(unanswered) + " unanswered (IPv4 and IPv6, all option combinations)" +
            first_mismatch);

  // 5. Acceptance of the firewall's cookies while the agent holds the gate.
  vt::write_sysctl("net/ipv4/tcp_syncookies", "1");   // cookies allowed, never sent by the host
  sw::UniqueFd l4 = listen_on(AF_INET, vt::kOracleHostV4[0], kAcceptPort);
  sw::UniqueFd l6 = listen_on(AF_INET6, vt::kOracleHostV6[0], kAcceptPort);
  const std::string want_info = "ts=1 sack=1 snd_wscale=7 rcv_wscale=" +
                                std::to_string(s->rcv_wscale);
  for (const bool v6 : {false, true}) {
    const CookieAckResult r =
        send_cookie_ack(tap, *s, v6, v6 ? 40006 : 40004, v6 ? l6.get() : l4.get());
    check(r.accepted && r.tcp_info == want_info,
          std::string(v6 ? "IPv6" : "IPv4") + ": the host accepts a cookie ACK minted from the "
          "served secrets for a SYN it never saw (" + (r.accepted ? r.tcp_info : "not accepted") +
          ", expected " + want_info + ")");
  }

  // 6. The gate is kept on; a poller with another key gets nothing.
  vt::write_file(cfg.gate_file, "0");
  check(wait_for_gate(true, 3000) && agent.wait_for_log("turned it back on", 1000),
        "the agent turns the gate back on within its 1 s upkeep after it was switched off");
  sw::SecretPollerStats wrong_stats;
  const bool wrong_key_answered =
      poll_agent(cfg.listen, sw::ChannelKey::generate(), 1200, wrong_stats).has_value();
  check(!wrong_key_answered && wrong_stats.requests_sent >= 1 &&
            agent.wait_for_log("as wrong_key", 2000),
        "a poller with another key gets no reply and the agent logs the rejection");

  // 7. Stop.
  const std::optional<int> status = agent.stop(SIGTERM, 10000);
  check(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0,
        "SIGTERM stops the agent cleanly (" + (status ? vt::describe_wait_status(*status)
                                                      : std::string("still running")) + ")");
  check(!gate_on() && agent.log().find("off again") != std::string::npos,
        "the agent restored the gate to off, as it found it");
  const uint64_t opened_before = sw::read_kmod_secrets().gate_opened;
  const CookieAckResult late = send_cookie_ack(tap, *s, false, 40008, l4.get());
  check(!late.accepted && late.reset && sw::read_kmod_secrets().gate_opened == opened_before,
        std::string("with the agent gone the host resets the next cookie ACK (") +
            (late.accepted ? "ACCEPTED" : late.reset ? "reset" : "no reset seen") + ")");

  // 8. Logs.
  const std::string text = agent.log() + "\n" + refused_log;
  bool leaked = false;
  for (const std::string& w : key_words(cfg.kmod_file)) leaked |= text.find(w) != std::string::npos;
  check(!leaked, "the agent's log carries none of the module's keys");
  std::istringstream lines(agent.log());
  for (std::string line; std::getline(lines, line);) std::cout << "agent| " << line << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string agent_bin, config, log = "/tmp/agent.log";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--agent") {
      agent_bin = argv[i + 1];
    } else if (opt == "--config") {
      config = argv[i + 1];
    } else if (opt == "--log") {
      log = argv[i + 1];
    } else {
      std::cerr << "sw_vm_agent_kmod: unknown option " << opt << "\n";
      return 2;
    }
  }
  if (agent_bin.empty() || config.empty()) {
    std::cerr << "usage: sw_vm_agent_kmod --agent BIN --config FILE [--log FILE]\n";
    return 2;
  }
  try {
    run(agent_bin, config, log);
  } catch (const std::exception& e) {
    check(false, std::string("setup: ") + e.what());
  }
  std::cout << "agent: " << g_passed << " passed, " << g_failed << " failed" << std::endl;
  return g_failed == 0 ? 0 : 1;
}
