// sw_vm_runas (guest): runs a command as an unprivileged user, to show that the module's file
// refuses anyone but root. Usage: sw_vm_runas UID COMMAND [ARGS...]
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: sw_vm_runas UID COMMAND [ARGS...]\n");
    return 2;
  }
  const auto id = static_cast<uid_t>(std::strtoul(argv[1], nullptr, 10));
  if (::setgroups(0, nullptr) < 0 || ::setgid(id) < 0 || ::setuid(id) < 0) {
    std::fprintf(stderr, "sw_vm_runas: cannot drop to uid %u: %s\n", id, std::strerror(errno));
    return 2;
  }
  ::execvp(argv[2], argv + 2);
  std::fprintf(stderr, "sw_vm_runas: cannot run %s: %s\n", argv[2], std::strerror(errno));
  return 127;
}
