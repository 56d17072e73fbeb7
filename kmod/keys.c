// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's SYN-cookie and timestamp-offset keys: find them, make the kernel initialise them,
 * and prove that what we found is what the kernel uses.
 *
 * Every key is created lazily by net_get_random_once() on its first use and is all zero before.
 * Writing a key ourselves would be wrong (the once-flag would still be unset and the kernel
 * would overwrite it later), so we make the kernel do its first use: we call the exported
 * functions that the kernel's own netfilter SYNPROXY and TCP code call, on documentation
 * addresses. Those calls have no side effect besides the initialisation.
 *
 * Then each key is proven: we recompute, with the key we read and the kernel's own siphash, a
 * value the kernel has just returned for the same inputs. A mismatch means the symbol we found
 * is not the kernel's key (or the kernel's algorithm changed), and the module refuses to load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/string.h>
#include <linux/tcp.h>
#include <net/net_namespace.h>
#include <net/secure_seq.h>
#include <net/tcp.h>

#include "sw_internal.h"

/* Where the kernel keeps each key (resolved once at load). */
static siphash_key_t *sw_v4_keys;	/* syncookie_secret[2] */
#if IS_ENABLED(CONFIG_IPV6)
static siphash_key_t *sw_v6_keys;	/* syncookie6_secret[2] */
#endif
static siphash_key_t *sw_ts_key;	/* net_secret or ts_secret */

/* Probe inputs: documentation addresses (RFC 5737, RFC 3849), arbitrary ports and ISN. */
#define SW_PROBE_CLIENT4 cpu_to_be32(0xc6336407)	/* 198.51.100.7 */
#define SW_PROBE_HOST4 cpu_to_be32(0xc0000201)		/* 192.0.2.1 */
#define SW_PROBE_CLIENT_PORT cpu_to_be16(40000)
#define SW_PROBE_HOST_PORT cpu_to_be16(443)
#define SW_PROBE_ISN 0x12345678u

/* COOKIEBITS/COOKIEMASK of net/ipv4/syncookies.c (not in a header). */
#define SW_COOKIEBITS 24
#define SW_COOKIEMASK ((1u << SW_COOKIEBITS) - 1)

static bool sw_key_is_zero(const siphash_key_t *key)
{
	return !key->key[0] && !key->key[1];
}

/* Mirrors secure_tcp_syn_cookie() of net/ipv4/syncookies.c. */
static u32 sw_cookie_v4(const siphash_key_t keys[2], __be32 saddr, __be32 daddr, __be16 sport,
			__be16 dport, u32 sseq, u32 count, u32 mssind)
{
	u32 ports = (__force u32)sport << 16 | (__force u32)dport;

	return siphash_4u32((__force u32)saddr, (__force u32)daddr, ports, 0, &keys[0]) + sseq +
	       (count << SW_COOKIEBITS) +
	       ((siphash_4u32((__force u32)saddr, (__force u32)daddr, ports, count, &keys[1]) +
		 mssind) & SW_COOKIEMASK);
}

static int sw_prove_v4_keys(void)
{
	struct iphdr iph = { .saddr = SW_PROBE_CLIENT4, .daddr = SW_PROBE_HOST4 };
	struct tcphdr th = { .source = SW_PROBE_CLIENT_PORT, .dest = SW_PROBE_HOST_PORT,
			     .seq = cpu_to_be32(SW_PROBE_ISN) };
	/* msstab[] = {536, 1300, 1440, 1460}: an MSS of 1460 is index 3 and comes back as is. */
	u16 mss = 1460;
	u32 before, after, kernel_cookie;

	before = tcp_cookie_time();
	kernel_cookie = __cookie_v4_init_sequence(&iph, &th, &mss);
	after = tcp_cookie_time();
	if (sw_key_is_zero(&sw_v4_keys[0]) || sw_key_is_zero(&sw_v4_keys[1])) {
		pr_err("syncookie_secret is still zero after __cookie_v4_init_sequence()\n");
		return -EIO;
	}
	if (mss != 1460 ||
	    (kernel_cookie != sw_cookie_v4(sw_v4_keys, iph.saddr, iph.daddr, th.source, th.dest,
					   SW_PROBE_ISN, before, 3) &&
	     kernel_cookie != sw_cookie_v4(sw_v4_keys, iph.saddr, iph.daddr, th.source, th.dest,
					   SW_PROBE_ISN, after, 3))) {
		pr_err("the syncookie_secret found does not reproduce the kernel's IPv4 cookie; refusing to publish it\n");
		return -EIO;
	}
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
/* Mirrors cookie_hash() of net/ipv6/syncookies.c, then secure_tcp_syn_cookie() there. */
static u32 sw_cookie_v6_hash(const siphash_key_t *key, const struct in6_addr *saddr,
			     const struct in6_addr *daddr, __be16 sport, __be16 dport, u32 count)
{
	const struct {
		struct in6_addr saddr;
		struct in6_addr daddr;
		u32 count;
		__be16 sport;
		__be16 dport;
	} __aligned(SIPHASH_ALIGNMENT) combined = {
		.saddr = *saddr, .daddr = *daddr, .count = count, .sport = sport, .dport = dport,
	};

	return siphash(&combined, offsetofend(typeof(combined), dport), key);
}

static u32 sw_cookie_v6(const siphash_key_t keys[2], const struct in6_addr *saddr,
			const struct in6_addr *daddr, __be16 sport, __be16 dport, u32 sseq,
			u32 count, u32 mssind)
{
	return sw_cookie_v6_hash(&keys[0], saddr, daddr, sport, dport, 0) + sseq +
	       (count << SW_COOKIEBITS) +
	       ((sw_cookie_v6_hash(&keys[1], saddr, daddr, sport, dport, count) + mssind) &
		SW_COOKIEMASK);
}

static void sw_probe_addrs6(struct in6_addr *client, struct in6_addr *host)
{
	/* 2001:db8::7 and 2001:db8::1 */
	memset(client, 0, sizeof(*client));
	memset(host, 0, sizeof(*host));
	client->s6_addr32[0] = host->s6_addr32[0] = cpu_to_be32(0x20010db8);
	client->s6_addr32[3] = cpu_to_be32(7);
	host->s6_addr32[3] = cpu_to_be32(1);
}

static int sw_prove_v6_keys(void)
{
	struct ipv6hdr iph = {};
	struct tcphdr th = { .source = SW_PROBE_CLIENT_PORT, .dest = SW_PROBE_HOST_PORT,
			     .seq = cpu_to_be32(SW_PROBE_ISN) };
	/* msstab[] = {1280-60, 1480-60, 1500-60, 9000-60}: 1440 is index 2. */
	u16 mss = 1440;
	u32 before, after, kernel_cookie;

	sw_probe_addrs6(&iph.saddr, &iph.daddr);
	before = tcp_cookie_time();
	kernel_cookie = __cookie_v6_init_sequence(&iph, &th, &mss);
	after = tcp_cookie_time();
	if (sw_key_is_zero(&sw_v6_keys[0]) || sw_key_is_zero(&sw_v6_keys[1])) {
		pr_err("syncookie6_secret is still zero after __cookie_v6_init_sequence()\n");
		return -EIO;
	}
	if (mss != 1440 ||
	    (kernel_cookie != sw_cookie_v6(sw_v6_keys, &iph.saddr, &iph.daddr, th.source, th.dest,
					   SW_PROBE_ISN, before, 2) &&
	     kernel_cookie != sw_cookie_v6(sw_v6_keys, &iph.saddr, &iph.daddr, th.source, th.dest,
					   SW_PROBE_ISN, after, 2))) {
		pr_err("the syncookie6_secret found does not reproduce the kernel's IPv6 cookie; refusing to publish it\n");
		return -EIO;
	}
	return 0;
}
#endif

#if SYNWARDEN_TS_PER_CONNECTION
/*
 * secure_tcp_seq_and_ts_off() initialises net_secret unconditionally and returns the raw upper
 * half of siphash_3u32(saddr, daddr, sport << 16 | dport, net_secret) as ts_off when the
 * namespace's tcp_timestamps is 1 (net/core/secure_seq.c).
 */
static u32 sw_ensure_ts_key(void)
{
	union tcp_seq_and_ts_off st;

	st = secure_tcp_seq_and_ts_off(&init_net, SW_PROBE_HOST4, SW_PROBE_CLIENT4,
				       SW_PROBE_HOST_PORT, SW_PROBE_CLIENT_PORT);
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct in6_addr client, host;

		/* Same key; calling it too keeps the IPv6 path's first use out of the hot path. */
		sw_probe_addrs6(&client, &host);
		secure_tcpv6_seq_and_ts_off(&init_net, host.s6_addr32, client.s6_addr32,
					    SW_PROBE_HOST_PORT, SW_PROBE_CLIENT_PORT);
	}
#endif
	return st.ts_off;
}

static int sw_prove_ts_key(void)
{
	u32 kernel_ts_off = sw_ensure_ts_key();
	u32 ports = (__force u32)SW_PROBE_HOST_PORT << 16 | (__force u32)SW_PROBE_CLIENT_PORT;
	u64 ours;

	if (sw_key_is_zero(sw_ts_key)) {
		pr_err("net_secret is still zero after secure_tcp_seq_and_ts_off()\n");
		return -EIO;
	}
	if (READ_ONCE(init_net.ipv4.sysctl_tcp_timestamps) != 1) {
		/* The kernel returned 0 instead of the hash: nothing to compare against. */
		pr_info("net.ipv4.tcp_timestamps != 1 in the initial namespace: net_secret not cross-checked\n");
		return 0;
	}
	ours = siphash_3u32((__force u32)SW_PROBE_HOST4, (__force u32)SW_PROBE_CLIENT4, ports,
			    sw_ts_key);
	if ((u32)(ours >> 32) != kernel_ts_off) {
		pr_err("the net_secret found does not reproduce the kernel's timestamp offset; refusing to publish it\n");
		return -EIO;
	}
	return 0;
}
#else
/*
 * secure_tcpv6_ts_off() (exported for the IPv6 module) initialises ts_secret only when the
 * namespace's tcp_timestamps is 1 and then returns siphash({host, client}, ts_secret)
 * (net/core/secure_seq.c). With timestamps off ts_off is 0 and the key does not matter.
 */
#if !IS_ENABLED(CONFIG_IPV6)
#error "per-host ts_secret kernels: synwarden_secrets initialises ts_secret through secure_tcpv6_ts_off(), which needs CONFIG_IPV6"
#endif
static u32 sw_ensure_ts_key(void)
{
	struct in6_addr client, host;

	sw_probe_addrs6(&client, &host);
	return secure_tcpv6_ts_off(&init_net, host.s6_addr32, client.s6_addr32);
}

static int sw_prove_ts_key(void)
{
	u32 kernel_ts_off = sw_ensure_ts_key();
	struct {
		struct in6_addr saddr;
		struct in6_addr daddr;
	} __aligned(SIPHASH_ALIGNMENT) combined;

	if (READ_ONCE(init_net.ipv4.sysctl_tcp_timestamps) != 1) {
		pr_info("net.ipv4.tcp_timestamps != 1 in the initial namespace: ts_secret may stay uninitialised; ts_off is 0 then\n");
		return 0;
	}
	if (sw_key_is_zero(sw_ts_key)) {
		pr_err("ts_secret is still zero after secure_tcpv6_ts_off()\n");
		return -EIO;
	}
	/* Mirrors secure_tcpv6_ts_off(): {host, client}, 32 bytes. */
	sw_probe_addrs6(&combined.daddr, &combined.saddr);
	if ((u32)siphash(&combined, sizeof(combined), sw_ts_key) != kernel_ts_off) {
		pr_err("the ts_secret found does not reproduce the kernel's timestamp offset; refusing to publish it\n");
		return -EIO;
	}
	return 0;
}
#endif

int sw_keys_init(void)
{
	int err;

	sw_v4_keys = sw_lookup_symbol("syncookie_secret");
	sw_ts_key = sw_lookup_symbol(SW_TS_KEY_NAME);
	if (!sw_v4_keys || !sw_ts_key)
		return -ENOENT;
#if IS_ENABLED(CONFIG_IPV6)
	sw_v6_keys = sw_lookup_symbol("syncookie6_secret");
	if (!sw_v6_keys)
		return -ENOENT;
#endif
	err = sw_prove_v4_keys();
#if IS_ENABLED(CONFIG_IPV6)
	if (!err)
		err = sw_prove_v6_keys();
#endif
	if (!err)
		err = sw_prove_ts_key();
	return err;
}

void sw_keys_snapshot(struct sw_keys *out)
{
	/*
	 * The cookie keys are initialised for good at load. The timestamp key of a per-host kernel
	 * may not be (timestamps were off then); this retries its first use, a no-op once done.
	 */
	sw_ensure_ts_key();
	memcpy(out->v4, sw_v4_keys, sizeof(out->v4));
#if IS_ENABLED(CONFIG_IPV6)
	memcpy(out->v6, sw_v6_keys, sizeof(out->v6));
#endif
	memcpy(&out->ts, sw_ts_key, sizeof(out->ts));
}
