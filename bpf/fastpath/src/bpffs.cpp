// bpffs handling: where pinned maps live.
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <string>

#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::dataplane {

namespace {

constexpr const char* kBpffsRoot = "/sys/fs/bpf";

bool is_bpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

// The deepest existing ancestor of `path` (or path itself).
std::string existing_ancestor(std::string path) {
  struct stat st {};
  while (!path.empty() && ::stat(path.c_str(), &st) != 0) {
    const auto slash = path.find_last_of('/');
    path = slash == 0 ? "/" : (slash == std::string::npos ? std::string{} : path.substr(0, slash));
  }
  return path.empty() ? "." : path;
}

Result<void> mkdir_p(const std::string& dir) {
  for (std::size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return os_error(errno, "creating pin directory " + part);
    }
  }
  return {};
}

}  // namespace

std::string default_pin_dir(const std::string& ifname) {
  return std::string(kBpffsRoot) + "/synwarden/" + ifname;
}

Result<void> ensure_bpffs_dir(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return logic_error("pin directory '" + dir + "' must be an absolute path on a bpffs");
  }
  const std::string base = existing_ancestor(dir);
  if (!is_bpffs(base)) {
    const bool under_default = dir.rfind(std::string(kBpffsRoot) + "/", 0) == 0;
    if (!under_default || is_bpffs(kBpffsRoot)) {
      return logic_error("pin directory " + dir + " is not on a bpffs (" + base +
                         " is not); mount one there with: mount -t bpf bpf <dir>");
    }
    // Debian does not mount bpffs by default; systemd-less systems neither.
    if (::mount("bpf", kBpffsRoot, "bpf", 0, "mode=0700") != 0) {
      return os_error(errno, std::string("mounting bpffs on ") + kBpffsRoot,
                      "mount it by hand (mount -t bpf bpf /sys/fs/bpf) or run as root");
    }
  }
  return mkdir_p(dir);
}

}  // namespace synwarden::dataplane
