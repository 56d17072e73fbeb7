// Reading files that hold secrets (channel keys, a host's cookie keys): only a regular file,
// not a symbolic link, owned by the user running us, that group and others cannot access.
// Anyone who can read such a file can mint or forge cookies for the host, so a file that fails
// these checks is refused, not warned about.
#pragma once

#include <stdexcept>
#include <string>

namespace synwarden {

class PrivateFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The whole content of `path`, at most `max_bytes`. `what` names the file in messages
// ("channel key file"). Throws PrivateFileError saying what is wrong and the command that fixes
// it (chmod 600, chown, point at the real file).
std::string read_private_file(const std::string& path, const std::string& what, size_t max_bytes);

}  // namespace synwarden
