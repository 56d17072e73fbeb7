#!/usr/bin/env bash
# Installs every Debian 12 package synwarden needs to build, test, benchmark and package.
# Run as root on a fresh Debian 12 machine. Idempotent: when everything is present it only checks.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# Build toolchain and libraries the code links against.
BUILD=(build-essential cmake pkg-config git
       clang llvm lld libclang-rt-14-dev
       libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
       libsodium-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
       libgtest-dev libgmock-dev libbenchmark-dev)
# Tools the test tiers drive: namespaces, real TCP clients, packet crafting, captures.
TEST=(iproute2 iputils-ping ethtool curl netcat-openbsd python3 python3-scapy tcpdump tshark
      nftables procps psmisc kmod
      frr)  # bgpd + zebra: integration_ecmp's router and boxes announce routes over BGP
# VM tiers: a Debian kernel under qemu with a busybox initramfs (vm); a Debian 12 system image
# built with mmdebstrap and turned into a disk with mke2fs (debian).
VM=(qemu-system-x86 busybox-static cpio mmdebstrap e2fsprogs)
# Benchmarks and packaging.
EXTRA=(gnuplot-nox debhelper dh-dkms dkms devscripts lintian fakeroot systemd)

# The running kernel's headers, when it takes modules and Debian packages them: scripts/demo.sh
# builds the synwarden_secrets module against them on kernels without the BPF host mode (Debian
# 12's stock 6.1). A kernel without module support, or one Debian does not package, gets none.
HEADERS=()
kver=$(uname -r)
if [ -e /proc/modules ] && [ ! -e "/lib/modules/$kver/build/Makefile" ]; then
  if apt-cache show "linux-headers-$kver" >/dev/null 2>&1 ||
     { apt-get update -qq && apt-cache show "linux-headers-$kver" >/dev/null 2>&1; }; then
    HEADERS=("linux-headers-$kver")
  else
    echo "install-deps: no linux-headers-$kver package in your apt sources; kmod mode on this" \
         "kernel needs its build headers in /lib/modules/$kver/build (Debian 12 kernels:" \
         "apt-get update, then rerun this script)" >&2
  fi
fi

ALL=("${BUILD[@]}" "${TEST[@]}" "${VM[@]}" "${EXTRA[@]}" "${HEADERS[@]}")
missing=()
for p in "${ALL[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#ALL[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get install -y -qq --no-install-recommends "${missing[@]}"
