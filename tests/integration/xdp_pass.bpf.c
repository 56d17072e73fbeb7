// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-only XDP_PASS program for the bridge-side peer of the firewall's veth. A frame the
 * firewall sends with XDP_TX lands in that peer's XDP ring, and veth only kicks the peer's NAPI
 * to drain it when the peer has an XDP program of its own (veth_xdp_flush() skips the flush
 * otherwise): without this program such frames wait for unrelated traffic to push them out.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int sw_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
