// The XDP program's socket-confirmation candidates (synwarden_shared.h, struct sw_confirm_cpu;
// bpf/fastpath/confirm.bpf.h): the ring buffer of flow keys the program reports, and its per-CPU
// counters. Read by the daemon's confirmer thread only (one consumer: libbpf's ring buffer
// reader is not thread-safe).
#pragma once

#include <cstdint>
#include <functional>

#include "synwarden/dataplane/result.h"
#include "synwarden/unique_fd.h"
#include "synwarden_shared.h"

struct ring_buffer;  // libbpf

namespace synwarden::dataplane {

// The candidates/s cap of LoadOptions as the program's per-CPU bucket: the rate split over the
// CPUs (RSS spreads a flood over them), a quarter second of credit as burst. 0 = off.
struct CandidateBucket {
  std::uint64_t cost_ns = 0;
  std::uint64_t burst_ns = 0;
};
[[nodiscard]] CandidateBucket candidate_bucket(std::uint64_t per_second, unsigned cpus) noexcept;

struct CandidateCounters {
  std::uint64_t reported = 0;  // keys written into the ring
  std::uint64_t capped = 0;    // over the bucket: not reported
  std::uint64_t lost = 0;      // within the bucket, ring full
};

class CandidateRing {
 public:
  // `ring_fd`: sw_candidates; `counters_fd`: sw_confirm_cpu (both owned from here on).
  static Result<CandidateRing> open(UniqueFd ring_fd, UniqueFd counters_fd, unsigned cpus);

  CandidateRing(CandidateRing&& other) noexcept;
  CandidateRing& operator=(CandidateRing&& other) noexcept;
  CandidateRing(const CandidateRing&) = delete;
  CandidateRing& operator=(const CandidateRing&) = delete;
  ~CandidateRing();

  // Hands every key waiting in the ring to `fn`, without blocking; returns how many.
  Result<std::uint64_t> drain(const std::function<void(const sw_flow_key&)>& fn);
  // Summed over CPUs.
  Result<CandidateCounters> counters() const;

 private:
  CandidateRing() = default;
  static int on_sample(void* ctx, void* data, std::size_t size);

  UniqueFd ring_fd_;
  UniqueFd counters_fd_;
  unsigned cpus_ = 1;
  ring_buffer* reader_ = nullptr;
  const std::function<void(const sw_flow_key&)>* sink_ = nullptr;
  std::uint64_t odd_sized_ = 0;  // records of another size (another build's program): skipped
};

}  // namespace synwarden::dataplane
