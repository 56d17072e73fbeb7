/* SPDX-License-Identifier: GPL-2.0 */
/*
 * synwarden_secrets: declarations shared by the module's translation units.
 * See README.md beside this file for what the module does and why each mechanism was chosen.
 */
#ifndef SYNWARDEN_SW_INTERNAL_H
#define SYNWARDEN_SW_INTERNAL_H

#include <linux/siphash.h>
#include <linux/types.h>

/*
 * Which key the kernel being built against derives the TCP timestamp offset from
 * (Kbuild sets SYNWARDEN_TS_PER_CONNECTION from include/net/secure_seq.h):
 *  - per-connection: net_secret, hashed with addresses and ports (secure_tcp_seq_and_ts_off(),
 *    upstream "tcp: secure_seq: add back ports to TS offset" and its stable backports);
 *  - per-host: ts_secret, hashed with the two addresses only (secure_tcp_ts_off(), 4.13 on).
 */
#if SYNWARDEN_TS_PER_CONNECTION
#define SW_TS_VARIANT "per-connection"
#define SW_TS_KEY_NAME "net_secret"
#else
#define SW_TS_VARIANT "per-host"
#define SW_TS_KEY_NAME "ts_secret"
#endif

/* The kernel's secrets, copied out of kernel memory byte for byte. */
struct sw_keys {
	siphash_key_t v4[2];	/* syncookie_secret[2], net/ipv4/syncookies.c */
#if IS_ENABLED(CONFIG_IPV6)
	siphash_key_t v6[2];	/* syncookie6_secret[2], net/ipv6/syncookies.c */
#endif
	siphash_key_t ts;	/* net_secret or ts_secret, net/core/secure_seq.c */
};

/* keys.c: finds the kernel's key storage, forces its lazy initialisation, proves the find. */
int sw_keys_init(void);
/* Re-runs the lazy initialisation (a no-op once done) and copies the keys out. */
void sw_keys_snapshot(struct sw_keys *out);

/* symbols.c: address of a kernel symbol (data included) without calling unexported code. */
void *sw_lookup_symbol(const char *name);

/* gate.c: lets cookie_v4_check()/cookie_v6_check() accept cookies while sw_accept_cookies. */
extern bool sw_accept_cookies;
int sw_gate_register(void);
void sw_gate_unregister(void);
u64 sw_gate_opened_total(void);

/* procfile.c: /proc/synwarden_secrets, root only. */
int sw_procfile_create(void);
void sw_procfile_remove(void);

#endif /* SYNWARDEN_SW_INTERNAL_H */
