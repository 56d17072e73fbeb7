// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-only 802.1Q tagger for the integration topology. The CI kernel has neither VLAN devices
 * (CONFIG_VLAN_8021Q) nor bridge VLAN filtering, so a tc program on a node's e0 plays the part of
 * a switch access port: SW_VLAN_PUSH builds the egress program that tags every frame with
 * SW_VLAN_ID, otherwise the ingress program strips the tag before the node's stack sees it
 * (a tagged frame for which no VLAN device exists would be dropped as PACKET_OTHERHOST).
 * The client's TCP stack stays the real kernel's; only the wire between it and the firewall
 * carries tags.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef SW_VLAN_ID
#define SW_VLAN_ID 100
#endif

SEC("tc")
int sw_vlan(struct __sk_buff *skb)
{
#ifdef SW_VLAN_PUSH
	/* Lands in skb metadata; the veth (txvlan off) writes it into the frame on transmit. */
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), SW_VLAN_ID);
#else
	/* The receive path moved the frame's tag into metadata before tc ingress runs. */
	if (skb->vlan_present && (skb->vlan_tci & 0x0fff) == SW_VLAN_ID)
		bpf_skb_vlan_pop(skb);
#endif
	return TC_ACT_OK;
}
