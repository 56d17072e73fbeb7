#include "metrics_confirm.h"

#include <nlohmann/json.hpp>

#include "metrics_prometheus.h"

namespace synwarden::daemon {

nlohmann::json confirm_counters_json(const ConfirmerCounters& c) {
  nlohmann::json out = nlohmann::json::object();
#define SW_CONFIRM_JSON(name, metric, help) out[#name] = c.name;
  SW_CONFIRM_COUNTERS(SW_CONFIRM_JSON)
#undef SW_CONFIRM_JSON
  out["last_confirm_ms"] = c.last_confirm_ms;
  out["max_confirm_ms"] = c.max_confirm_ms;
  return out;
}

std::string render_confirm_prometheus(const ConfirmerCounters& c) {
  using T = PrometheusWriter::Type;
  PrometheusWriter w;
#define SW_CONFIRM_PROM(name, metric, help)                             \
  w.family("synwarden_confirm_" metric "_total", T::kCounter, help); \
  w.sample({}, c.name);
  SW_CONFIRM_COUNTERS(SW_CONFIRM_PROM)
#undef SW_CONFIRM_PROM
  w.family("synwarden_confirm_max_latency_ms", T::kGauge,
           "Longest time from a candidate's report to its confirmed flow being learnt");
  w.sample({}, c.max_confirm_ms);
  return w.text();
}

}  // namespace synwarden::daemon
