#include "host_bpf_util.h"

#include <bpf/bpf.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace synwarden::host_bpf {
namespace {

constexpr const char* kBpffsRoot = "/sys/fs/bpf";

std::mutex g_log_mutex;
std::string* g_log_sink = nullptr;

// libbpf prints the whole verifier log with one "%s": its verdict is at the end, so the message
// is formatted whole and the sink keeps its last 64 KiB.
int collect_libbpf_output(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG || g_log_sink == nullptr) return 0;
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  if (n > 0) {
    std::string line(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(line.data(), line.size(), fmt, again);
    line.resize(static_cast<size_t>(n));
    g_log_sink->append(line);
    constexpr size_t kKeep = 64 * 1024;
    if (g_log_sink->size() > kKeep) g_log_sink->erase(0, g_log_sink->size() - kKeep);
  }
  va_end(again);
  return 0;
}

bool is_bpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

void make_private_dirs(const std::string& dir) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty() || partial.size() <= std::strlen(kBpffsRoot)) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      throw std::runtime_error("cannot create pin directory " + partial + ": " + errno_text(errno));
    }
  }
  // Pinned key state is as sensitive as the kernel's own keys: root only.
  if (::chmod(dir.c_str(), 0700) != 0) {
    throw std::runtime_error("cannot restrict pin directory " + dir + " to root: " +
                             errno_text(errno));
  }
}

}  // namespace

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

LibbpfLogCapture::LibbpfLogCapture(std::string& sink) : lock_(g_log_mutex) {
  g_log_sink = &sink;
  previous_ = libbpf_set_print(collect_libbpf_output);
}

LibbpfLogCapture::~LibbpfLogCapture() {
  libbpf_set_print(previous_);
  g_log_sink = nullptr;
}

std::string log_tail(const std::string& log) {
  constexpr size_t kTail = 2000;
  return log.size() <= kTail ? log : "..." + log.substr(log.size() - kTail);
}

void prepare_pin_dir(const std::string& dir) {
  if (dir.rfind(kBpffsRoot, 0) == 0 && !is_bpffs(kBpffsRoot)) {
    // Debian without systemd's mount unit, or a fresh network namespace's /sys: mount it.
    if (::mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") != 0) {
      throw std::runtime_error(std::string("no BPF filesystem on ") + kBpffsRoot +
                               " and mounting one failed: " + errno_text(errno) +
                               " (mount it with `mount -t bpf bpf /sys/fs/bpf`)");
    }
  }
  make_private_dirs(dir);
  if (!is_bpffs(dir)) {
    throw std::runtime_error("pin directory " + dir +
                             " is not on a BPF filesystem; use a directory under /sys/fs/bpf");
  }
}

void restrict_pin(const std::string& path) {
  if (::chmod(path.c_str(), 0600) != 0) {
    throw std::runtime_error("cannot restrict " + path + " to root: " + errno_text(errno));
  }
}

void remove_pins(const std::string& dir, std::initializer_list<const char*> names) {
  for (const char* name : names) ::unlink((dir + "/" + name).c_str());
  std::string d = dir;
  for (int level = 0; level < 2 && d.size() > std::strlen("/sys/fs/bpf/"); ++level) {
    if (::rmdir(d.c_str()) != 0) break;  // not empty (other pins): leave it and its parent
    d = d.substr(0, d.find_last_of('/'));
  }
}

bpf_tc_hook tc_hook(int ifindex, bpf_tc_attach_point where) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = ifindex;
  hook.attach_point = where;
  return hook;
}

bpf_tc_opts tc_filter(uint32_t handle, uint32_t priority, int prog_fd) {
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.handle = handle;
  opts.priority = priority;
  opts.prog_fd = prog_fd;
  return opts;
}

void sum_percpu_counters(int map_fd, uint32_t count, uint64_t* out) {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) throw std::runtime_error("cannot count possible CPUs: " + errno_text(ncpu));
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  for (uint32_t i = 0; i < count; ++i) {
    if (bpf_map_lookup_elem(map_fd, &i, per_cpu.data()) != 0) {
      throw std::runtime_error("cannot read counter " + std::to_string(i) + ": " +
                               errno_text(errno));
    }
    out[i] = 0;
    for (uint64_t v : per_cpu) out[i] += v;
  }
}

}  // namespace synwarden::host_bpf
