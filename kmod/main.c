// SPDX-License-Identifier: GPL-2.0
/*
 * synwarden_secrets: publishes the kernel's SYN-cookie secrets and clocks to root and, on
 * request, makes listeners accept cookie ACKs for SYN-ACKs the synwarden firewall sent on the
 * host's behalf. See README.md beside this file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "sw_internal.h"

/*
 * Off by default: the host keeps the kernel's normal behaviour until the agent, which knows that
 * a synwarden firewall answers SYNs for this host, writes 1 to
 * /sys/module/synwarden_secrets/parameters/accept_cookies (and 0 when protection ends).
 */
module_param_named(accept_cookies, sw_accept_cookies, bool, 0600);
MODULE_PARM_DESC(accept_cookies,
		 "Accept SYN-cookie ACKs on listeners that sent no cookie themselves (default 0)");

static int __init sw_init(void)
{
	int err;

	err = sw_keys_init();
	if (err)
		return err;
	err = sw_gate_register();
	if (err)
		return err;
	err = sw_procfile_create();
	if (err) {
		sw_gate_unregister();
		return err;
	}
	pr_info("loaded: timestamp offsets are %s (%s); accept_cookies=%d\n", SW_TS_VARIANT,
		SW_TS_KEY_NAME, sw_accept_cookies ? 1 : 0);
	return 0;
}

static void __exit sw_exit(void)
{
	sw_procfile_remove();
	sw_gate_unregister();
	pr_info("unloaded\n");
}

module_init(sw_init);
module_exit(sw_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("synwarden");
MODULE_DESCRIPTION("Exposes the kernel's SYN-cookie secrets to root and accepts firewall-made cookie ACKs");
MODULE_VERSION("0.1.0");
