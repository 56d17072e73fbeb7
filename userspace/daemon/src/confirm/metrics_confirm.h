// The socket confirmer's counters (flow_confirmer.h, docs/flow-recovery.md) and how GET /stats
// ("socket_confirm") and GET /metrics (synwarden_confirm_*) show them.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace synwarden::daemon {

// X(field, metric suffix, help): counters, in /stats under their field names.
#define SW_CONFIRM_COUNTERS(X)                                                                  \
  X(candidates_reported, "candidates_reported",                                                \
    "Unknown ACKs without a valid cookie or timestamp reported for socket confirmation")       \
  X(candidates_capped, "candidates_capped",                                                    \
    "Candidates over the datapaths' limits.confirm_candidates_per_s: not reported")            \
  X(candidates_lost, "candidates_lost", "Candidates within the limit that found a ring full")  \
  X(candidates_duplicate, "candidates_duplicate",                                              \
    "Candidates of a tuple already asked about within the last seconds: not asked again")      \
  X(candidates_overflow, "candidates_overflow", "Candidates dropped: the host's queue was full") \
  X(requests, "requests", "Confirmation requests sent to agents")                              \
  X(asked, "asked", "Tuples asked about")                                                      \
  X(confirmed, "confirmed", "Tuples the agent confirmed established: flows learnt")            \
  X(refused, "refused", "Tuples that are no connection on the host")                           \
  X(timed_out, "timed_out", "Tuples of requests the agent did not answer in time")             \
  X(insert_failed, "insert_failed", "Confirmed flows the established map refused")

struct ConfirmerCounters {
#define SW_CONFIRM_FIELD(name, metric, help) uint64_t name = 0;
  SW_CONFIRM_COUNTERS(SW_CONFIRM_FIELD)
#undef SW_CONFIRM_FIELD
  // Time from a candidate's report to its flow being learnt, of the last confirmed flow and the
  // longest so far (ms): the firewall's share of a forgotten connection's recovery.
  uint64_t last_confirm_ms = 0;
  uint64_t max_confirm_ms = 0;
};

nlohmann::json confirm_counters_json(const ConfirmerCounters& counters);
std::string render_confirm_prometheus(const ConfirmerCounters& counters);

}  // namespace synwarden::daemon
