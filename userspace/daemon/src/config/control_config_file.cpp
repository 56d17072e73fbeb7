#include "control_config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "synwarden/strict_json.h"
#include "synwarden/unique_fd.h"

namespace synwarden::daemon {

namespace {

[[noreturn]] void fail(const std::string& step, const std::filesystem::path& path, int error) {
  throw std::runtime_error(step + " " + path.string() + ": " + std::strerror(error));
}

}  // namespace

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file " + path.string() +
                      ": check that it exists and is readable by this user");
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

DaemonConfig parse_config_document(const nlohmann::ordered_json& document) {
  return parse_config(nlohmann::json(document));
}

LoadedConfig read_config_file(const std::filesystem::path& path) {
  LoadedConfig loaded;
  loaded.text = read_text_file(path);
  try {
    loaded.document = parse_ordered_json_strict(loaded.text);
  } catch (const JsonInputError& e) {
    throw ConfigError(path.string() + ": config key '" + e.key_path() + "': " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, or out_of_range.406 for a number beyond double ("1e400"; found by fuzzing).
    throw ConfigError("config file " + path.string() + " is not valid JSON: " + e.what());
  }
  try {
    loaded.config = parse_config_document(loaded.document);
  } catch (const ConfigError& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
  return loaded;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  // Write next to the real file: renaming over a symlink would replace the link itself.
  const std::filesystem::path target = std::filesystem::weakly_canonical(path, ec);
  if (ec) fail("resolving", path, ec.value());
  const std::filesystem::path temp = target.string() + ".tmp";

  struct stat old {};
  const bool existed = ::stat(target.c_str(), &old) == 0;
  if (!existed && errno != ENOENT) fail("stat", target, errno);
  // A new file gets 0640: the config names key files and is no one else's business.
  const mode_t mode = existed ? (old.st_mode & 07777) : 0640;

  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) fail("creating", temp, errno);
  // fchmod after open: the umask must not widen or narrow the operator's chosen mode.
  if (::fchmod(fd.get(), mode) != 0) fail("setting the mode of", temp, errno);
  if (existed && ::fchown(fd.get(), old.st_uid, old.st_gid) != 0 && errno != EPERM) {
    fail("setting the owner of", temp, errno);
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::unlink(temp.c_str());
      fail("writing", temp, error);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    fail("fsync of", temp, error);
  }
  if (::close(fd.release()) != 0) fail("closing", temp, errno);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    fail("renaming " + temp.string() + " over", target, error);
  }
  // The rename is durable only once the directory entry is.
  const std::filesystem::path dir = target.parent_path().empty() ? "." : target.parent_path();
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) fail("opening directory", dir, errno);
  if (::fsync(dir_fd.get()) != 0) fail("fsync of directory", dir, errno);
}

std::optional<size_t> ConfigDocument::host_index(const IpAddress& address) const {
  const auto& hosts = document_.at("protected_hosts");
  for (size_t i = 0; i < hosts.size(); ++i) {
    const auto ip = IpAddress::parse(hosts[i].at("address").get<std::string>());
    if (ip && *ip == address) return i;
  }
  return std::nullopt;
}

ConfigDocument::Saved ConfigDocument::not_saved(std::string why) {
  unsaved_ = true;
  last_persist_error_ = why;
  return {false, std::move(why)};
}

ConfigDocument::Saved ConfigDocument::commit(nlohmann::ordered_json next, bool persist) {
  document_ = std::move(next);
  if (!persist) {
    unsaved_ = true;
    return {false,
            "runtime only (api.persist_changes is false): a reload or restart returns to the file"};
  }
  std::string current;
  try {
    current = read_text_file(path_);
  } catch (const ConfigError& e) {
    return not_saved(e.what());
  }
  if (current != text_) {
    return not_saved("the config file changed on disk since the daemon last read it; those edits "
                     "were not overwritten (reload to adopt them, then repeat this change)");
  }
  std::string text = document_.dump(2) + "\n";
  try {
    write_file_atomically(path_, text);
  } catch (const std::exception& e) {
    return not_saved(std::string("saving the config file failed: ") + e.what());
  }
  text_ = std::move(text);
  unsaved_ = false;
  last_persist_error_.clear();
  return {true, ""};
}

void ConfigDocument::adopt(std::string text, nlohmann::ordered_json document) {
  text_ = std::move(text);
  document_ = std::move(document);
  unsaved_ = false;
  last_persist_error_.clear();
}

nlohmann::json ConfigDocument::status_json() const {
  return {{"path", path_.string()},
          {"unsaved_changes", unsaved_},
          {"last_persist_error", last_persist_error_.empty()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(last_persist_error_)}};
}

}  // namespace synwarden::daemon
