// XdpFastpath's life cycle: pinning and adopting maps across restarts, the pin-directory lock,
// incompatible pins, attach/replace/detach on a real interface, and AF_XDP steering to a bound
// socket. The whole binary runs in private mount and network namespaces with its own bpffs
// instance, so nothing it creates is visible to (or collides with) the host or parallel runs.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <xdp/xsk.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using namespace tcp_flags;
using dataplane::AttachMode;
using dataplane::AttachOptions;
using dataplane::FlowOrigin;
using dataplane::IpAddress;
using dataplane::LoadOptions;
using dataplane::UniqueFd;
using dataplane::XdpFastpath;

std::string g_bpffs;  // this binary's private bpffs mount

class PrivateNamespaces : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_EQ(unshare(CLONE_NEWNS | CLONE_NEWNET), 0)
        << "unshare: " << std::strerror(errno) << " (the bpf tier runs as root)";
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
    char dir[] = "/tmp/synwarden-bpffs-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr) << std::strerror(errno);
    g_bpffs = dir;
    ASSERT_EQ(mount("bpf", dir, "bpf", 0, "mode=0700"), 0) << std::strerror(errno);
    ASSERT_EQ(std::system("ip link set lo up"), 0);
  }
  void TearDown() override {
    umount2(g_bpffs.c_str(), MNT_DETACH);
    rmdir(g_bpffs.c_str());
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PrivateNamespaces);

LoadOptions small(const std::string& pin_dir) {
  LoadOptions o;
  o.pin_dir = pin_dir;
  o.flow_table_size = 1024;
  o.host_table_size = 16;
  return o;
}

XdpFastpath must_load(const LoadOptions& o) {
  auto fp = XdpFastpath::load(o);
  if (!fp) ADD_FAILURE() << fp.error().message;
  return std::move(*fp);
}

void configure(XdpFastpath& fp, bool protect_on) {
  dataplane::Settings s;
  s.firewall_mac = kFirewallMac;
  ASSERT_TRUE(fp.settings().write(s).ok());
  dataplane::HostEntry e;
  e.mac = kHostMac;
  e.protect = protect_on;
  ASSERT_TRUE(fp.hosts().upsert(*IpAddress::parse(kHostV4), e).ok());
}

Bytes ack_frame() {
  return FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4(kClientV4, kHostV4)
      .tcp(kClientPort, kServicePort, ACK).build();
}

// A veth pair inside this binary's network namespace (unique by construction).
int make_veth(const std::string& a, const std::string& b, int queues) {
  const std::string q = std::to_string(queues);
  const std::string cmd = "ip link add " + a + " numrxqueues " + q + " numtxqueues " + q +
                          " type veth peer name " + b + " numrxqueues " + q + " numtxqueues " +
                          q + " && ip link set " + a + " up && ip link set " + b + " up";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return static_cast<int>(if_nametoindex(a.c_str()));
}

bpf_xdp_query_opts query(int ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  EXPECT_EQ(bpf_xdp_query(ifindex, 0, &q), 0);
  return q;
}

// A one-instruction-pair XDP program returning XDP_PASS: someone else's program.
UniqueFd foreign_program() {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return UniqueFd(bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign", "GPL", insns, 2, nullptr));
}

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    pin_to_one_cpu();
    pin_dir_ = g_bpffs + "/synwarden/" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::string pin_dir_;
};

TEST_F(Lifecycle, PinnedMapsAreAdoptedByTheNextLoad) {
  const auto key = client_flow(false);
  {
    XdpFastpath first = must_load(small(pin_dir_));
    EXPECT_TRUE(first.adopted_maps().empty()) << "nothing to adopt on a fresh pin dir";
    configure(first, true);
    ASSERT_TRUE(first.flows().insert(key, FlowOrigin::cookie).ok());
    EXPECT_EQ(run_frame(first, ack_frame()).last.reason, SW_R_FWD_ESTABLISHED);
    dataplane::ListEntry denied;
    denied.prefix = *dataplane::IpAddress::parse(kOtherV4);
    denied.length = 32;
    ASSERT_TRUE(first.lists().add(dataplane::ListKind::deny, {denied}).ok());
  }
  for (const char* name : {"sw_hosts", "sw_flows", "sw_outbound", "sw_outbound_unverified",
                           "sw_outbound_keys", "sw_stats", "sw_settings", "sw_host_cookies",
                           "sw_cookie_ports", "sw_list_v4", "sw_list_v6", "sw_budget_cfg"}) {
    struct stat st {};
    EXPECT_EQ(stat((pin_dir_ + "/" + name).c_str(), &st), 0) << name << " not pinned";
  }
  struct stat st {};
  EXPECT_NE(stat((pin_dir_ + "/sw_xsks").c_str(), &st), 0) << "sockets belong to a process";
  EXPECT_NE(stat((pin_dir_ + "/sw_flow_hint").c_str(), &st), 0)
      << "each program has its own flow hint, rebuilt after attach";

  XdpFastpath second = must_load(small(pin_dir_));
  EXPECT_EQ(second.adopted_maps(),
            (std::vector<std::string>{"sw_hosts", "sw_flows", "sw_outbound",
                                      "sw_outbound_unverified", "sw_outbound_keys", "sw_stats",
                                      "sw_settings", "sw_host_cookies", "sw_cookie_ports",
                                      "sw_list_v4", "sw_list_v6", "sw_budget_cfg"}));
  auto flow = second.flows().lookup(key);
  ASSERT_TRUE(flow.ok());
  ASSERT_TRUE(flow->has_value()) << "the established flow did not survive the restart";
  EXPECT_EQ((*flow)->origin, FlowOrigin::cookie);
  // Hosts and settings came along too: the new program forwards without reconfiguration.
  const RunResult r = run_frame(second, ack_frame());
  EXPECT_EQ(verdict_name(r.verdict), "XDP_TX");
  EXPECT_EQ(r.last.reason, SW_R_FWD_ESTABLISHED);
  // So did the source lists: the restarted program blocks before its daemon synced them.
  const Bytes from_denied = FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4(kOtherV4, kHostV4)
                                .tcp(kClientPort, kServicePort, SYN).build();
  EXPECT_EQ(run_frame(second, from_denied).last.reason, SW_R_DROP_DENY_GLOBAL);
}

TEST_F(Lifecycle, SecondLoaderOnTheSamePinDirIsRefused) {
  XdpFastpath first = must_load(small(pin_dir_));
  auto second = XdpFastpath::load(small(pin_dir_));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EWOULDBLOCK);
  EXPECT_NE(second.error().message.find(pin_dir_), std::string::npos) << second.error().message;
  EXPECT_NE(second.error().message.find("another synwarden process"), std::string::npos);
}

TEST_F(Lifecycle, IncompatiblePinnedMapIsRefusedUnlessResetIsRequested) {
  ASSERT_TRUE(dataplane::ensure_bpffs_dir(pin_dir_).ok());
  // An "older version" of sw_flows with another value layout.
  UniqueFd old(bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "sw_flows", sizeof(sw_flow_key), 8, 128, nullptr));
  ASSERT_TRUE(old.valid()) << std::strerror(errno);
  const std::string path = pin_dir_ + "/sw_flows";
  ASSERT_EQ(bpf_obj_pin(old.get(), path.c_str()), 0);

  auto refused = XdpFastpath::load(small(pin_dir_));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find(path), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("reset_incompatible_pins"), std::string::npos);

  LoadOptions reset = small(pin_dir_);
  reset.reset_incompatible_pins = true;
  XdpFastpath fp = must_load(reset);
  ASSERT_EQ(fp.warnings().size(), 1u);
  EXPECT_NE(fp.warnings()[0].find("recreated " + path), std::string::npos) << fp.warnings()[0];
  UniqueFd pinned(bpf_obj_get(path.c_str()));
  bpf_map_info info{};
  __u32 len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(pinned.get(), &info, &len), 0);
  EXPECT_EQ(info.value_size, sizeof(sw_flow)) << "the new layout is pinned now";
}

TEST_F(Lifecycle, CountersOfAnotherLayoutAreRecreatedWithoutAsking) {
  ASSERT_TRUE(dataplane::ensure_bpffs_dir(pin_dir_).ok());
  // An older build had fewer reasons: a smaller per-CPU value.
  UniqueFd old(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "sw_stats", 4, 64, 1, nullptr));
  ASSERT_TRUE(old.valid()) << std::strerror(errno);
  const std::string path = pin_dir_ + "/sw_stats";
  ASSERT_EQ(bpf_obj_pin(old.get(), path.c_str()), 0);

  XdpFastpath fp = must_load(small(pin_dir_));  // no reset requested
  ASSERT_EQ(fp.warnings().size(), 1u);
  EXPECT_NE(fp.warnings()[0].find("recreated " + path), std::string::npos) << fp.warnings()[0];
  EXPECT_TRUE(fp.stats().read().ok());
}

TEST_F(Lifecycle, ChangedFlowTableSizeKeepsThePinnedTableAndSaysSo) {
  {
    XdpFastpath first = must_load(small(pin_dir_));
    ASSERT_TRUE(first.flows().insert(client_flow(false), FlowOrigin::cookie).ok());
  }
  LoadOptions bigger = small(pin_dir_);
  bigger.flow_table_size = 2048;
  XdpFastpath second = must_load(bigger);
  ASSERT_EQ(second.warnings().size(), 1u);
  EXPECT_NE(second.warnings()[0].find("1024 entries instead of the configured 2048"), std::string::npos)
      << second.warnings()[0];
  EXPECT_EQ(*second.flows().count(), 1u);
}

TEST_F(Lifecycle, UnpinRemovesThePinsAndTheDirectory) {
  XdpFastpath fp = must_load(small(pin_dir_));
  ASSERT_TRUE(fp.unpin().ok());
  struct stat st {};
  EXPECT_NE(stat(pin_dir_.c_str(), &st), 0);
  EXPECT_TRUE(fp.flows().insert(client_flow(false), FlowOrigin::admin).ok()) << "maps live on";
}

TEST_F(Lifecycle, PinDirOutsideABpffsIsRejected) {
  auto r = XdpFastpath::load(small("/tmp/synwarden-not-bpffs/eth0"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is not on a bpffs"), std::string::npos) << r.error().message;
}

TEST_F(Lifecycle, AttachesNativelyAndDetachesOnDestroy) {
  const int ifindex = make_veth("swa0", "swa1", 1);
  {
    XdpFastpath fp = must_load(small(""));
    auto mode = fp.attach(ifindex);
    ASSERT_TRUE(mode.ok()) << mode.error().message;
    EXPECT_EQ(*mode, AttachMode::native) << "veth supports native XDP";
    const auto q = query(ifindex);
    EXPECT_EQ(q.attach_mode, XDP_ATTACHED_DRV);
    EXPECT_EQ(q.prog_id, fp.program_id());
    EXPECT_FALSE(fp.attach(ifindex).ok()) << "a second attach of the same object is refused";
  }
  EXPECT_EQ(query(ifindex).attach_mode, XDP_ATTACHED_NONE);
}

TEST_F(Lifecycle, GenericModeOnRequest) {
  const int ifindex = make_veth("swb0", "swb1", 1);
  XdpFastpath fp = must_load(small(""));
  AttachOptions o;
  o.mode = AttachMode::generic;
  auto mode = fp.attach(ifindex, o);
  ASSERT_TRUE(mode.ok()) << mode.error().message;
  EXPECT_EQ(*mode, AttachMode::generic);
  EXPECT_EQ(query(ifindex).attach_mode, XDP_ATTACHED_SKB);
  ASSERT_TRUE(fp.detach().ok());
  EXPECT_EQ(query(ifindex).attach_mode, XDP_ATTACHED_NONE);
}

TEST_F(Lifecycle, RestartKeepsTheOldProgramForwardingUntilReplaced) {
  const int ifindex = make_veth("swc0", "swc1", 1);
  std::uint32_t old_id = 0;
  {
    XdpFastpath daemon = must_load(small(pin_dir_));
    configure(daemon, true);
    ASSERT_TRUE(daemon.flows().insert(client_flow(false), FlowOrigin::cookie).ok());
    AttachOptions o;
    o.detach_on_destroy = false;
    ASSERT_TRUE(daemon.attach(ifindex, o).ok());
    old_id = daemon.program_id();
  }  // the daemon exits

  EXPECT_EQ(query(ifindex).prog_id, old_id) << "the program must stay attached";
  UniqueFd orphan(bpf_prog_get_fd_by_id(old_id));
  ASSERT_TRUE(orphan.valid());
  const Bytes frame = ack_frame();
  EXPECT_EQ(verdict_name(run_raw(orphan.get(), frame)), "XDP_TX")
      << "established flows keep being forwarded";

  XdpFastpath restarted = must_load(small(pin_dir_));
  auto counters = restarted.stats().read();
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ((*counters)[SW_R_FWD_ESTABLISHED].packets, 1u)
      << "the orphan counted into the pinned stats the new instance reads";
  auto mode = restarted.attach(ifindex);
  ASSERT_TRUE(mode.ok()) << mode.error().message;
  EXPECT_EQ(*mode, AttachMode::native);
  EXPECT_EQ(query(ifindex).prog_id, restarted.program_id()) << "replaced in place";
  EXPECT_NE(restarted.program_id(), old_id);
  EXPECT_EQ(run_frame(restarted, frame).last.reason, SW_R_FWD_ESTABLISHED);
}

TEST_F(Lifecycle, ForeignProgramIsNotReplacedUnlessAllowed) {
  const int ifindex = make_veth("swd0", "swd1", 1);
  UniqueFd foreign = foreign_program();
  ASSERT_TRUE(foreign.valid()) << std::strerror(errno);
  ASSERT_EQ(bpf_xdp_attach(ifindex, foreign.get(), XDP_FLAGS_DRV_MODE, nullptr), 0);
  const std::uint32_t foreign_id = query(ifindex).prog_id;

  XdpFastpath fp = must_load(small(""));
  auto refused = fp.attach(ifindex);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("'foreign'"), std::string::npos) << refused.error().message;
  EXPECT_EQ(query(ifindex).prog_id, foreign_id);

  AttachOptions o;
  o.replace_foreign = true;
  ASSERT_TRUE(fp.attach(ifindex, o).ok());
  EXPECT_EQ(query(ifindex).prog_id, fp.program_id());
}

// ---- AF_XDP steering with a bound socket ----

class XskSocket {
 public:
  XskSocket(const std::string& ifname, std::uint32_t queue) {
    size_ = kFrames * XSK_UMEM__DEFAULT_FRAME_SIZE;
    area_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area_ == MAP_FAILED) throw std::runtime_error("mmap umem");
    if (int e = xsk_umem__create(&umem_, area_, size_, &fill_, &comp_, nullptr); e) {
      throw std::runtime_error(std::string("xsk_umem__create: ") + std::strerror(-e));
    }
    xsk_socket_config cfg{};
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // synwarden's program steers
    cfg.bind_flags = XDP_COPY;                               // veth has no zero-copy
    if (int e = xsk_socket__create(&xsk_, ifname.c_str(), queue, umem_, &rx_, &tx_, &cfg); e) {
      throw std::runtime_error(std::string("xsk_socket__create: ") + std::strerror(-e));
    }
    __u32 idx = 0;
    const __u32 n = xsk_ring_prod__reserve(&fill_, kFrames / 2, &idx);
    for (__u32 i = 0; i < n; ++i) {
      *xsk_ring_prod__fill_addr(&fill_, idx + i) = static_cast<__u64>(i) * XSK_UMEM__DEFAULT_FRAME_SIZE;
    }
    xsk_ring_prod__submit(&fill_, n);
  }
  ~XskSocket() {
    if (xsk_) xsk_socket__delete(xsk_);
    if (umem_) xsk_umem__delete(umem_);
    if (area_ && area_ != MAP_FAILED) munmap(area_, size_);
  }
  XskSocket(const XskSocket&) = delete;
  XskSocket& operator=(const XskSocket&) = delete;

  int fd() const { return xsk_socket__fd(xsk_); }

  // The next received frame, or empty after `timeout_ms`.
  Bytes receive(int timeout_ms) {
    pollfd p{fd(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return {};
    __u32 idx = 0;
    if (xsk_ring_cons__peek(&rx_, 1, &idx) != 1) return {};
    const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, idx);
    const auto* data = static_cast<const std::uint8_t*>(xsk_umem__get_data(area_, d->addr));
    Bytes frame(data, data + d->len);
    xsk_ring_cons__release(&rx_, 1);
    return frame;
  }

 private:
  static constexpr __u32 kFrames = 256;
  std::size_t size_ = 0;
  void* area_ = nullptr;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  xsk_ring_prod fill_{}, tx_{};
  xsk_ring_cons comp_{}, rx_{};
};

Bytes syn_frame() {
  return FrameBuilder().eth(kFirewallMac, kRouterMac).vlan(100).ipv4(kClientV4, kHostV4)
      .tcp(kClientPort, kServicePort, SYN, 20).build();
}

TEST_F(Lifecycle, SynIsRedirectedOnlyToTheSocketOfItsOwnQueue) {
  const int ifindex = make_veth("swe0", "swe1", 2);
  XdpFastpath fp = must_load(small(""));
  configure(fp, true);
  XskSocket xsk("swe0", 0);
  ASSERT_TRUE(fp.xsks().set(0, xsk.fd()).ok());

  RunResult r = run_frame(fp, syn_frame(), ifindex, 0);
  EXPECT_EQ(verdict_name(r.verdict), "XDP_REDIRECT");
  EXPECT_EQ(r.last.reason, SW_R_XSK_SYN);
  EXPECT_EQ(r.last.rx_queue, 0u);

  r = run_frame(fp, syn_frame(), ifindex, 1);
  EXPECT_EQ(verdict_name(r.verdict), "XDP_DROP") << "queue 1 has no socket";
  EXPECT_EQ(r.last.reason, SW_R_XSK_SYN_NO_SOCKET);
  EXPECT_EQ(r.last.rx_queue, 1u);

  ASSERT_TRUE(fp.xsks().clear(0).ok());
  EXPECT_EQ(run_frame(fp, syn_frame(), ifindex, 0).last.reason, SW_R_XSK_SYN_NO_SOCKET);
  EXPECT_TRUE(fp.xsks().clear(0).ok()) << "clearing an empty slot is not an error";
}

TEST_F(Lifecycle, SteeredSynArrivesOnTheSocketUnchanged) {
  const int ifindex = make_veth("swf0", "swf1", 1);
  XdpFastpath fp = must_load(small(""));
  configure(fp, true);
  ASSERT_TRUE(fp.attach(ifindex).ok());
  XskSocket xsk("swf0", 0);
  ASSERT_TRUE(fp.xsks().set(0, xsk.fd()).ok());

  // Send the SYN into the peer end: it arrives on swf0's queue 0 and meets the program.
  UniqueFd raw(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(raw.valid()) << std::strerror(errno);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(if_nametoindex("swf1"));
  to.sll_halen = ETH_ALEN;
  const Bytes frame = syn_frame();
  ASSERT_EQ(sendto(raw.get(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof(to)),
            static_cast<ssize_t>(frame.size()))
      << std::strerror(errno);

  const Bytes got = xsk.receive(2000);
  EXPECT_EQ(got, frame) << "the worker must see the SYN as sent, VLAN tag included";
  auto counters = fp.stats().read();
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ((*counters)[SW_R_XSK_SYN].packets, 1u);
}

}  // namespace
}  // namespace synwarden::test
