// SPDX-License-Identifier: GPL-2.0
/*
 * The acceptance gate: make a listener accept SYN-cookie ACKs although it never sent a
 * SYN-ACK (the firewall did), for as long as the agent asks for it.
 *
 * cookie_v4_check() and cookie_v6_check() only look at a cookie when the listener "recently
 * overflowed": tcp_synq_no_recent_overflow() (include/net/tcp.h) compares jiffies with the
 * overflow stamp of the listener (tp->rx_opt.ts_recent_stamp, or the reuseport group's
 * synq_overflow_ts) and refuses when the stamp is older than TCP_SYNCOOKIE_VALID (2 minutes).
 * The stamp is only written by tcp_synq_overflow() when the host itself sent a cookie.
 *
 * A kprobe on the entry of both functions (README.md explains why a kprobe) looks at the
 * listener before the check runs and, while accept_cookies is set and the gate would refuse,
 * back-dates the stamp so that the check passes *now* and expires again within
 * SW_GATE_SLACK_JIFFIES: clearing the parameter closes the gate within a few milliseconds
 * instead of the 2 minutes a fresh stamp would keep it open. A stamp set this way is older than
 * one second, so the kernel's own tcp_synq_overflow() still refreshes it on a real overflow:
 * the kernel's own accounting is unchanged.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/kprobes.h>
#include <linux/percpu.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <net/sock.h>
#include <net/sock_reuseport.h>
#include <net/tcp.h>
#include <net/tcp_states.h>

#include "sw_internal.h"

/*
 * How long a back-dated stamp keeps the gate open, in jiffies. It must cover the time between
 * our pre-handler and the kernel's own jiffies read a few instructions later (a tick may fall
 * in between); 2 ticks (8 ms at HZ=250) is the whole cost of closing the gate late.
 */
#define SW_GATE_SLACK_JIFFIES 2

bool sw_accept_cookies;
static DEFINE_PER_CPU(u64, sw_gate_opened);

/* Mirrors the stamp choice of tcp_synq_no_recent_overflow() (include/net/tcp.h). */
static void sw_gate_open(struct sock *sk)
{
	unsigned int stamp;

	if (READ_ONCE(sk->sk_state) != TCP_LISTEN || !tcp_synq_no_recent_overflow(sk))
		return;
	stamp = (unsigned int)jiffies - TCP_SYNCOOKIE_VALID + SW_GATE_SLACK_JIFFIES;
	if (sk->sk_reuseport) {
		struct sock_reuseport *reuse = rcu_dereference(sk->sk_reuseport_cb);

		if (likely(reuse)) {
			WRITE_ONCE(reuse->synq_overflow_ts, stamp);
			goto opened;
		}
	}
	WRITE_ONCE(tcp_sk(sk)->rx_opt.ts_recent_stamp, stamp);
opened:
	this_cpu_inc(sw_gate_opened);
}

/* Entry of cookie_v4_check(struct sock *sk, ...) / cookie_v6_check(struct sock *sk, ...). */
static int sw_gate_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)regs_get_kernel_argument(regs, 0);

	if (!READ_ONCE(sw_accept_cookies) || !sk)
		return 0;
	rcu_read_lock();
	sw_gate_open(sk);
	rcu_read_unlock();
	return 0;
}

static struct kprobe sw_gate_v4 = { .symbol_name = "cookie_v4_check", .pre_handler = sw_gate_pre };
#if IS_ENABLED(CONFIG_IPV6)
static struct kprobe sw_gate_v6 = { .symbol_name = "cookie_v6_check", .pre_handler = sw_gate_pre };
#endif

int sw_gate_register(void)
{
	int err = register_kprobe(&sw_gate_v4);

	if (err) {
		pr_err("cannot probe cookie_v4_check (error %d); the kernel needs CONFIG_KPROBES and CONFIG_SYN_COOKIES\n",
		       err);
		return err;
	}
#if IS_ENABLED(CONFIG_IPV6)
	err = register_kprobe(&sw_gate_v6);
	if (err) {
		pr_err("cannot probe cookie_v6_check (error %d)\n", err);
		unregister_kprobe(&sw_gate_v4);
		return err;
	}
#endif
	return 0;
}

void sw_gate_unregister(void)
{
	/* unregister_kprobe() waits until no CPU is still inside sw_gate_pre(). */
#if IS_ENABLED(CONFIG_IPV6)
	unregister_kprobe(&sw_gate_v6);
#endif
	unregister_kprobe(&sw_gate_v4);
}

u64 sw_gate_opened_total(void)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(sw_gate_opened, cpu);
	return sum;
}
