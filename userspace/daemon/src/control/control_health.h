// Is this box fit to receive traffic? GET /health and `synwardenctl health` answer it for
// scripts, and for the route watcher that withdraws a box's BGP next hop (docs/deployment-ecmp.md).
// A box is healthy when all of these hold:
//   dataplane  the XDP program this daemon loaded is the one the kernel runs on the interface
//              (someone running `ip link set dev X xdp off` makes the box a black hole or a
//              bypass, whichever the interface does without it)
//   workers    an AF_XDP worker is bound on every RX queue the datapath steers to (both
//              datapaths hand SYNs and ACKs the XDP program cannot decide to the workers)
//   secrets    every configured host has keys the box may use: "fresh", or "holding" (agent
//              unreachable, last good keys still within the hold time). "expired" and
//              "no_secrets" fail: the host's fail policy is in force and new connections are
//              dropped (closed) or unprotected (open), and flows moved here from another box
//              cannot be recovered.
// Only facts go in (HealthInputs); the router maps the verdict to an HTTP status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_freshness.h"

namespace synwarden::daemon {

struct HealthInputs {
  // Dataplane: what this daemon loaded and what the kernel reports on the interface.
  std::string interface;            // name, for messages
  uint32_t loaded_program_id = 0;   // 0: no program loaded
  uint32_t attached_program_id = 0; // what the kernel runs on the interface now, 0: none
  std::string attach_query_error;   // the kernel could not be asked ("" when it answered)
  // Workers: the RX queues the XDP program steers to, and the queues with a bound worker.
  std::vector<uint32_t> steered_queues;
  std::vector<uint32_t> bound_queues;
  struct Host {
    std::string address;
    SecretsFreshness secrets;
  };
  std::vector<Host> hosts;
};

struct HealthCheck {
  std::string name;    // "dataplane", "workers", "secrets"
  bool ok = false;
  std::string detail;  // one line for people: what is wrong and what to do, or what is fine
};

struct HealthReport {
  bool healthy = false;  // every check ok
  std::vector<HealthCheck> checks;
  // Hosts whose secrets fail the check: address, state and age (nullopt: never had any).
  struct StaleHost {
    std::string address;
    std::string state;
    std::optional<uint64_t> age_ms;
    std::string last_error;
  };
  std::vector<StaleHost> stale_hosts;

  // {"healthy": bool, "checks": [{"name", "ok", "detail"}...], "stale_hosts": [...]}
  nlohmann::json to_json() const;
};

HealthReport evaluate_health(const HealthInputs& inputs);

}  // namespace synwarden::daemon
