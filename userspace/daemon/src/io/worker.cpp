#include "worker.h"
#include "synwarden/clock_now.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace synwarden::daemon {

namespace {

// Empty RX peeks before an idle worker sleeps in poll(): long enough to ride out gaps inside a
// burst without a syscall, short enough not to burn a core on an idle queue.
constexpr uint32_t kSpinRounds = 64;
// poll() timeout while idle. Stop requests wake the worker through the eventfd at once, so this
// only bounds how stale an idle worker's view of the clock can get.
constexpr int kIdlePollMs = 100;
// While TX frames are still in flight, sleep at most this long so their completions (and
// possibly another TX kick) are handled promptly.
constexpr int kTxPendingPollMs = 1;

}  // namespace

Worker::Worker(const WorkerSettings& settings, std::unique_ptr<UmemArea> area,
               std::unique_ptr<XskPort> port, SnapshotStore<Snapshot>::Reader reader,
               FlowSink& flows, int stop_fd)
    : settings_(settings),
      area_(std::move(area)),
      port_(std::move(port)),
      reader_(reader),
      pending_(flows, port_->geometry().frame_count, port_->geometry().frame_size,
               2 * port_->geometry().frame_count),
      handler_(settings.handler, counters_, pending_),
      pool_(port_->geometry().frame_count, port_->geometry().frame_size),
      chunk_mask_(uint64_t{port_->geometry().frame_size} - 1),
      frame_size_(port_->geometry().frame_size),
      stop_fd_(stop_fd) {
  if (settings_.batch_size == 0 || settings_.batch_size > kMaxBatch) {
    throw std::invalid_argument("worker batch size must be 1.." + std::to_string(kMaxBatch));
  }
  // Hand the kernel RX buffers before the socket becomes reachable through the XSKMAP;
  // frames arriving on an empty fill ring are dropped (rx_fill_ring_empty_descs).
  refill_fill_ring();
}

Worker::~Worker() {
  request_stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
  const std::string name = "sw-q" + std::to_string(port_->queue());
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
  if (settings_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<size_t>(settings_.cpu), &set);
    const int rc = pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);
    if (rc != 0) {
      request_stop();
      thread_.join();
      throw std::system_error(rc, std::generic_category(),
                              "pinning worker of queue " + std::to_string(port_->queue()) +
                                  " to CPU " + std::to_string(settings_.cpu) +
                                  " (check worker_cpus against the CPUs this process may use)");
    }
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::release_frame(uint64_t addr) noexcept {
  if (!pool_.push(chunk_of(addr))) bump(counters_.frame_double_free);
}

void Worker::recycle_completions() noexcept {
  uint32_t idx = 0;
  const uint32_t done = xsk_ring_cons__peek(&port_->completion(), port_->geometry().ring_size,
                                            &idx);
  if (done == 0) return;
  const uint64_t now = monotonic_ns();
  for (uint32_t i = 0; i < done; ++i) {
    const uint64_t addr = *xsk_ring_cons__comp_addr(&port_->completion(), idx + i);
    // The frame has left: a cookie ACK's flow may now enter the map (pending_flows.h).
    if (!pending_.completed(chunk_of(addr), now)) bump(counters_.flow_insert_failed);
    release_frame(addr);
  }
  xsk_ring_cons__release(&port_->completion(), done);
  outstanding_tx_ -= std::min(outstanding_tx_, done);
  bump(counters_.completions, done);
}

void Worker::refill_fill_ring() noexcept {
  if (pool_.empty()) return;
  // libxdp's reserve is all-or-nothing, so ask for what is free first.
  const uint32_t n = xsk_prod_nb_free(&port_->fill(), pool_.size());
  const uint32_t count = std::min(n, pool_.size());
  if (count == 0) return;
  uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&port_->fill(), count, &idx) != count) return;
  for (uint32_t i = 0; i < count; ++i) {
    *xsk_ring_prod__fill_addr(&port_->fill(), idx + i) = pool_.pop();
  }
  xsk_ring_prod__submit(&port_->fill(), count);
}

void Worker::kick_tx() noexcept {
  // Copy mode transmits only inside sendmsg(); zero-copy drivers ask for a kick through the
  // need-wakeup flag. Per batch, never per frame.
  if (!xsk_ring_prod__needs_wakeup(&port_->tx())) return;
  // Copy mode sends at most tx_budget() descriptors per call (__xsk_generic_xmit: 32, or the
  // ring size where XDP_MAX_TX_SKB_BUDGET raised it, then one call sends a whole batch) and
  // answers EAGAIN while more are queued; bounded so a stalled device cannot keep the worker here.
  const uint32_t max_calls = settings_.batch_size / port_->tx_budget() + 2;
  for (uint32_t call = 0; call < max_calls; ++call) {
    bump(counters_.tx_kicks);
    if (::sendto(port_->fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) return;
    // EAGAIN: more queued (copy mode) or busy; EBUSY: another sender; ENOBUFS: out of skbs
    // (copy mode); ENETDOWN: link down. Anything else is unexpected and counted.
    if (errno == EAGAIN) continue;
    if (errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN) bump(counters_.tx_kick_errors);
    return;
  }
}

void Worker::transmit(uint32_t count) noexcept {
  if (count == 0) return;
  const uint32_t room = std::min(count, xsk_prod_nb_free(&port_->tx(), count));
  uint32_t idx = 0;
  const uint32_t queued = room == 0 ? 0 : xsk_ring_prod__reserve(&port_->tx(), room, &idx);
  for (uint32_t i = 0; i < queued; ++i) {
    xdp_desc* desc = xsk_ring_prod__tx_desc(&port_->tx(), idx + i);
    desc->addr = tx_addr_[i];
    desc->len = tx_len_[i];
    desc->options = 0;
  }
  if (queued != 0) {
    xsk_ring_prod__submit(&port_->tx(), queued);
    outstanding_tx_ += queued;
    bump(counters_.tx_sent, queued);
  }
  for (uint32_t i = queued; i < count; ++i) {
    pending_.abandoned(chunk_of(tx_addr_[i]));
    release_frame(tx_addr_[i]);
  }
  if (queued < count) bump(counters_.tx_ring_full, count - queued);
  kick_tx();
}

void Worker::idle() noexcept {
  // Holding no snapshot while asleep lets the control thread free old ones meanwhile.
  reader_.offline();
  if (outstanding_tx_ != 0) kick_tx();
  pollfd fds[2] = {{port_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  // poll() on the socket is also the fill-ring wake-up need-wakeup asks for.
  ::poll(fds, 2, outstanding_tx_ != 0 ? kTxPendingPollMs : kIdlePollMs);
  bump(counters_.idle_polls);
}

bool Worker::behind() noexcept {
  // Frames still waiting after this batch: the kernel's producer index (one load of a line the
  // kernel writes anyway, once per batch) less what this batch took. Over half the ring means
  // SYN-ACKs are being built slower than SYNs arrive; the ring would overflow and the kernel
  // would drop whatever came next, the clients' final ACKs included.
  xsk_ring_cons& rx = port_->rx();
  const uint32_t produced = __atomic_load_n(rx.producer, __ATOMIC_ACQUIRE);
  return produced - rx.cached_cons > port_->geometry().ring_size / 2;
}

void Worker::run() noexcept {
  uint32_t empty_rounds = 0;
  xsk_ring_cons& rx = port_->rx();
  while (!stop_.load(std::memory_order_relaxed)) {
    const Snapshot* snapshot = reader_.quiescent();
    recycle_completions();
    refill_fill_ring();

    uint32_t idx = 0;
    const uint32_t received = xsk_ring_cons__peek(&rx, settings_.batch_size, &idx);
    if (received == 0) {
      if (xsk_ring_prod__needs_wakeup(&port_->fill())) {
        bump(counters_.fill_kicks);
        idle();
        empty_rounds = 0;
      } else if (++empty_rounds >= kSpinRounds) {
        idle();
        empty_rounds = 0;
      }
      continue;
    }
    empty_rounds = 0;
    bump(counters_.rx_batches);
    bump(counters_.rx_packets, received);
    const uint64_t now = monotonic_ns();
    handler_.begin_batch(*snapshot, now, behind());
    pending_.expire(now);
    const uint64_t overflows = pending_.overflows();

    uint32_t to_send = 0;
    for (uint32_t i = 0; i < received; ++i) {
      const xdp_desc* desc = xsk_ring_cons__rx_desc(&rx, idx + i);
      const uint64_t addr = desc->addr;
      uint32_t len = desc->len;
      // Copy mode places the frame after XDP_PACKET_HEADROOM inside its chunk; the rest of
      // the chunk is room for the SYN-ACK's longer option block.
      const uint32_t capacity = frame_size_ - static_cast<uint32_t>(addr & chunk_mask_);
      pending_.set_frame(chunk_of(addr));
      if (handler_.handle(port_->frame(addr), len, capacity) == FrameAction::kTransmit) {
        tx_addr_[to_send] = addr;
        tx_len_[to_send] = len;
        ++to_send;
      } else {
        release_frame(addr);
      }
    }
    xsk_ring_cons__release(&rx, received);
    if (pending_.overflows() != overflows) {
      bump(counters_.pending_flow_overflow, pending_.overflows() - overflows);
    }
    transmit(to_send);
    counters_.snapshot_generation.store(snapshot->version(), std::memory_order_relaxed);
  }
  reader_.offline();
}

}  // namespace synwarden::daemon
