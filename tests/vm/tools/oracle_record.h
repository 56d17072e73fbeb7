// The oracle's record file: what sw_vm_oracle saw in the guest, line by line, for
// oracle_compare to replay on the build machine.
//
//   SWREC 1 <seed>
//   PHASE <name> <module mono_ns> <HostSecrets JSON, one line>
//   SYN <phase> <t_send_ns> <t_recv_ns> <SYN frame hex> <kernel SYN-ACK frame hex>
//   MISS <phase> <SYN frame hex>               (no SYN-ACK within 3 s)
//   DONE <number of SYN lines>
//
// Times are the guest's CLOCK_MONOTONIC, the clock of the kernel's TCP timestamps.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace synwarden::vmtest {

inline constexpr int kRecordFormatVersion = 1;

class RecordWriter {
 public:
  RecordWriter(std::ostream& out, uint64_t seed);
  void phase(const std::string& name, uint64_t mono_ns, const std::string& secrets_json);
  void exchange(const std::string& phase, uint64_t t_send_ns, uint64_t t_recv_ns,
                const std::vector<uint8_t>& syn, const std::vector<uint8_t>& synack);
  void missing(const std::string& phase, const std::vector<uint8_t>& syn);
  void done();  // throws if the stream failed
  unsigned exchanges() const noexcept { return exchanges_; }

 private:
  std::ostream& out_;
  unsigned exchanges_ = 0;
};

struct PhaseRecord {
  std::string name;
  uint64_t mono_ns = 0;
  std::string secrets_json;
};

struct ExchangeRecord {
  size_t phase = 0;  // index into RecordFile::phases
  size_t line = 0;
  uint64_t t_send_ns = 0;
  uint64_t t_recv_ns = 0;
  std::vector<uint8_t> syn;
  std::vector<uint8_t> synack;
};

struct RecordFile {
  uint64_t seed = 0;
  std::vector<PhaseRecord> phases;
  std::vector<ExchangeRecord> exchanges;
  std::vector<std::vector<uint8_t>> missing;  // SYNs the kernel did not answer
  bool complete = false;                      // DONE seen with a matching count
};

// Parses a record file. Throws std::runtime_error naming the line at fault.
RecordFile read_records(std::istream& in);

}  // namespace synwarden::vmtest
