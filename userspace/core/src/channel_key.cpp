#include "synwarden/channel_key.h"

#include "synwarden/private_file.h"
#include "synwarden/unique_fd.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

namespace synwarden {
namespace {

// Domain separation for the key id: the id is a MAC of this string, so it cannot be confused
// with any other use of the key.
constexpr char kKeyIdContext[] = "synwarden secret channel key id v1";

std::string errno_text(int err) { return std::strerror(err); }

void ensure_sodium() {
  if (sodium_init() < 0) {
    throw ChannelKeyError("libsodium failed to initialise (sodium_init); cannot handle channel keys");
  }
}

}  // namespace

ChannelKey::ChannelKey() {
  ensure_sodium();
  key_ = static_cast<uint8_t*>(sodium_malloc(kChannelKeyBytes));
  if (key_ == nullptr) throw std::bad_alloc();
}

ChannelKey::ChannelKey(ChannelKey&& other) noexcept
    : key_(std::exchange(other.key_, nullptr)), id_(other.id_) {}

ChannelKey& ChannelKey::operator=(ChannelKey&& other) noexcept {
  if (this != &other) {
    if (key_ != nullptr) sodium_free(key_);   // sodium_free wipes before unmapping
    key_ = std::exchange(other.key_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

ChannelKey::~ChannelKey() {
  if (key_ != nullptr) sodium_free(key_);
}

void ChannelKey::derive_id() noexcept {
  crypto_generichash(id_.data(), id_.size(), reinterpret_cast<const uint8_t*>(kKeyIdContext),
                     sizeof kKeyIdContext - 1, key_, kChannelKeyBytes);
}

ChannelKey ChannelKey::from_bytes(std::span<const uint8_t, kChannelKeyBytes> bytes) {
  ChannelKey key;
  std::memcpy(key.key_, bytes.data(), kChannelKeyBytes);
  key.derive_id();
  return key;
}

ChannelKey ChannelKey::generate() {
  ChannelKey key;
  randombytes_buf(key.key_, kChannelKeyBytes);
  key.derive_id();
  return key;
}

ChannelKey ChannelKey::load_file(const std::string& path) {
  std::string bytes;
  try {
    // One byte more than a key, so that a longer file is reported with its size.
    bytes = read_private_file(path, "channel key file", kChannelKeyBytes + 1);
  } catch (const PrivateFileError& e) {
    std::string why = e.what();
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
      why += " (create one with `synwarden-agent genkey --out " + path + "`)";
    }
    throw ChannelKeyError(why);
  }
  if (bytes.size() != kChannelKeyBytes) {
    throw ChannelKeyError("channel key file " + path + " has " + std::to_string(bytes.size()) +
                          " bytes; a key is exactly 32 raw random bytes (`synwarden-agent genkey`)");
  }
  ChannelKey key;
  std::memcpy(key.key_, bytes.data(), kChannelKeyBytes);
  sodium_memzero(bytes.data(), bytes.size());
  key.derive_id();
  return key;
}

void ChannelKey::write_new_file(const std::string& path) {
  ensure_sodium();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    throw ChannelKeyError("cannot create channel key file " + path + ": " + errno_text(errno) +
                          (errno == EEXIST ? " (refusing to overwrite an existing key)" : ""));
  }
  // The umask may have removed bits but never adds any; fchmod makes the mode exact.
  if (::fchmod(fd.get(), 0600) != 0) {
    throw ChannelKeyError("cannot set mode 0600 on " + path + ": " + errno_text(errno));
  }
  ChannelKey key = generate();
  size_t done = 0;
  while (done < kChannelKeyBytes) {
    const ssize_t n = ::write(fd.get(), key.key_ + done, kChannelKeyBytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::unlink(path.c_str());
      throw ChannelKeyError("cannot write channel key file " + path + ": " + errno_text(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    throw ChannelKeyError("cannot fsync channel key file " + path + ": " + errno_text(errno));
  }
}

}  // namespace synwarden
