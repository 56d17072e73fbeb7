// Specification of the daemon's metrics: the workers count every SYN/ACK decision per protected
// host (each worker in its own cache line), the counts survive slot reuse as Prometheus counters
// must, and GET /metrics is valid Prometheus text exposition (HELP/TYPE once per family before
// its samples, counters named *_total, escaped labels) with the documented names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "metrics_host_counters.h"
#include "metrics_prometheus.h"
#include "metrics_sample.h"
#include "packet_handler.h"
#include "synwarden/packet_builder.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;

size_t idx(HostCounter c) { return static_cast<size_t>(c); }

TEST(HostCounters, SlotsStartAtZeroEvenWhenReusedAndSumAllWorkers) {
  HostCounters counters(2, 4);
  const uint32_t a = counters.acquire();
  const uint32_t b = counters.acquire();
  EXPECT_NE(a, b);
  counters.area(0).bump(a, HostCounter::kSynReceived);
  counters.area(1).bump(a, HostCounter::kSynReceived);
  counters.area(1).bump(b, HostCounter::kDropped);
  EXPECT_EQ(counters.read(a)[idx(HostCounter::kSynReceived)], 2u) << "summed over workers";
  EXPECT_EQ(counters.read(b)[idx(HostCounter::kSynReceived)], 0u) << "slots are separate";
  counters.release(a);
  const uint32_t c = counters.acquire();
  EXPECT_EQ(c, a) << "the freed slot is reused";
  EXPECT_EQ(counters.read(c)[idx(HostCounter::kSynReceived)], 0u)
      << "a new host's counters start at zero, not at the old host's count";
  counters.area(0).bump(c, HostCounter::kSynReceived);
  EXPECT_EQ(counters.read(c)[idx(HostCounter::kSynReceived)], 1u);
  counters.acquire();
  counters.acquire();
  EXPECT_THROW(counters.acquire(), std::length_error);
}

// Datapath "xdp": the XDP program's per-host counts (ExternalCounts) are added to the workers',
// and a reused slot starts at zero for them too.
TEST(HostCounters, ExternalCountsAddToTheWorkersAndAreBaselinedOnReuse) {
  std::map<uint32_t, HostCounterValues> xdp;
  HostCounters counters(1, 4, [&xdp](uint32_t slot) { return xdp[slot]; });
  const uint32_t a = counters.acquire();
  xdp[a][idx(HostCounter::kSynAck)] = 5;
  counters.area(0).bump(a, HostCounter::kSynAck);
  EXPECT_EQ(counters.read(a)[idx(HostCounter::kSynAck)], 6u) << "XDP's 5 plus the worker's 1";
  counters.release(a);
  const uint32_t b = counters.acquire();
  ASSERT_EQ(b, a);
  EXPECT_EQ(counters.read(b)[idx(HostCounter::kSynAck)], 0u) << "the old host's XDP counts";
  xdp[b][idx(HostCounter::kSynAck)] = 7;
  EXPECT_EQ(counters.read(b)[idx(HostCounter::kSynAck)], 2u);
}

TEST(HostCounters, OutOfRangeSlotsAreIgnoredNotWrittenPastTheArea) {
  HostCounterArea area(2);
  area.bump(2, HostCounter::kSynAck);
  area.bump(kNoCounterSlot, HostCounter::kSynAck);
  EXPECT_EQ(area.read(0, HostCounter::kSynAck) + area.read(1, HostCounter::kSynAck), 0u);
}

// The handler counts the host's frames in its slot, once per frame, by outcome.
TEST(HostCounters, TheWorkerCountsEachFrameForItsHost) {
  const MacAddress client{0x02, 0x53, 0x57, 0, 0, 0x01};
  const MacAddress firewall{0x02, 0x53, 0x57, 0, 0, 0x03};
  HostSecrets secrets;
  secrets.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
  secrets.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
  secrets.ts_key = SipKey{9, 10};
  secrets.clock = HostClockSample{4'300'000'000ull, 250, 9'000'000};
  HostEntry protected_host;
  protected_host.address = *IpAddress::parse("192.0.2.10");
  protected_host.keys.emplace(HostKeys{secrets, HostClock(secrets.clock, 5'000'000)});
  protected_host.counter_slot = 3;
  HostEntry pass_host;
  pass_host.address = *IpAddress::parse("192.0.2.11");
  pass_host.protection = false;
  pass_host.counter_slot = 1;
  const Snapshot snapshot({protected_host, pass_host}, firewall, 1);

  struct NoFlows : FlowSink {
    bool insert(const sw_flow_key&) noexcept override { return true; }
  } flows;
  WorkerCounters worker;
  HostCounterArea area(4);
  HandlerSettings settings;
  settings.host_counters = &area;
  PacketHandler handler(settings, worker, flows);
  handler.begin_batch(snapshot, 5'001'000ull * 1'000'000);
  const auto run = [&](FrameBuilder b) {
    std::vector<uint8_t> frame = b.build();
    uint32_t len = static_cast<uint32_t>(frame.size());
    frame.resize(2048);
    return handler.handle(frame.data(), len, 2048);
  };
  const auto to = [&](const char* dst) {
    FrameBuilder b;
    b.macs(client, firewall).ipv4("192.0.2.1", dst).ports(40000, 8080).seq(1000);
    return b;
  };
  EXPECT_EQ(run(to("192.0.2.10").flags(tcpflag::kSyn).linux_syn_options(1460, 7, 7)),
            FrameAction::kTransmit);
  EXPECT_EQ(run(to("192.0.2.10").flags(tcpflag::kAck).ack(12345)), FrameAction::kDrop);
  EXPECT_EQ(run(to("192.0.2.10").flags(tcpflag::kRst)), FrameAction::kDrop);
  EXPECT_EQ(run(to("192.0.2.11").flags(tcpflag::kSyn).linux_syn_options(1460, 7, 7)),
            FrameAction::kTransmit);
  const auto read = [&](uint32_t slot, HostCounter c) { return area.read(slot, c); };
  EXPECT_EQ(read(3, HostCounter::kSynReceived), 1u);
  EXPECT_EQ(read(3, HostCounter::kSynAck), 1u);
  EXPECT_EQ(read(3, HostCounter::kAckReceived), 1u);
  EXPECT_EQ(read(3, HostCounter::kAckInvalid), 1u) << "a wrong cookie is an invalid ACK";
  EXPECT_EQ(read(3, HostCounter::kDropped), 1u) << "the RST of no known flow";
  EXPECT_EQ(read(3, HostCounter::kForwarded), 0u);
  EXPECT_EQ(read(1, HostCounter::kForwarded), 1u) << "pass mode forwards, counted for its host";
  EXPECT_EQ(read(1, HostCounter::kSynAck), 0u);
  // The one pairing table (counter_pairs.h): each host count is the sum of the worker counters
  // paired with it, so neither family can count a decision the other missed.
  HostCounterValues from_workers{};
#define SW_SUM_PAIRED(field, host) \
  from_workers[idx(HostCounter::host)] += worker.field.load(std::memory_order_relaxed);
  SW_PAIRED_COUNTERS(SW_SUM_PAIRED)
#undef SW_SUM_PAIRED
  for (size_t c = 0; c < kHostCounterCount; ++c) {
    const auto counter = static_cast<HostCounter>(c);
    EXPECT_EQ(read(1, counter) + read(3, counter), from_workers[c]) << host_counter_label(counter);
  }
}

StatsSample sample() {
  StatsSample s;
  s.taken_at_ms = 10'000;
  s.start_unix_ms = 1'700'000'000'000;
  s.uptime_ms = 5'000;
  s.snapshot_version = 7;
  s.reloads_ok = 2;
  s.reloads_failed = 1;
  s.last_reload_ok = false;
  HostSample a;
  a.address = "192.0.2.10";
  a.protection = true;
  a.mode = "auto";
  a.effective_mode = "protect";
  a.auto_syn_pps = 48000;
  a.mode_changes = {{"protect", 3}, {"pass", 2}};
  a.secrets = {"file", "/etc/s.json", "fresh", 1500, ""};
  a.counters[idx(HostCounter::kSynReceived)] = 100;
  a.counters[idx(HostCounter::kSynAck)] = 90;
  a.counters[idx(HostCounter::kRateLimited)] = 10;
  HostSample b;
  b.address = "2001:db8::10";
  b.mode = "monitor";
  b.effective_mode = "monitor";
  b.secrets = {"agent", "[2001:db8::10]:7070", "no_secrets", std::nullopt, "agent \"x\"\nsilent"};
  s.hosts = {a, b};
  AgentSample agent;
  agent.host = "2001:db8::10";
  agent.agent = "[2001:db8::10]:7070";
  agent.state = "no_secrets";
  agent.requests_sent = 30;
  agent.timeouts = 30;
  agent.replies = {{"ok", 0}, {"wrong_key", 2}};
  s.agents = {agent};
  WorkerSample w;
  w.queue = 1;
  w.cpu = 3;
  w.mode = "driver copy";
  w.counters.assign(kWorkerCounterCount, 0);
  w.counters[0] = 555;  // rx_packets
  xdp_statistics xs{};
  xs.rx_dropped = 4;
  w.xsk = xs;
  s.workers = {w};
  dataplane::CounterSnapshot xdp;
  xdp.by_reason[SW_R_FWD_ESTABLISHED] = {1234, 99999};
  xdp.would[SW_R_DROP_COOKIE_BAD] = 77;
  s.xdp = xdp;
  s.established_flows = 50;
  return s;
}

// A strict reader of the text format: returns family -> type, and fails the test on any line
// that breaks the rules.
std::map<std::string, std::string> check_exposition(const std::string& text) {
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::string current;
  std::istringstream in(text);
  std::string line;
  const std::regex sample_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? (-?[0-9.e+]+)$)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice for " << name;
      current = name;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      const std::string type = rest.substr(rest.find(' ') + 1);
      EXPECT_EQ(name, current) << "TYPE right after its HELP";
      EXPECT_TRUE(types.emplace(name, type).second) << "family written twice: " << name;
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      EXPECT_EQ(type == "counter", name.size() > 6 && name.substr(name.size() - 6) == "_total")
          << "counters, and only counters, end in _total: " << name;
    } else if (std::regex_match(line, m, sample_re)) {
      EXPECT_EQ(m[1].str(), current) << "sample outside its family block: " << line;
    } else {
      ADD_FAILURE() << "not exposition format: " << line;
    }
  }
  return types;
}

TEST(Prometheus, TheExpositionIsWellFormedAndUsesTheDocumentedNames) {
  const std::string text = render_prometheus(sample());
  const auto types = check_exposition(text);
  EXPECT_EQ(types.at("synwarden_packets_total"), "counter");
  EXPECT_EQ(types.at("synwarden_host_received_total"), "counter");
  EXPECT_EQ(types.at("synwarden_xdp_packets_total"), "counter");
  EXPECT_EQ(types.at("synwarden_established_flows"), "gauge");
  EXPECT_EQ(types.at("synwarden_host_protection"), "gauge");
  EXPECT_EQ(types.at("synwarden_worker_rx_packets_total"), "counter");
  EXPECT_EQ(types.at("synwarden_config_reloads_total"), "counter");
  EXPECT_THAT(text, HasSubstr("synwarden_packets_total{host=\"192.0.2.10\",reason=\"synack\"} 90\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_packets_total{host=\"192.0.2.10\",reason=\"rate_limited\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_received_total{host=\"192.0.2.10\",kind=\"syn\"} 100\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_protection{host=\"2001:db8::10\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_secrets_state{host=\"2001:db8::10\",source=\"agent\","
                              "state=\"no_secrets\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_secrets_age_seconds{host=\"192.0.2.10\"} 1.5\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("synwarden_host_secrets_age_seconds{host=\"2001:db8::10\"}")))
      << "no age while there are no secrets";
  EXPECT_THAT(text, HasSubstr("synwarden_xdp_packets_total{reason=\"fwd_established\"} 1234\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_xdp_bytes_total{reason=\"fwd_established\"} 99999\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("reason=\"none\""))) << "no decision is no reason";
  EXPECT_THAT(text, HasSubstr("synwarden_worker_rx_packets_total{queue=\"1\"} 555\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_worker_info{queue=\"1\",cpu=\"3\",mode=\"driver copy\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_xsk_rx_dropped_total{queue=\"1\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_established_flows 50\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_agent_timeouts_total{host=\"2001:db8::10\","
                              "agent=\"[2001:db8::10]:7070\"} 30\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_agent_replies_total{host=\"2001:db8::10\","
                              "result=\"wrong_key\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_config_reloads_total{result=\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_config_last_reload_successful 0\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_snapshots_published_total 7\n"));
  // Host modes (docs/modes.md).
  EXPECT_EQ(types.at("synwarden_host_mode"), "gauge");
  EXPECT_EQ(types.at("synwarden_host_mode_changes_total"), "counter");
  EXPECT_THAT(text, HasSubstr("synwarden_host_mode{host=\"192.0.2.10\",mode=\"auto\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_mode{host=\"192.0.2.10\",mode=\"protect\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_mode{host=\"2001:db8::10\",mode=\"monitor\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_mode_changes_total{host=\"192.0.2.10\",to=\"protect\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_mode_changes_total{host=\"192.0.2.10\",to=\"pass\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_mode_changes_total{host=\"2001:db8::10\",to=\"monitor\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_host_auto_syn_rate{host=\"192.0.2.10\"} 48000\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("synwarden_host_auto_syn_rate{host=\"2001:db8::10\"}")));
  EXPECT_THAT(text, HasSubstr("synwarden_xdp_monitor_would_total{reason=\"drop_cookie_bad\"} 77\n"));
}

TEST(Prometheus, LabelValuesAreEscaped) {
  EXPECT_EQ(prometheus_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  PrometheusWriter w;
  w.family("x_total", PrometheusWriter::Type::kCounter, "help");
  w.sample({{"k", "v\"1"}}, uint64_t{3});
  EXPECT_EQ(w.text(), "# HELP x_total help\n# TYPE x_total counter\nx_total{k=\"v\\\"1\"} 3\n");
}

TEST(Prometheus, TheWriterRefusesInconsistentFamilies) {
  PrometheusWriter w;
  EXPECT_THROW(w.family("requests", PrometheusWriter::Type::kCounter, "h"), std::logic_error);
  EXPECT_THROW(w.family("queue_total", PrometheusWriter::Type::kGauge, "h"), std::logic_error);
  w.family("a_total", PrometheusWriter::Type::kCounter, "h");
  EXPECT_THROW(w.family("a_total", PrometheusWriter::Type::kCounter, "h"), std::logic_error);
}

// The shipped Grafana dashboard only queries metrics (and reason values) the daemon exports: a
// renamed metric breaks this test, not a panel on an operator's screen during an attack.
TEST(Prometheus, TheGrafanaDashboardQueriesOnlyExportedMetrics) {
  std::ifstream in(SYNWARDEN_DAEMON_DIR "/../../packaging/grafana/synwarden-dashboard.json");
  ASSERT_TRUE(in) << "packaging/grafana/synwarden-dashboard.json is missing";
  const nlohmann::json dashboard = nlohmann::json::parse(in);
  const std::string text = render_prometheus(sample());
  const auto families = check_exposition(text);
  std::vector<std::string> exprs;
  const std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      for (const auto& [key, value] : j.items()) {
        if (key == "expr" && value.is_string()) exprs.push_back(value.get<std::string>());
        walk(value);
      }
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(dashboard);
  ASSERT_GT(exprs.size(), 10u);
  const std::regex metric_re("synwarden_[a-z_]+");
  const std::regex reason_re("reason=~?\"([a-z_|]+)\"");
  for (const auto& expr : exprs) {
    for (std::sregex_iterator it(expr.begin(), expr.end(), metric_re), end; it != end; ++it) {
      EXPECT_EQ(families.count(it->str()), 1u) << it->str() << " in: " << expr;
    }
    if (expr.find("synwarden_packets_total") == std::string::npos) continue;
    for (std::sregex_iterator it(expr.begin(), expr.end(), reason_re), end; it != end; ++it) {
      std::stringstream reasons((*it)[1].str());
      for (std::string r; std::getline(reasons, r, '|');) {
        EXPECT_THAT(text, HasSubstr("reason=\"" + r + "\"")) << "reason " << r << " in: " << expr;
      }
    }
  }
}

TEST(StatsJson, CarriesPerHostCountersWorkerCountersAndXdpReasons) {
  const nlohmann::json j = stats_to_json(sample());
  EXPECT_EQ(j["taken_at_ms"], 10'000) << "clients compute rates from the daemon's own clock";
  EXPECT_EQ(j["hosts"][0]["counters"]["syn"], 100);
  EXPECT_EQ(j["hosts"][0]["counters"]["synack"], 90);
  EXPECT_EQ(j["hosts"][1]["secrets_state"], "no_secrets");
  EXPECT_EQ(j["workers"][0]["counters"]["rx_packets"], 555);
  EXPECT_EQ(j["workers"][0]["xsk"]["rx_dropped"], 4);
  EXPECT_EQ(j["xdp"]["packets"]["fwd_established"], 1234);
  EXPECT_EQ(j["established_flows"], 50);
  EXPECT_EQ(j["agents"][0]["timeouts"], 30);
  EXPECT_EQ(j["agents"][0]["replies"]["wrong_key"], 2);
  EXPECT_EQ(j["hosts"][0]["mode"], (nlohmann::json{{"configured", "auto"},
                                                   {"effective", "protect"},
                                                   {"changes", {{"pass", 2}, {"protect", 3}}},
                                                   {"syn_pps", 48000}}));
  EXPECT_EQ(j["xdp"]["monitor_would"], (nlohmann::json{{"drop_cookie_bad", 77}}));
  StatsSample broken = sample();
  broken.xdp.reset();
  broken.xdp_error = "reading sw_stats: Bad file descriptor";
  EXPECT_EQ(stats_to_json(broken)["xdp"]["error"], "reading sw_stats: Bad file descriptor");
}

}  // namespace
}  // namespace synwarden::daemon
