// FlowSink over the XDP program's pinned established map (dataplane::FlowTable): where a worker
// registers the flow of a valid cookie ACK, so the rest of the connection is forwarded by XDP.
// One bpf(BPF_MAP_UPDATE_ELEM) syscall per valid ACK — the one per-packet syscall the design
// allows; its cost is measured by tests/integration/measure_map_update (see the README).
#pragma once

#include "packet_handler.h"
#include "synwarden/dataplane/tables.h"

namespace synwarden::daemon {

class EstablishedMap final : public FlowSink {
 public:
  explicit EstablishedMap(dataplane::FlowTable& table) : table_(table) {}
  // Thread-safe: the table holds only an fd; the kernel serialises map updates.
  bool insert(const sw_flow_key& key) noexcept override;

 private:
  dataplane::FlowTable& table_;
};

}  // namespace synwarden::daemon
