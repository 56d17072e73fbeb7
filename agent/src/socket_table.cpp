#include "socket_table.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace synwarden::agent {
namespace {

struct DiagRequest {
  nlmsghdr header;
  inet_diag_req_v2 body;
};
static_assert(sizeof(DiagRequest) == NLMSG_LENGTH(sizeof(inet_diag_req_v2)));

// How long the kernel may take to answer a batch. It answers synchronously inside sendmsg(2),
// so the replies are queued before recv runs; this only bounds a kernel that never answers.
constexpr int kReplyTimeoutMs = 200;

bool synchronized_state(uint8_t state) noexcept {
  switch (state) {
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
      return true;
    default:
      return false;
  }
}

// The tuple's address as inet_diag reports it for a socket of `family`: an IPv4 tuple matches an
// AF_INET socket by its 4 bytes, and an AF_INET6 (dual-stack) socket by ::ffff:a.b.c.d.
bool same_address(const ConfirmTuple& t, const std::array<uint8_t, 16>& want, uint8_t family,
                  const __be32 got[4]) {
  uint8_t bytes[16];
  std::memcpy(bytes, got, 16);
  if (t.family == 6) return family == AF_INET6 && std::memcmp(bytes, want.data(), 16) == 0;
  if (family == AF_INET) return std::memcmp(bytes, want.data(), 4) == 0;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return family == AF_INET6 && std::memcmp(bytes, kMapped, 12) == 0 &&
         std::memcmp(bytes + 12, want.data(), 4) == 0;
}

// The kernel's exact lookup finds the established socket if there is one, else falls back to a
// listener on the port (or a TIME_WAIT entry): the reply must be checked, not just its presence.
bool confirms(const ConfirmTuple& t, const inet_diag_msg& m) {
  return synchronized_state(m.idiag_state) && ntohs(m.id.idiag_sport) == t.host_port &&
         ntohs(m.id.idiag_dport) == t.client_port &&
         same_address(t, t.host_addr, m.idiag_family, m.id.idiag_src) &&
         same_address(t, t.client_addr, m.idiag_family, m.id.idiag_dst);
}

void fill_request(DiagRequest& r, const ConfirmTuple& t, uint32_t seq) {
  std::memset(&r, 0, sizeof r);
  r.header.nlmsg_len = sizeof r;
  r.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  r.header.nlmsg_flags = NLM_F_REQUEST;   // no NLM_F_DUMP: the exact lookup by 4-tuple
  r.header.nlmsg_seq = seq;
  r.body.sdiag_family = t.family == 6 ? AF_INET6 : AF_INET;
  r.body.sdiag_protocol = IPPROTO_TCP;
  r.body.idiag_states = ~0u;
  // From the host's point of view: source = the host's side, destination = the client.
  r.body.id.idiag_sport = htons(t.host_port);
  r.body.id.idiag_dport = htons(t.client_port);
  std::memcpy(r.body.id.idiag_src, t.host_addr.data(), t.family == 6 ? 16 : 4);
  std::memcpy(r.body.id.idiag_dst, t.client_addr.data(), t.family == 6 ? 16 : 4);
  r.body.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  r.body.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

}  // namespace

SocketTable::SocketTable() {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    throw SocketTableError(std::string("socket(AF_NETLINK, NETLINK_SOCK_DIAG) failed: ") +
                           std::strerror(errno) +
                           "; the kernel needs CONFIG_INET_DIAG and CONFIG_INET_TCP_DIAG for the "
                           "agent to confirm flows");
  }
  fd_ = UniqueFd(fd);
  // The errors the kernel answers for unknown tuples need not carry our request back.
  const int one = 1;
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
}

bool SocketTable::established(std::span<const ConfirmTuple> tuples, std::span<bool> established,
                              std::string& error) {
  if (tuples.size() > kConfirmMaxTuples || established.size() != tuples.size()) {
    error = "socket table: batch of " + std::to_string(tuples.size()) + " tuples refused";
    return false;
  }
  std::fill(established.begin(), established.end(), false);
  if (tuples.empty()) return true;

  // Sequence numbers seq_+1 .. seq_+n identify the answers; anything else on the socket (a
  // late answer to an earlier, timed-out batch) is skipped.
  const uint32_t first = seq_ + 1;
  std::array<DiagRequest, kConfirmMaxTuples> requests;
  for (size_t i = 0; i < tuples.size(); ++i) {
    fill_request(requests[i], tuples[i], first + static_cast<uint32_t>(i));
  }
  seq_ += static_cast<uint32_t>(tuples.size());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  const size_t len = tuples.size() * sizeof(DiagRequest);
  if (::sendto(fd_.get(), requests.data(), len, 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(len)) {
    error = std::string("socket table: sending ") + std::to_string(tuples.size()) +
            " sock_diag lookups failed: " + std::strerror(errno);
    return false;
  }

  size_t answered = 0;
  alignas(nlmsghdr) std::array<uint8_t, 16384> buf;
  while (answered < tuples.size()) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, kReplyTimeoutMs) != 1) {
      error = "socket table: the kernel answered " + std::to_string(answered) + " of " +
              std::to_string(tuples.size()) + " sock_diag lookups within " +
              std::to_string(kReplyTimeoutMs) + " ms";
      return false;
    }
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      error = std::string("socket table: reading sock_diag answers failed: ") +
              std::strerror(errno);
      return false;
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
      const size_t i = h->nlmsg_seq - first;   // unsigned: also right across a wrap of seq_
      if (i >= tuples.size()) continue;
      ++answered;
      // NLMSG_ERROR (ENOENT: no socket with that tuple) leaves the tuple unconfirmed.
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
          h->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        inet_diag_msg m;
        std::memcpy(&m, NLMSG_DATA(h), sizeof m);
        established[i] = confirms(tuples[i], m);
      }
    }
  }
  return true;
}

}  // namespace synwarden::agent
