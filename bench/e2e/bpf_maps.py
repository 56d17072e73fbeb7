"""Reads per-CPU u64 counters out of BPF array maps by map id, with the bpf(2) syscall directly.

Why not bpftool: forking a tool takes tens of milliseconds on a loaded machine, and a rate is
only as good as the instant its counter was read. A lookup through ctypes takes microseconds.
"""
import ctypes
import os
import struct

_NR_BPF = 321  # x86_64
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_GET_FD_BY_ID = 14
_ATTR_SIZE = 128  # larger than every union bpf_attr member used here; the kernel zero-checks
                  # only what lies beyond its own union size

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
    ret = _libc.syscall(_NR_BPF, cmd, buf, _ATTR_SIZE)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf(cmd {cmd}): {os.strerror(err)}")
    return ret


def _possible_cpus():
    with open("/sys/devices/system/cpu/possible") as f:
        text = f.read().strip()
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


class PerCpuCounters:
    """A BPF_MAP_TYPE_PERCPU_ARRAY of u64, opened by id; read(i) sums entry i over CPUs."""

    def __init__(self, map_id):
        self.fd = _bpf(BPF_MAP_GET_FD_BY_ID, struct.pack("=III", map_id, 0, 0))
        self.ncpu = _possible_cpus()
        self._value = ctypes.create_string_buffer(8 * self.ncpu)

    def read(self, index):
        key = ctypes.c_uint32(index)
        attr = struct.pack("=IIQQQ", self.fd, 0, ctypes.addressof(key),
                           ctypes.addressof(self._value), 0)
        _bpf(BPF_MAP_LOOKUP_ELEM, attr)
        return sum(struct.unpack(f"={self.ncpu}Q", self._value.raw))

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self):
        self.close()
