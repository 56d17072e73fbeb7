// Every protected host's cookie keys as the workers should use them, whichever source delivers
// them (a static secrets file read by the control thread, or the host's agent polled by the
// secret-poller thread), plus what the operator needs to see about them (/status).
//
// Per host it keeps:
// - the current keys and a clock model anchored at the sample's local receive time;
// - after the cookie keys change (agent key rotation, host reboot, new secrets file), the previous
//   keys for kPreviousKeysMs: cookies minted with them just before the change are still in
//   flight, and the host accepts them (a BPF-mode agent keeps its previous generation valid for
//   its overlap; the kernel's MAX_SYNCOOKIE_AGE gives a cookie two minutes);
// - the source's state (SecretsState: no_secrets / fresh / holding / expired). While the fail
//   policy applies (no_secrets, expired) the workers get no keys.
//
// A change the workers must see (new keys or settings, a state that switches the fail policy, a
// clock re-anchor) marks the book dirty and makes changes_fd() readable; the control thread then
// builds one new snapshot for all pending changes (take_changes()). A reply that only confirms
// what the workers already have changes nothing but the freshness timestamps, so a steady state
// of N agents polled every second does not rebuild the snapshot N times a second.
//
// Thread-safe: one mutex, taken per poll reply or file load and per snapshot build, never by
// workers.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "control_freshness.h"
#include "snapshot.h"
#include "synwarden/channel_poller.h"
#include "synwarden/secrets.h"

namespace synwarden::daemon {

// A cookie lives two minutes: the host accepts counts c and c-1 (MAX_SYNCOOKIE_AGE = 2 in
// include/net/tcp.h, checked in __cookie_v4_check()). One more second covers the time between
// the change arriving here and the workers switching to the new snapshot.
inline constexpr uint64_t kPreviousKeysMs = 2 * 60 * 1000 + 1000;
// Re-anchor the clock model at least this often (the safety margin for clock-rate drift grows
// with the sample's age: 1000 ppm of 60 s is 60 ms behind) or when a new sample disagrees with
// the extrapolation by more than kClockStepMs (the host's clock was stepped, or it rebooted).
inline constexpr uint64_t kReanchorMs = 60'000;
inline constexpr uint64_t kClockStepMs = 20;

class HostSecretsBook {
 public:
  HostSecretsBook();
  ~HostSecretsBook();
  HostSecretsBook(const HostSecretsBook&) = delete;
  HostSecretsBook& operator=(const HostSecretsBook&) = delete;

  // The hosts to track. A host whose address and source are unchanged keeps its keys and state
  // (a reload must not drop secrets); others start with none. Marks the book dirty.
  void set_hosts(const std::vector<ProtectedHostConfig>& hosts, uint64_t now_ms);

  // Valid secrets for `host`, whose clock sample was current at firewall CLOCK_MONOTONIC
  // `sample_local_ms`. Ignored for an address the book does not track.
  void offer(const IpAddress& host, const HostSecrets& secrets, uint64_t sample_local_ms);
  // The source's state (SecretPoller's) and why it changed (no secret material).
  void set_state(const IpAddress& host, SecretsState state, const std::string& why);
  // Hosts carried over by set_hosts() whose new source has not confirmed them within their hold
  // time expire here (called periodically by the control thread).
  void tick(uint64_t now_ms);

  // Readable (eventfd) while changes wait for take_changes().
  int changes_fd() const noexcept { return event_fd_; }
  // Clears the pending flag and the eventfd; true if the workers' snapshot must be rebuilt.
  bool take_changes();

  // Fills `entry.keys`, `entry.previous_keys` and `entry.previous_until_ms` for the host at
  // entry.address as the workers should see them at `now_ms`.
  void fill_worker_keys(HostEntry& entry, uint64_t now_ms) const;

  // How current the host's secrets are (GET /status); nullopt for an address not tracked.
  std::optional<SecretsFreshness> freshness(const IpAddress& host, uint64_t now_ms) const;
  // Whether ACKs for the host are also checked with its previous keys at `now_ms`.
  bool previous_keys_active(const IpAddress& host, uint64_t now_ms) const;

 private:
  struct Record {
    std::string source;                      // secrets_source_of()
    std::string kind;                        // "agent" / "file"
    std::string location;                    // the agent's address / the file's path
    std::string last_error;                  // why the source is failing, "" when it is not
    FailPolicy fail_policy = kDefaultFailPolicy;  // set from the host's config
    uint32_t hold_ms = 0;                    // agent hosts: how long unconfirmed keys may stay
    std::optional<HostKeys> current;
    std::optional<HostKeys> previous;
    uint64_t previous_until_ms = 0;
    SecretsState state = SecretsState::kNoSecrets;
    std::optional<uint64_t> last_update_ms;
    std::optional<uint64_t> confirm_by_ms;   // carried over by a reload, not yet confirmed
    uint64_t key_changes = 0;
  };

  void mark_dirty_locked();

  mutable std::mutex mutex_;
  std::map<IpAddress, Record> hosts_;
  bool dirty_ = false;
  int event_fd_ = -1;
};

// "agent 192.0.2.10:7070" / "file /etc/synwarden/web1.json": where a host's secrets come from.
std::string secrets_source_of(const ProtectedHostConfig& host);

}  // namespace synwarden::daemon
