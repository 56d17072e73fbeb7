#!/usr/bin/python3
"""Independent check of SYN-ACK frames built by synwarden's codec (synack_frame_test).

Reads a pcap, dissects every frame with scapy, recomputes the IPv4 header and TCP checksums
with scapy's own code, and prints one JSON object per frame (a JSON list on stdout) with the
fields the C++ test compares against its expectations. Exit status 3 if scapy is missing, so
the calling test fails with a clear message instead of skipping.
"""
import json
import sys

try:
    from scapy.all import Ether, Dot1Q, Dot1AD, IP, IPv6, TCP, Padding, rdpcap
except ImportError as exc:  # pragma: no cover - environment problem, reported to the test
    print(f"scapy is not importable by {sys.executable}: {exc}; "
          "install the Debian package python3-scapy (scripts/install-deps.sh)", file=sys.stderr)
    sys.exit(3)


def option_list(tcp):
    out = []
    for name, value in tcp.options:
        if name == "MSS":
            out.append(f"MSS={value}")
        elif name == "WScale":
            out.append(f"WScale={value}")
        elif name == "Timestamp":
            out.append(f"Timestamp={value[0]},{value[1]}")
        elif name in ("NOP", "SAckOK", "EOL"):
            out.append(name)
        else:
            out.append(f"{name}={value!r}")
    return out


def checksums_ok(frame):
    """Rebuild the frame with scapy computing the checksums and compare with the stored ones."""
    fresh = frame.copy()
    if IP in fresh:
        del fresh[IP].chksum
    del fresh[TCP].chksum
    rebuilt = Ether(bytes(fresh))
    ip_ok = rebuilt[IP].chksum == frame[IP].chksum if IP in frame else None
    return ip_ok, rebuilt[TCP].chksum == frame[TCP].chksum


def describe(frame):
    raw = bytes(frame)
    d = {"len": len(raw), "eth_dst": frame[Ether].dst, "eth_src": frame[Ether].src, "vlans": []}
    layer = frame[Ether].payload
    while isinstance(layer, (Dot1Q, Dot1AD)):
        tpid = 0x88A8 if isinstance(layer, Dot1AD) else 0x8100
        d["vlans"].append([tpid, (layer.prio << 13) | (layer.id << 12) | layer.vlan])
        layer = layer.payload
    # The TPID of a tag is the EtherType field before it; scapy names the layer after that
    # field, so check the outermost explicitly.
    if d["vlans"]:
        d["vlans"][0][0] = frame[Ether].type
    if IP in frame:
        ip = frame[IP]
        d.update(family=4, ihl=ip.ihl, tos=ip.tos, ip_len=ip.len, ip_id=ip.id,
                 df=bool(ip.flags.DF), mf=bool(ip.flags.MF), frag=ip.frag, ttl=ip.ttl,
                 proto=ip.proto, src=ip.src, dst=ip.dst, ip_options=len(ip.options))
    else:
        ip6 = frame[IPv6]
        d.update(family=6, tc=ip6.tc, fl=ip6.fl, plen=ip6.plen, nh=ip6.nh, hlim=ip6.hlim,
                 src=ip6.src, dst=ip6.dst)
    tcp = frame[TCP]
    d.update(sport=tcp.sport, dport=tcp.dport, seq=tcp.seq, ack=tcp.ack, dataofs=tcp.dataofs,
             flags=str(tcp.flags), window=tcp.window, urgptr=tcp.urgptr,
             options=option_list(tcp), payload_len=len(bytes(tcp.payload)) -
             (len(bytes(tcp[Padding])) if Padding in tcp else 0))
    d["padding"] = list(bytes(frame[Padding])) if Padding in frame else []
    d["ip_checksum_ok"], d["tcp_checksum_ok"] = checksums_ok(frame)
    return d


def main():
    if len(sys.argv) != 2:
        print("usage: codec_verify_synack.py FILE.pcap", file=sys.stderr)
        return 2
    print(json.dumps([describe(f) for f in rdpcap(sys.argv[1])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
