#include "synwarden/dataplane/confirm_candidates.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "map_util.h"

namespace synwarden::dataplane {

using detail::err_of;

CandidateBucket candidate_bucket(std::uint64_t per_second, unsigned cpus) noexcept {
  if (per_second == 0) return {};
  const std::uint64_t n = std::max(1u, cpus);
  CandidateBucket b;
  b.cost_ns = std::max<std::uint64_t>(1, 1'000'000'000ull * n / per_second);
  b.burst_ns = std::max<std::uint64_t>(b.cost_ns, 250'000'000ull);
  return b;
}

Result<CandidateRing> CandidateRing::open(UniqueFd ring_fd, UniqueFd counters_fd, unsigned cpus) {
  CandidateRing ring;
  ring.ring_fd_ = std::move(ring_fd);
  ring.counters_fd_ = std::move(counters_fd);
  ring.cpus_ = std::max(1u, cpus);
  // ctx is fixed at creation: the object must not move while a reader exists, so the reader is
  // created lazily in drain(), after the last move (the daemon's confirmer owns it in place).
  return ring;
}

CandidateRing::CandidateRing(CandidateRing&& other) noexcept { *this = std::move(other); }

CandidateRing& CandidateRing::operator=(CandidateRing&& other) noexcept {
  if (this == &other) return *this;
  if (reader_ != nullptr) ring_buffer__free(reader_);
  ring_fd_ = std::move(other.ring_fd_);
  counters_fd_ = std::move(other.counters_fd_);
  cpus_ = other.cpus_;
  // The reader's ctx points at `other`: drop it, the next drain() makes one for this object.
  if (other.reader_ != nullptr) ring_buffer__free(std::exchange(other.reader_, nullptr));
  reader_ = nullptr;
  odd_sized_ = other.odd_sized_;
  return *this;
}

CandidateRing::~CandidateRing() {
  if (reader_ != nullptr) ring_buffer__free(reader_);
}

int CandidateRing::on_sample(void* ctx, void* data, std::size_t size) {
  auto* self = static_cast<CandidateRing*>(ctx);
  if (size != sizeof(sw_flow_key)) {
    ++self->odd_sized_;
    return 0;
  }
  sw_flow_key key;
  std::memcpy(&key, data, sizeof key);
  (*self->sink_)(key);
  return 0;
}

Result<std::uint64_t> CandidateRing::drain(const std::function<void(const sw_flow_key&)>& fn) {
  if (reader_ == nullptr) {
    reader_ = ring_buffer__new(ring_fd_.get(), &CandidateRing::on_sample, this, nullptr);
    if (reader_ == nullptr) return os_error(errno, "mapping the candidate ring sw_candidates");
  }
  sink_ = &fn;
  const int n = ring_buffer__consume(reader_);
  sink_ = nullptr;
  if (n < 0) return os_error(err_of(n), "reading the candidate ring sw_candidates");
  return static_cast<std::uint64_t>(n);
}

Result<CandidateCounters> CandidateRing::counters() const {
  std::vector<sw_confirm_cpu> per_cpu(cpus_);
  const std::uint32_t zero = 0;
  if (int ret = bpf_map_lookup_elem(counters_fd_.get(), &zero, per_cpu.data()); ret < 0) {
    return os_error(err_of(ret), "reading the candidate counters sw_confirm_cpu");
  }
  CandidateCounters out;
  for (const auto& c : per_cpu) {
    out.reported += c.reported;
    out.capped += c.capped;
    out.lost += c.lost;
  }
  return out;
}

}  // namespace synwarden::dataplane
