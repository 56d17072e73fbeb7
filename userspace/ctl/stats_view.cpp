#include "stats_view.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "table.h"

namespace synwarden::ctl {

namespace {

uint64_t counter(const nlohmann::json& host, const char* name) {
  const auto it = host.find("counters");
  if (it == host.end() || !it->contains(name)) return 0;
  return (*it)[name].get<uint64_t>();
}

uint64_t xdp_packets(const nlohmann::json& stats, const std::string& reason) {
  const auto& xdp = stats.value("xdp", nlohmann::json::object());
  if (!xdp.contains("packets") || !xdp["packets"].contains(reason)) return 0;
  return xdp["packets"][reason].get<uint64_t>();
}

uint64_t xdp_drops(const nlohmann::json& stats) {
  uint64_t sum = 0;
  const auto& xdp = stats.value("xdp", nlohmann::json::object());
  if (!xdp.contains("packets")) return 0;
  for (const auto& [reason, value] : xdp["packets"].items()) {
    if (reason.rfind("drop_", 0) == 0) sum += value.get<uint64_t>();
  }
  return sum;
}

// Counters only grow; a smaller value means the daemon restarted between the samples.
double rate(uint64_t before, uint64_t after, double seconds) {
  return after >= before ? static_cast<double>(after - before) / seconds
                         : static_cast<double>(after) / seconds;
}

}  // namespace

TopView top_view(const nlohmann::json& before, const nlohmann::json& after) {
  const uint64_t t0 = before.value("taken_at_ms", uint64_t{0});
  const uint64_t t1 = after.value("taken_at_ms", uint64_t{0});
  if (t1 <= t0) throw std::runtime_error("the two /stats samples are not in time order");
  TopView view;
  view.interval_s = static_cast<double>(t1 - t0) / 1000.0;
  const double s = view.interval_s;
  std::map<std::string, nlohmann::json> old_hosts;
  for (const auto& h : before.value("hosts", nlohmann::json::array())) {
    old_hosts[h.value("address", "")] = h;
  }
  for (const auto& h : after.value("hosts", nlohmann::json::array())) {
    const auto it = old_hosts.find(h.value("address", ""));
    const nlohmann::json& old = it == old_hosts.end() ? nlohmann::json::object() : it->second;
    const auto r = [&](const char* name) { return rate(counter(old, name), counter(h, name), s); };
    HostRates hr;
    hr.address = h.value("address", "?");
    hr.protection = h.value("protection", false);
    hr.mode = mode_label(h);
    hr.secrets_state = h.value("secrets_state", "?");
    hr.syn = r("syn");
    hr.synack = r("synack");
    hr.ack_valid = r("ack_valid");
    hr.ack_invalid = r("ack_invalid");
    hr.forwarded = r("forwarded") + r("ack_valid");
    hr.dropped = r("dropped") + r("rate_limited") + r("shed");
    view.hosts.push_back(hr);
  }
  std::stable_sort(view.hosts.begin(), view.hosts.end(),
                   [](const HostRates& a, const HostRates& b) { return a.syn > b.syn; });
  const auto x = [&](const char* reason) {
    return rate(xdp_packets(before, reason), xdp_packets(after, reason), s);
  };
  view.xdp.fwd_established = x("fwd_established");
  view.xdp.fwd_learned = x("fwd_learned");
  view.xdp.fwd_pass_mode = x("fwd_pass_mode");
  view.xdp.xsk_syn = x("xsk_syn");
  view.xdp.xsk_ack = x("xsk_ack");
  view.xdp.dropped = rate(xdp_drops(before), xdp_drops(after), s);
  const auto flows = after.find("established_flows");
  if (flows != after.end() && flows->is_number()) view.established_flows = flows->get<uint64_t>();
  return view;
}

std::string mode_label(const nlohmann::json& h, const char* on, const char* off) {
  const auto m = h.find("mode");
  if (m == h.end() || !m->is_object()) return h.value("protection", false) ? on : off;
  const std::string configured = m->value("configured", "?");
  if (configured != "auto") return configured;
  return "auto:" + m->value("effective", std::string("?"));
}

nlohmann::json top_view_to_json(const TopView& v) {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& h : v.hosts) {
    hosts.push_back({{"address", h.address},
                     {"protection", h.protection},
                     {"mode", h.mode},
                     {"secrets_state", h.secrets_state},
                     {"syn_per_s", h.syn},
                     {"synack_per_s", h.synack},
                     {"ack_valid_per_s", h.ack_valid},
                     {"ack_invalid_per_s", h.ack_invalid},
                     {"forwarded_per_s", h.forwarded},
                     {"dropped_per_s", h.dropped}});
  }
  return {{"interval_s", v.interval_s},
          {"hosts", std::move(hosts)},
          {"xdp",
           {{"fwd_established_per_s", v.xdp.fwd_established},
            {"fwd_learned_per_s", v.xdp.fwd_learned},
            {"fwd_pass_mode_per_s", v.xdp.fwd_pass_mode},
            {"xsk_syn_per_s", v.xdp.xsk_syn},
            {"xsk_ack_per_s", v.xdp.xsk_ack},
            {"dropped_per_s", v.xdp.dropped}}},
          {"established_flows", v.established_flows}};
}

std::string render_top(const TopView& v) {
  char head[256];
  std::snprintf(head, sizeof head, "synwarden top: %zu host(s), %llu established flows, over %.1fs\n\n",
                v.hosts.size(), static_cast<unsigned long long>(v.established_flows), v.interval_s);
  Table t({"HOST", "MODE", "SECRETS", "SYN/s", "SYNACK/s", "ACK OK/s", "ACK BAD/s", "FWD/s",
           "DROP/s"},
          {false, false, false, true, true, true, true, true, true});
  for (const auto& h : v.hosts) {
    t.add_row({h.address, h.mode, h.secrets_state, format_rate(h.syn),
               format_rate(h.synack), format_rate(h.ack_valid), format_rate(h.ack_invalid),
               format_rate(h.forwarded), format_rate(h.dropped)});
  }
  char xdp[512];
  std::snprintf(xdp, sizeof xdp,
                "\nXDP, all hosts: established %s/s, learnt %s/s, pass mode %s/s; to workers: "
                "SYN %s/s, ACK %s/s; dropped %s/s\n",
                format_rate(v.xdp.fwd_established).c_str(), format_rate(v.xdp.fwd_learned).c_str(),
                format_rate(v.xdp.fwd_pass_mode).c_str(), format_rate(v.xdp.xsk_syn).c_str(),
                format_rate(v.xdp.xsk_ack).c_str(), format_rate(v.xdp.dropped).c_str());
  return head + t.render() + xdp;
}

std::string render_stats(const nlohmann::json& stats) {
  std::string out;
  Table hosts({"HOST", "MODE", "SYN", "ACK", "SYNACK", "ACK OK", "ACK BAD", "FORWARDED",
               "RATE LIMITED", "SHED (BUSY)", "DROPPED"},
              {false, false, true, true, true, true, true, true, true, true, true});
  for (const auto& h : stats.value("hosts", nlohmann::json::array())) {
    const auto c = [&](const char* name) { return format_count(counter(h, name)); };
    hosts.add_row({h.value("address", "?"), mode_label(h), c("syn"),
                   c("ack"), c("synack"), c("ack_valid"), c("ack_invalid"), c("forwarded"),
                   c("rate_limited"), c("shed"), c("dropped")});
  }
  out += hosts.render();
  Table workers({"QUEUE", "CPU", "MODE", "RX", "SYNACK", "ACK OK", "ACK BAD", "TX", "TX FULL",
                 "XSK RX DROPPED", "XSK RING FULL"},
                {true, true, false, true, true, true, true, true, true, true, true});
  for (const auto& w : stats.value("workers", nlohmann::json::array())) {
    const auto& c = w["counters"];
    const auto n = [&](const char* name) {
      return format_count(c.contains(name) ? c[name].get<uint64_t>() : 0);
    };
    const uint64_t bad = (c.contains("ack_bad_cookie") ? c["ack_bad_cookie"].get<uint64_t>() : 0) +
                         (c.contains("ack_cookie_expired") ? c["ack_cookie_expired"].get<uint64_t>() : 0) +
                         (c.contains("ack_option_disabled") ? c["ack_option_disabled"].get<uint64_t>() : 0);
    // rx_dropped: no RX buffer or a bad frame; rx_ring_full: the worker fell behind (the RX
    // ring had no room). Different causes, different remedies: shown apart.
    const auto xsk = [&](const char* name) {
      return w["xsk"].is_object() ? format_count(w["xsk"].value(name, uint64_t{0})) : "-";
    };
    workers.add_row({std::to_string(w.value("queue", 0u)), std::to_string(w.value("cpu", -1)),
                     w.value("mode", "?"), n("rx_packets"), n("synack_built"), n("ack_valid"),
                     format_count(bad), n("tx_sent"), n("tx_ring_full"), xsk("rx_dropped"),
                     xsk("rx_ring_full")});
  }
  out += "\n" + workers.render();
  const auto& xdp = stats.value("xdp", nlohmann::json::object());
  if (xdp.contains("packets")) {
    Table reasons({"XDP REASON", "PACKETS", "BYTES"}, {false, true, true});
    for (const auto& [reason, packets] : xdp["packets"].items()) {
      if (packets.get<uint64_t>() == 0) continue;
      reasons.add_row({reason, format_count(packets.get<uint64_t>()),
                       format_count(xdp["bytes"].value(reason, uint64_t{0}))});
    }
    out += "\n" + reasons.render();
  } else if (xdp.contains("error")) {
    out += "\nXDP counters unavailable: " + xdp["error"].get<std::string>() + "\n";
  }
  const auto flows = stats.find("established_flows");
  if (flows != stats.end() && flows->is_number()) {
    out += "\nestablished flows: " + std::to_string(flows->get<uint64_t>()) + "\n";
  }
  return out;
}

}  // namespace synwarden::ctl
