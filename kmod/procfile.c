// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/synwarden_secrets: the kernel's cookie keys, timestamp-offset key and clocks, as text.
 * The format is specified in README.md ("File format"); parsers rely on it, so change the
 * version line when changing it.
 *
 * Mode 0400 owned by root, and open() also requires CAP_NET_ADMIN in the initial user namespace:
 * net_secret keys the host's initial sequence numbers, so these bytes are as sensitive as the
 * cookie keys themselves.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "sw_internal.h"

#define SW_PROC_NAME "synwarden_secrets"
#define SW_FORMAT_VERSION 1

struct sw_clock_sample {
	u64 jiffies64;
	u64 mono_ns;
};

/*
 * One consistent clock sample: a monotonic time that lies inside the jiffy that jiffies_64
 * names (no tick between the two jiffies reads). The cookie clock is jiffies_64 / (60 * HZ)
 * (tcp_cookie_time()); the TCP timestamp clock is ktime_get_ns() in ms (tcp_clock_ns()).
 */
static void sw_sample_clocks(struct sw_clock_sample *s)
{
	unsigned long flags;
	u64 again;

	do {
		local_irq_save(flags);
		s->jiffies64 = get_jiffies_64();
		s->mono_ns = ktime_get_ns();
		again = get_jiffies_64();
		local_irq_restore(flags);
	} while (again != s->jiffies64);
}

static int sw_proc_show(struct seq_file *m, void *v)
{
	struct sw_clock_sample clk;
	struct sw_keys keys;

	sw_keys_snapshot(&keys);
	sw_sample_clocks(&clk);
	seq_printf(m, "synwarden_secrets %d\n", SW_FORMAT_VERSION);
	seq_printf(m, "syncookie_secret %16phN %16phN\n", &keys.v4[0], &keys.v4[1]);
#if IS_ENABLED(CONFIG_IPV6)
	seq_printf(m, "syncookie6_secret %16phN %16phN\n", &keys.v6[0], &keys.v6[1]);
#endif
	seq_printf(m, "ts_offset %s\n", SW_TS_VARIANT);
	seq_printf(m, "%s %16phN\n", SW_TS_KEY_NAME, &keys.ts);
	seq_printf(m, "hz %u\n", HZ);
	seq_printf(m, "jiffies %llu\n", clk.jiffies64);
	seq_printf(m, "mono_ns %llu\n", clk.mono_ns);
	seq_printf(m, "mono_ms %llu\n", div_u64(clk.mono_ns, NSEC_PER_MSEC));
	seq_printf(m, "accept_cookies %d\n", READ_ONCE(sw_accept_cookies) ? 1 : 0);
	seq_printf(m, "gate_opened %llu\n", sw_gate_opened_total());
	memzero_explicit(&keys, sizeof(keys));
	return 0;
}

static int sw_proc_open(struct inode *inode, struct file *file)
{
	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	return single_open(file, sw_proc_show, NULL);
}

static int sw_proc_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;

	/* The rendered text holds the keys: wipe it before seq_file frees the buffer. */
	if (m && m->buf)
		memzero_explicit(m->buf, m->size);
	return single_release(inode, file);
}

static const struct proc_ops sw_proc_ops = {
	.proc_open = sw_proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = sw_proc_release,
};

int sw_procfile_create(void)
{
	if (!proc_create(SW_PROC_NAME, 0400, NULL, &sw_proc_ops)) {
		pr_err("cannot create /proc/%s\n", SW_PROC_NAME);
		return -ENOMEM;
	}
	return 0;
}

void sw_procfile_remove(void)
{
	/* Waits for readers that are inside our handlers to leave. */
	remove_proc_entry(SW_PROC_NAME, NULL);
}
