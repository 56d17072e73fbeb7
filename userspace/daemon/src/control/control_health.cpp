#include "control_health.h"

#include <algorithm>

namespace synwarden::daemon {
namespace {

std::string queue_list(const std::vector<uint32_t>& queues) {
  std::string out;
  for (const uint32_t q : queues) out += (out.empty() ? "" : ", ") + std::to_string(q);
  return out;
}

HealthCheck check_dataplane(const HealthInputs& in) {
  HealthCheck c{"dataplane", false, {}};
  const std::string on =
      " on " + (in.interface.empty() ? std::string("the interface") : in.interface);
  if (in.loaded_program_id == 0) {
    c.detail = "no XDP program loaded" + on;
  } else if (!in.attach_query_error.empty()) {
    c.detail = "cannot ask the kernel which XDP program runs" + on + ": " + in.attach_query_error;
  } else if (in.attached_program_id == 0) {
    c.detail = "XDP program id " + std::to_string(in.loaded_program_id) +
               " is no longer attached" + on + " (detached by hand?); restart synwarden";
  } else if (in.attached_program_id != in.loaded_program_id) {
    c.detail = "the kernel runs XDP program id " + std::to_string(in.attached_program_id) + on +
               ", not synwarden's id " + std::to_string(in.loaded_program_id) +
               "; restart synwarden or remove the other program";
  } else {
    c.ok = true;
    c.detail = "XDP program id " + std::to_string(in.loaded_program_id) + " attached" + on;
  }
  return c;
}

HealthCheck check_workers(const HealthInputs& in) {
  HealthCheck c{"workers", false, {}};
  std::vector<uint32_t> missing;
  for (const uint32_t q : in.steered_queues) {
    if (std::find(in.bound_queues.begin(), in.bound_queues.end(), q) == in.bound_queues.end()) {
      missing.push_back(q);
    }
  }
  if (in.steered_queues.empty()) {
    c.detail = "no RX queue has an AF_XDP worker; the daemon has not started its workers";
  } else if (!missing.empty()) {
    c.detail = "RX queue(s) " + queue_list(missing) + " have no bound AF_XDP worker";
  } else {
    c.ok = true;
    c.detail = std::to_string(in.steered_queues.size()) + " AF_XDP worker(s) bound (queue " +
               queue_list(in.steered_queues) + ")";
  }
  return c;
}

bool usable(const std::string& state) { return state == "fresh" || state == "holding"; }

}  // namespace

HealthReport evaluate_health(const HealthInputs& in) {
  HealthReport r;
  r.checks.push_back(check_dataplane(in));
  r.checks.push_back(check_workers(in));

  HealthCheck secrets{"secrets", true, {}};
  size_t holding = 0;
  for (const auto& h : in.hosts) {
    if (h.secrets.state == "holding") ++holding;
    if (usable(h.secrets.state)) continue;
    r.stale_hosts.push_back(
        {h.address, h.secrets.state, h.secrets.last_update_age_ms, h.secrets.last_error});
  }
  if (!r.stale_hosts.empty()) {
    secrets.ok = false;
    for (const auto& s : r.stale_hosts) {
      secrets.detail += (secrets.detail.empty() ? "" : "; ") + s.address + " " + s.state +
                        (s.age_ms ? " (last secrets " + std::to_string(*s.age_ms / 1000) + " s ago)"
                                  : " (never had secrets)");
    }
  } else {
    secrets.detail = std::to_string(in.hosts.size()) + " host(s) with usable secrets";
    if (holding > 0) {
      secrets.detail += ", " + std::to_string(holding) + " holding the last good ones";
    }
  }
  r.checks.push_back(std::move(secrets));
  r.healthy = std::all_of(r.checks.begin(), r.checks.end(), [](const auto& c) { return c.ok; });
  return r;
}

nlohmann::json HealthReport::to_json() const {
  nlohmann::json checks_json = nlohmann::json::array();
  for (const auto& c : checks) {
    checks_json.push_back({{"name", c.name}, {"ok", c.ok}, {"detail", c.detail}});
  }
  nlohmann::json stale = nlohmann::json::array();
  for (const auto& s : stale_hosts) {
    stale.push_back({{"address", s.address},
                     {"state", s.state},
                     {"age_ms", s.age_ms ? nlohmann::json(*s.age_ms) : nlohmann::json(nullptr)},
                     {"last_error", s.last_error}});
  }
  return {{"healthy", healthy},
          {"checks", std::move(checks_json)},
          {"stale_hosts", std::move(stale)}};
}

}  // namespace synwarden::daemon
