// SPDX-License-Identifier: GPL-2.0
/*
 * Symbol lookup for the kernel's static key storage.
 *
 * The cookie and sequence keys are `static` variables (syncookie_secret in
 * net/ipv4/syncookies.c, syncookie6_secret in net/ipv6/syncookies.c, net_secret/ts_secret in
 * net/core/secure_seq.c), so only kallsyms knows where they are, and kallsyms_lookup_name()
 * has not been exported since 5.7. The usual trick of reading its address from a kprobe and
 * calling it through a pointer is not safe on IBT kernels: the kernel seals the ENDBR of
 * functions whose address is never taken, and an indirect call to one faults (#CP).
 *
 * Instead we let register_kprobe() resolve the name itself: _kprobe_addr() looks the symbol up
 * (kprobe_lookup_name() -> kallsyms_lookup_name(), which covers data with
 * CONFIG_KALLSYMS_ALL), stores the address in kp.addr, and the registration then fails in
 * check_kprobe_address_safe() because data is not text. No probe is ever armed on data and no
 * unexported function is called. Every address found this way is proven afterwards by
 * recomputing a value the kernel computed with that key (keys.c), so a wrong symbol can only
 * make the module refuse to load, never publish a wrong key.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/string.h>

#include "sw_internal.h"

void *sw_lookup_symbol(const char *name)
{
	struct kprobe kp;
	int err;

	memset(&kp, 0, sizeof(kp));
	kp.symbol_name = name;
	err = register_kprobe(&kp);
	if (!err) {
		/* A text symbol: the probe is armed, take it down again at once. */
		unregister_kprobe(&kp);
	} else if (err != -EINVAL) {
		/* -ENOENT: no such symbol (CONFIG_KALLSYMS_ALL off, or a renamed variable). */
		pr_err("symbol %s not found through kallsyms (error %d); the kernel needs CONFIG_KALLSYMS_ALL=y\n",
		       name, err);
		return NULL;
	}
	if (!kp.addr)
		pr_err("symbol %s: kallsyms gave no address\n", name);
	return kp.addr;
}
