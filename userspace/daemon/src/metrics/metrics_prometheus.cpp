#include "metrics_prometheus.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <stdexcept>

namespace synwarden::daemon {

namespace {

constexpr const char* kSecretsStates[] = {"fresh", "holding", "expired", "no_secrets"};
constexpr const char* kVersion = "0.1.0";

std::string escape_help(std::string_view help) {
  std::string out;
  for (const char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

std::string prometheus_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void PrometheusWriter::family(const std::string& name, Type type, std::string_view help) {
  if (std::find(seen_.begin(), seen_.end(), name) != seen_.end()) {
    throw std::logic_error("metric family " + name + " written twice");
  }
  const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
  if ((type == Type::kCounter) != total) {
    throw std::logic_error("metric " + name + ": counters, and only counters, end in _total");
  }
  seen_.push_back(name);
  current_ = name;
  out_ += "# HELP " + name + " " + escape_help(help) + "\n";
  out_ += "# TYPE " + name + (type == Type::kCounter ? " counter\n" : " gauge\n");
}

void PrometheusWriter::write_labels(const Labels& labels) {
  out_ += current_;
  if (labels.empty()) return;
  out_ += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out_ += ',';
    out_ += labels[i].first + "=\"" + prometheus_escape(labels[i].second) + "\"";
  }
  out_ += '}';
}

void PrometheusWriter::sample(const Labels& labels, uint64_t value) {
  write_labels(labels);
  out_ += ' ' + std::to_string(value) + '\n';
}

void PrometheusWriter::sample(const Labels& labels, double value) {
  write_labels(labels);
  char text[64];
  std::snprintf(text, sizeof text, " %.17g\n", value);
  out_ += text;
}

std::string render_prometheus(const StatsSample& s) {
  using T = PrometheusWriter::Type;
  PrometheusWriter w;
  w.family("synwarden_build_info", T::kGauge, "Always 1; the version label names the build");
  w.sample({{"version", kVersion}}, uint64_t{1});
  w.family("synwarden_start_time_seconds", T::kGauge, "When the daemon started (Unix time)");
  w.sample({}, static_cast<double>(s.start_unix_ms) / 1000.0);
  w.family("synwarden_snapshots_published_total", T::kCounter,
           "Host snapshots handed to the workers (config changes, secrets updates)");
  w.sample({}, s.snapshot_version);
  w.family("synwarden_config_reloads_total", T::kCounter,
           "Config reloads (SIGHUP or POST /reload) by result");
  w.sample({{"result", "ok"}}, s.reloads_ok);
  w.sample({{"result", "failed"}}, s.reloads_failed);
  w.family("synwarden_config_last_reload_successful", T::kGauge,
           "1 if the last reload was applied, 0 if it was refused (the old config runs)");
  w.sample({}, uint64_t{s.last_reload_ok ? 1u : 0u});

  w.family("synwarden_protected_hosts", T::kGauge, "Configured protected addresses");
  w.sample({}, uint64_t{s.hosts.size()});
  w.family("synwarden_host_protection", T::kGauge,
           "1 if SYN cookie protection is on for the host, 0 in pass mode");
  for (const auto& h : s.hosts) w.sample({{"host", h.address}}, uint64_t{h.protection ? 1u : 0u});
  w.family("synwarden_host_mode", T::kGauge,
           "1 for the host's configured mode (protect, pass, monitor, auto)");
  for (const auto& h : s.hosts) {
    for (const char* mode : {"protect", "pass", "monitor", "auto"}) {
      w.sample({{"host", h.address}, {"mode", mode}}, uint64_t{h.mode == mode ? 1u : 0u});
    }
  }
  w.family("synwarden_host_mode_changes_total", T::kCounter,
           "Changes of the host's effective mode (auto switches and API/config changes), by "
           "the mode changed to");
  for (const auto& h : s.hosts) {
    for (const char* to : {"protect", "pass", "monitor"}) {
      const auto it = h.mode_changes.find(to);
      w.sample({{"host", h.address}, {"to", to}}, it == h.mode_changes.end() ? 0 : it->second);
    }
  }
  w.family("synwarden_host_auto_syn_rate", T::kGauge,
           "Auto mode: the host's SYNs per second in the last poll window (XDP count)");
  for (const auto& h : s.hosts) {
    if (h.mode == "auto") w.sample({{"host", h.address}}, h.auto_syn_pps);
  }
  w.family("synwarden_host_secrets_state", T::kGauge,
           "1 for the host's current secrets state (fresh, holding, expired, no_secrets)");
  for (const auto& h : s.hosts) {
    for (const char* state : kSecretsStates) {
      w.sample({{"host", h.address}, {"source", h.secrets.source}, {"state", state}},
               uint64_t{h.secrets.state == state ? 1u : 0u});
    }
  }
  w.family("synwarden_host_secrets_age_seconds", T::kGauge,
           "Age of the secrets in use (file: since its mtime; agent: since the last reply)");
  for (const auto& h : s.hosts) {
    if (h.secrets.last_update_age_ms) {
      w.sample({{"host", h.address}}, static_cast<double>(*h.secrets.last_update_age_ms) / 1000.0);
    }
  }
  w.family("synwarden_host_received_total", T::kCounter,
           "SYNs and unknown ACKs for the host that reached the AF_XDP workers");
  for (const auto& h : s.hosts) {
    w.sample({{"host", h.address}, {"kind", "syn"}},
             h.counters[static_cast<size_t>(HostCounter::kSynReceived)]);
    w.sample({{"host", h.address}, {"kind", "ack"}},
             h.counters[static_cast<size_t>(HostCounter::kAckReceived)]);
  }
  w.family("synwarden_packets_total", T::kCounter,
           "What the workers did with the host's SYNs and unknown ACKs, by reason: synack "
           "(cookie SYN-ACK sent), ack_valid, ack_invalid, forwarded, rate_limited, dropped");
  for (const auto& h : s.hosts) {
    for (size_t c = 0; c < kHostCounterCount; ++c) {
      const auto counter = static_cast<HostCounter>(c);
      if (host_counter_is_input(counter)) continue;
      w.sample({{"host", h.address}, {"reason", host_counter_label(counter)}}, h.counters[c]);
    }
  }

  // The secret channel to each agent host (hosts with static secrets files have none).
  static constexpr FieldInfo<AgentSample, uint64_t> kAgent[] = {
      {"synwarden_agent_requests_total", "Secrets requests sent to the host's agent",
       &AgentSample::requests_sent},
      {"synwarden_agent_timeouts_total", "Requests without a valid reply in time",
       &AgentSample::timeouts},
      {"synwarden_agent_secrets_rejected_total",
       "Authentic replies whose secrets document was refused", &AgentSample::payload_rejected},
      {"synwarden_agent_send_errors_total", "Requests the socket refused to send",
       &AgentSample::send_errors},
  };
  for (const auto& c : kAgent) {
    w.family(c.name, T::kCounter, c.help);
    for (const auto& a : s.agents) w.sample({{"host", a.host}, {"agent", a.agent}}, a.*(c.field));
  }
  w.family("synwarden_agent_replies_total", T::kCounter,
           "Datagrams from the host's agent by verdict (ok, wrong_key, replayed, ...)");
  for (const auto& a : s.agents) {
    for (const auto& [result, n] : a.replies) w.sample({{"host", a.host}, {"result", result}}, n);
  }

  w.family("synwarden_worker_info", T::kGauge, "Always 1; one per AF_XDP worker");
  for (const auto& wk : s.workers) {
    w.sample({{"queue", std::to_string(wk.queue)}, {"cpu", std::to_string(wk.cpu)},
              {"mode", wk.mode}},
             uint64_t{1});
  }
  for (size_t i = 0; i < kWorkerCounterCount; ++i) {
    w.family(std::string("synwarden_worker_") + kWorkerCounterInfo[i].name + "_total",
             T::kCounter, kWorkerCounterInfo[i].help);
    for (const auto& wk : s.workers) {
      if (i < wk.counters.size()) w.sample({{"queue", std::to_string(wk.queue)}}, wk.counters[i]);
    }
  }
  for (const auto& f : kXskStatistics) {
    w.family(std::string("synwarden_xsk_") + f.name + "_total", T::kCounter, f.help);
    for (const auto& wk : s.workers) {
      if (wk.xsk) w.sample({{"queue", std::to_string(wk.queue)}}, uint64_t{(*wk.xsk).*(f.field)});
    }
  }

  if (s.xdp) {
    // Every reason but 0 ("none": no decision), under one label, for each of the three counts.
    const auto by_reason = [&](const char* name, const char* help, auto value_of) {
      w.family(name, T::kCounter, help);
      for (unsigned r = 1; r < SW_REASON_COUNT; ++r) {
        const auto reason = static_cast<sw_reason>(r);
        w.sample({{"reason", std::string(dataplane::StatsTable::reason_name(reason))}},
                 uint64_t{value_of(reason)});
      }
    };
    by_reason("synwarden_xdp_packets_total",
              "Frames the XDP program decided on, by reason (every frame counts once)",
              [&](sw_reason r) { return (*s.xdp)[r].packets; });
    by_reason("synwarden_xdp_bytes_total",
              "Bytes of the frames the XDP program decided on, by reason",
              [&](sw_reason r) { return (*s.xdp)[r].bytes; });
    by_reason("synwarden_xdp_monitor_would_total",
              "Monitor mode: frames of monitored hosts by the reason protection would have "
              "counted (what it would have done); they were forwarded",
              [&](sw_reason r) { return s.xdp->would[r]; });
  }
  if (s.established_flows) {
    w.family("synwarden_established_flows", T::kGauge,
             "Entries in the XDP established-flow map (forwarded without the workers)");
    w.sample({}, *s.established_flows);
  }
  return w.text();
}

}  // namespace synwarden::daemon
