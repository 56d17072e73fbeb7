// The per-host pre-shared key of the secret channel: 32 random bytes in a file that only its
// owner can read. Held in libsodium guarded memory (locked, never swapped, guard pages, wiped on
// release), so the key does not end up in core dumps or swap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace synwarden {

inline constexpr size_t kChannelKeyBytes = 32;   // crypto_aead_xchacha20poly1305_ietf_KEYBYTES
inline constexpr size_t kChannelKeyIdBytes = 8;

using ChannelKeyId = std::array<uint8_t, kChannelKeyIdBytes>;

// Thrown by ChannelKey::load_file() with a message naming the file, what is wrong and how to
// fix it. Never contains key bytes.
class ChannelKeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ChannelKey {
 public:
  // Copies `bytes` into guarded memory. The caller wipes its own copy.
  static ChannelKey from_bytes(std::span<const uint8_t, kChannelKeyBytes> bytes);
  // A fresh random key (for `synwarden-agent genkey` and tests).
  static ChannelKey generate();
  // Reads a key file: a regular file of exactly 32 bytes, owned by the effective user, with no
  // permission bits for group or others (0600 or 0400). Anything else is refused, because a
  // key another local user can read lets them forge this host's secrets to the firewall.
  static ChannelKey load_file(const std::string& path);
  // Writes a fresh key to `path` with mode 0600, refusing to overwrite an existing file.
  static void write_new_file(const std::string& path);

  ChannelKey(ChannelKey&& other) noexcept;
  ChannelKey& operator=(ChannelKey&& other) noexcept;
  ChannelKey(const ChannelKey&) = delete;
  ChannelKey& operator=(const ChannelKey&) = delete;
  ~ChannelKey();

  // The key bytes, for the AEAD calls only.
  const uint8_t* data() const noexcept { return key_; }
  // Keyed BLAKE2b-64 of a fixed context: identifies the key in every datagram header without
  // revealing anything about it.
  const ChannelKeyId& id() const noexcept { return id_; }

 private:
  ChannelKey();
  void derive_id() noexcept;

  uint8_t* key_ = nullptr;   // sodium_malloc'd, kChannelKeyBytes
  ChannelKeyId id_{};
};

}  // namespace synwarden
