#include "secrets_files.h"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log.h"
#include "synwarden/clock_now.h"
#include "synwarden/secrets.h"

namespace synwarden::daemon {

namespace {

// The firewall's CLOCK_MONOTONIC (ms) at the moment the file was last written: now minus the
// file's age on the wall clock. A file from the future (wall clock stepped back) counts as new.
uint64_t local_ms_at_mtime(int64_t mtime_ns) {
  const auto wall_ns = static_cast<int64_t>(clock_now_ns(CLOCK_REALTIME));
  const int64_t age_ns = std::max<int64_t>(0, wall_ns - mtime_ns);
  const int64_t local_ns = std::max<int64_t>(0, static_cast<int64_t>(monotonic_ns()) - age_ns);
  return static_cast<uint64_t>(local_ns / 1'000'000);
}

}  // namespace

SecretsFiles::SecretsFiles(const std::vector<ProtectedHostConfig>& hosts) {
  for (const auto& host : hosts) {
    FileState state;
    state.host = host.address.to_string();
    state.path = host.secrets_file;
    state_.push_back(std::move(state));
  }
}

void SecretsFiles::reconfigure(const std::vector<ProtectedHostConfig>& hosts) {
  std::vector<FileState> next;
  next.reserve(hosts.size());
  for (const auto& host : hosts) {
    const std::string name = host.address.to_string();
    const auto same = std::find_if(state_.begin(), state_.end(), [&](const FileState& s) {
      return s.host == name && s.path == host.secrets_file;
    });
    if (same != state_.end()) {
      next.push_back(std::move(*same));
      continue;
    }
    FileState state;
    state.host = name;
    state.path = host.secrets_file;
    next.push_back(std::move(state));
  }
  state_ = std::move(next);
}

SecretsFreshness SecretsFiles::freshness(size_t host, uint64_t now_ms) const {
  const FileState& file = state_.at(host);
  SecretsFreshness f;
  f.source = "file";
  f.location = file.path.string();
  f.last_error = file.last_error;
  if (!file.keys) {
    f.state = "no_secrets";
  } else {
    f.state = file.last_error.empty() ? "fresh" : "holding";
    const uint64_t at = file.keys->clock.local_ms();
    f.last_update_age_ms = now_ms > at ? now_ms - at : 0;
  }
  return f;
}

bool SecretsFiles::refresh() {
  bool changed = false;
  for (auto& file : state_) changed |= refresh_one(file);
  return changed;
}

bool SecretsFiles::refresh_one(FileState& file) {
  struct stat st {};
  if (::stat(file.path.c_str(), &st) != 0) {
    const std::string error = "host " + file.host + ": cannot stat secrets file " +
                              file.path.string() + ": " +
                              std::strerror(errno) +
                              (file.keys ? " (keeping the last good secrets)" : " (the host's "
                                                                                 "fail policy applies)");
    if (error != file.last_error) log_error(error);
    file.last_error = error;
    file.seen = false;
    return false;
  }
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                           st.st_mtim.tv_nsec;
  const int64_t ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 +
                           st.st_ctim.tv_nsec;
  if (file.seen && file.inode == st.st_ino && file.size == st.st_size &&
      file.mtime_ns == mtime_ns && file.ctime_ns == ctime_ns) {
    return false;
  }
  file.seen = true;
  file.inode = st.st_ino;
  file.size = st.st_size;
  file.mtime_ns = mtime_ns;
  file.ctime_ns = ctime_ns;
  try {
    // The host's cookie keys: a file others can read would let them forge cookies.
    HostSecrets secrets = load_private_secrets_file(file.path);
    if (secrets.has_uninitialised_keys()) {
      log_warning("host " + file.host + ": secrets file " + file.path.string() +
                  " has all-zero keys: the host's kernel has not initialised them yet, so "
                  "cookies made now stop validating once it does");
    }
    HostClock clock(secrets.clock, local_ms_at_mtime(mtime_ns));
    if (file.keys && file.keys->secrets == secrets && file.keys->clock.local_ms() == clock.local_ms()) {
      return false;
    }
    file.keys.emplace(HostKeys{std::move(secrets), clock});
    file.last_error.clear();
    log_info("host " + file.host + ": loaded secrets from " + file.path.string());
    return true;
  } catch (const std::exception& e) {
    const std::string error = "host " + file.host + ": " + e.what() +
                              (file.keys ? " (keeping the last good secrets)"
                                         : " (the host's fail policy applies)");
    if (error != file.last_error) log_error(error);
    file.last_error = error;
    return false;
  }
}

}  // namespace synwarden::daemon
