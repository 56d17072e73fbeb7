/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-confirmation candidates (synwarden_shared.h, docs/flow-recovery.md): the flow key of
 * an unknown ACK that failed the cookie check and timestamp recovery, for the daemon's confirmer
 * to ask the host's agent about. Neither map is pinned: candidates are worth something for a
 * second, and the running daemon's confirmer is the only reader.
 *
 * Included by xdp_cookie.bpf.h (the XDP datapath decides these ACKs; the AF_XDP worker reports
 * its own through an in-process ring).
 */
#ifndef SYNWARDEN_CONFIRM_BPF_H
#define SYNWARDEN_CONFIRM_BPF_H

/* About 4 600 keys (44 bytes, padded to 48, plus the ring's 8-byte record header): two seconds
 * at the default cap of 2000 candidates/s, drained every 50 ms. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sw_candidates SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sw_confirm_cpu);
} sw_confirm_cpu SEC(".maps");

/* Per-CPU candidate bucket, set by XdpFastpath from the configured candidates/s (the rate
 * split over the CPUs, as the other per-CPU buckets). Cost 0 = no reports at all (off). */
const volatile __u64 sw_knob_candidate_cost_ns = 0;
const volatile __u64 sw_knob_candidate_burst_ns = 0;

/* A global function: verified once on its own, not once per path of the classifier that
 * reaches it. */
__noinline int sw_report_candidate(const struct sw_flow_key *key)
{
	const __u32 zero = 0;
	if (!key || !sw_knob_candidate_cost_ns)
		return 0;
	struct sw_confirm_cpu *c = bpf_map_lookup_elem(&sw_confirm_cpu, &zero);
	if (!c)
		return 0;
	if (!swc_bucket_take(&c->bucket, sw_knob_candidate_cost_ns, sw_knob_candidate_burst_ns)) {
		c->capped++;
		return 0;
	}
	if (bpf_ringbuf_output(&sw_candidates, (void *)key, sizeof(*key), 0)) {
		c->lost++;
		return 0;
	}
	c->reported++;
	return 1;
}

#endif /* SYNWARDEN_CONFIRM_BPF_H */
