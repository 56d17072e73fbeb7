/*
 * sw_vm_xdp_load (guest): loads synwarden's XDP fast path (the bpftool skeleton that embeds
 * the object built under bpf/) into the guest's Debian kernel, reporting whether its verifier
 * accepts every program, how many instructions it verified, and whether the program attaches
 * (generic mode on lo). Exit status 0 only if all of that worked.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fastpath.skel.h"

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	/* Warnings carry the verifier log of a rejected program: the point of this test. */
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stdout, fmt, args);
}

int main(void)
{
	struct fastpath_bpf *skel;
	struct bpf_program *prog;
	int err, failed = 0;
	unsigned lo;

	libbpf_set_print(print_libbpf);
	skel = fastpath_bpf__open();
	if (!skel) {
		printf("xdp: FAIL cannot open the fastpath skeleton: %s\n", strerror(errno));
		return 1;
	}
	err = fastpath_bpf__load(skel);
	if (err) {
		printf("xdp: FAIL the kernel refused the fastpath object: %s (verifier log above)\n",
		       strerror(-err));
		fastpath_bpf__destroy(skel);
		return 1;
	}
	lo = if_nametoindex("lo");
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			printf("xdp: FAIL no info for program %s: %s\n", bpf_program__name(prog),
			       strerror(errno));
			failed = 1;
			continue;
		}
		printf("xdp: PASS program %s accepted by the verifier: %u instructions (%u verified)\n",
		       bpf_program__name(prog), info.xlated_prog_len / 8, info.verified_insns);
		if (bpf_program__type(prog) != BPF_PROG_TYPE_XDP)
			continue;
		err = bpf_xdp_attach((int)lo, fd, XDP_FLAGS_SKB_MODE, NULL);
		if (err) {
			printf("xdp: FAIL program %s does not attach to lo (generic mode): %s\n",
			       bpf_program__name(prog), strerror(-err));
			failed = 1;
			continue;
		}
		bpf_xdp_detach((int)lo, XDP_FLAGS_SKB_MODE, NULL);
		printf("xdp: PASS program %s attaches (generic mode on lo) and detaches\n",
		       bpf_program__name(prog));
	}
	fastpath_bpf__destroy(skel);
	return failed;
}
