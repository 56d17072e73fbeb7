#include "synwarden/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "synwarden/unique_fd.h"

namespace synwarden {

std::string read_private_file(const std::string& path, const std::string& what, size_t max_bytes) {
  // O_NOFOLLOW: the checks below must be about the file we read, not a symlink's target that
  // someone could swap in.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ELOOP) {
      throw PrivateFileError(what + " " + path +
                             " is a symbolic link; point the configuration at the real file");
    }
    throw PrivateFileError("cannot open " + what + " " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw PrivateFileError("cannot stat " + what + " " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw PrivateFileError(what + " " + path + " is not a regular file");
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw PrivateFileError("refusing " + what + " " + path + ": mode " + mode +
                           " lets group or others access it, and whoever reads it can forge "
                           "this host's cookies or secrets. Run `chmod 600 " + path + "`");
  }
  if (st.st_uid != ::geteuid()) {
    throw PrivateFileError("refusing " + what + " " + path + ": owned by uid " +
                           std::to_string(st.st_uid) +
                           ", not by the user running this program (uid " +
                           std::to_string(::geteuid()) + "); `chown` it to that user");
  }
  if (static_cast<unsigned long long>(st.st_size) > max_bytes) {
    throw PrivateFileError(what + " " + path + " has " + std::to_string(st.st_size) +
                           " bytes, more than the " + std::to_string(max_bytes) + " expected");
  }
  std::string content;
  content.resize(max_bytes);
  size_t got = 0;
  for (;;) {
    if (got == content.size()) break;
    const ssize_t n = ::read(fd.get(), content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw PrivateFileError("cannot read " + what + " " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  content.resize(got);
  return content;
}

}  // namespace synwarden
