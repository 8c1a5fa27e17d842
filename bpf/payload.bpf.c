// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a connection speaks. A renamed copy of ssh, an SSH library (paramiko, x/crypto/ssh) on
 * any port and a miner that reads its pool from a file carry no name, identity or argument the
 * exec and connect hooks could judge; their first bytes say what they are: an SSH client sends
 * "SSH-2.0-..." before anything else, a stratum miner a JSON request naming mining.subscribe /
 * mining.authorize / mining.submit or, xmrig's dialect, "login" with "agent".
 *
 * cgroup_skb/egress on each agent cgroup sees every packet its sockets send. Only sockets that
 * cgroup/connect4/6 marked (ag_app_proto_socks: egress.protocols: deny and no allow entry
 * decided the destination) are looked at, and each once: the first packet with payload decides
 * (PASSED or DROPPED). Every other packet costs one sk-storage lookup. A denied payload is
 * dropped (the peer never sees the banner or the login: no key exchange, no share) and so is
 * every later packet with payload of that socket (TCP retransmits it); the daemon kills the
 * process on the record (the drop already made the protocol fail; the kill stops retries).
 *
 * Limits (docs/ENFORCEMENT.md, "What a connection speaks"): TLS-wrapped protocols (stratum+ssl,
 * SSH inside TLS) show no plaintext; a stratum request split so that its method falls past the
 * first packet is not recognised (an SSH banner split into pieces shorter than 4 bytes is).
 */
#include "app_proto.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD

/* Per-CPU room for the searched bytes (the stack is 512 bytes). 8 bytes of slack after the
 * window: the search reads 8-byte words. */
struct payload_scratch {
	__u8 buf[AG_APP_PROTO_SCAN + 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload_scratch);
} ag_payload_scratch SEC(".maps");

/* Little-endian 8-byte words of the patterns (BPF on x86 and arm64 is little-endian). */
#define W8(a, b, c, d, e, f, g, h) ((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 \
	| (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define MINING_W W8('"', 'm', 'i', 'n', 'i', 'n', 'g', '.')
#define LOGIN_W  W8('"', 'l', 'o', 'g', 'i', 'n', '"', 0)
#define AGENT_W  W8('"', 'a', 'g', 'e', 'n', 't', '"', 0)
#define MASK7    0x00ffffffffffffffull

/* Stratum: the request starts with '{' and, in the first AG_APP_PROTO_SCAN bytes, names
 * "mining.subscribe", "mining.authorize" or "mining.submit" (stratum v1) or both "login" and
 * "agent" (xmrig's JSON-RPC login). One pass; bpf_loop, so the verifier checks the body once. */
struct stratum_scan {
	struct payload_scratch *s;
	__u64 n;
	__u32 found;              /* STRATUM_* bits */
};

enum { STRATUM_METHOD = 1, STRATUM_LOGIN = 2, STRATUM_AGENT = 4 };

static long stratum_at(__u64 i, void *ctx)
{
	struct stratum_scan *c = ctx;
	if (i + 7 > c->n || i >= AG_APP_PROTO_SCAN)
		return 1;
	struct payload_scratch *s = c->s;
	__u64 w = *(__u64 *)&s->buf[i & (AG_APP_PROTO_SCAN - 1)];   /* buf has 8 bytes of slack */
	if (w == MINING_W && i + 10 <= c->n) {
		__u8 a = s->buf[(i + 8) & (AG_APP_PROTO_SCAN - 1)];
		__u8 b = s->buf[(i + 9) & (AG_APP_PROTO_SCAN - 1)];
		if ((a == 's' || a == 'a') && b == 'u') {   /* subscribe, submit; authorize */
			c->found |= STRATUM_METHOD;
			return 1;
		}
	}
	if ((w & MASK7) == LOGIN_W)
		c->found |= STRATUM_LOGIN;
	if ((w & MASK7) == AGENT_W)
		c->found |= STRATUM_AGENT;
	return 0;
}

static __always_inline bool stratum(struct payload_scratch *s, __u64 n)
{
	struct stratum_scan c = { .s = s, .n = n, .found = 0 };
	bpf_loop(AG_APP_PROTO_SCAN, stratum_at, &c, 0);
	return (c.found & STRATUM_METHOD) || (c.found & (STRATUM_LOGIN | STRATUM_AGENT)) == (STRATUM_LOGIN | STRATUM_AGENT);
}

static const char ssh_prefix[4] = { 'S', 'S', 'H', '-' };

SEC("cgroup_skb/egress")
int ag_payload_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	struct ag_app_proto_sock *st = bpf_sk_storage_get(&ag_app_proto_socks, sk, 0, 0);
	if (!st || st->state == AG_APP_PROTO_PASSED)
		return 1;

	/* IP and TCP headers: skb data starts at the network header here */
	__u32 ip_len;
	__u8 l4;
	__u16 family;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 vihl;
		if (bpf_skb_load_bytes(skb, 0, &vihl, 1) || bpf_skb_load_bytes(skb, 9, &l4, 1))
			return 1;
		ip_len = (vihl & 0xf) * 4;
		family = AG_AF_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (bpf_skb_load_bytes(skb, 6, &l4, 1))
			return 1;
		ip_len = 40;   /* our own sockets send no extension headers before TCP */
		family = AG_AF_INET6;
	} else {
		return 1;
	}
	if (l4 != AG_IPPROTO_TCP)
		return 1;
	__u8 doff;
	if (bpf_skb_load_bytes(skb, ip_len + 12, &doff, 1))
		return 1;
	__u32 off = ip_len + (doff >> 4) * 4;
	if (skb->len <= off)
		return 1;   /* SYN, ACK, FIN without data */
	if (st->state == AG_APP_PROTO_DROPPED)
		return 0;   /* retransmits and later data of a denied connection */
	__u32 len = skb->len - off;

	__u32 zero = 0;
	struct payload_scratch *s = bpf_map_lookup_elem(&ag_payload_scratch, &zero);
	if (!s)
		return 1;
	__u64 n = len < AG_APP_PROTO_SCAN ? len : AG_APP_PROTO_SCAN;
	barrier_var(n);   /* the bounds below must be checked on the register the helper gets */
	if (n < 1 || n > AG_APP_PROTO_SCAN)
		return 1;
	__builtin_memset(s->buf + AG_APP_PROTO_SCAN, 0, 8);
	if (bpf_skb_load_bytes(skb, off, s->buf, n))
		return 1;

	/* "SSH-" across the bytes already seen (head) and this packet's */
	__u32 have = st->head_len;
	bool ssh_prefix_so_far = true;
	for (int i = 0; i < 4; i++) {
		__u8 c;
		if ((__u32)i < have && have <= 4)
			c = st->head[i & 3];
		else if ((__u32)i - have < n)
			c = s->buf[(i - have) & (AG_APP_PROTO_SCAN - 1)];
		else
			break;
		if (c != ssh_prefix[i])
			ssh_prefix_so_far = false;
	}
	__u32 proto = 0;
	if (have + n < 4) {
		if (ssh_prefix_so_far) {
			/* a banner dribbled out byte by byte: keep looking */
			for (__u32 i = 0; i < 3; i++)
				if (i < n && have + i < 4)
					st->head[(have + i) & 3] = s->buf[i & 3];
			st->head_len = have + n;
			return 1;
		}
	} else if (ssh_prefix_so_far) {
		proto = AG_APP_PROTO_SSH;
	}
	if (!proto && ((have > 0 && st->head[0] == '{') || (have == 0 && s->buf[0] == '{')) && stratum(s, n))
		proto = AG_APP_PROTO_STRATUM;
	if (proto == AG_APP_PROTO_SSH && (st->flags & AG_APP_PROTO_SSH_CLIENT))
		proto = 0;   /* the host's ssh speaking SSH: its forwarding is the tunnel judge's business */
	if (!proto) {
		st->state = AG_APP_PROTO_PASSED;
		return 1;
	}

	__u32 verdict = st->objection;
	st->state = verdict == AG_VERDICT_DENIED ? AG_APP_PROTO_DROPPED : AG_APP_PROTO_PASSED;
	/* decided above: the record is reported if there is room, never asked */
	struct ag_app_proto *r = reserve(sizeof(*r), st->scope_key, AG_RECORD_PRIORITY);
	if (r) {
		__builtin_memcpy(&r->h, &st->h, sizeof(r->h));
		r->h.type = AG_REC_APP_PROTO;
		r->h.size = sizeof(*r);
		r->h.cpu = bpf_get_smp_processor_id();
		r->h.ktime_ns = bpf_ktime_get_ns();
		r->sock_cookie = bpf_get_socket_cookie(skb);
		r->family = family;
		r->protocol = AG_IPPROTO_TCP;
		r->proto = proto;
		r->verdict = verdict;
		__builtin_memset(r->addr, 0, sizeof(r->addr));
		__u16 dport = 0;
		bpf_skb_load_bytes(skb, ip_len + 2, &dport, 2);
		r->port = bpf_ntohs(dport);
		if (family == AG_AF_INET)
			bpf_skb_load_bytes(skb, 16, r->addr, 4);
		else
			bpf_skb_load_bytes(skb, 24, r->addr, 16);
		__builtin_memset(r->first, 0, sizeof(r->first));
		__u32 k = 0;
		for (__u32 i = 0; i < 4; i++)
			if (i < have && i < 4)
				r->first[k++ & (AG_APP_PROTO_BYTES - 1)] = st->head[i & 3];
		for (__u32 i = 0; i < AG_APP_PROTO_BYTES; i++) {
			if (i >= n || k >= AG_APP_PROTO_BYTES)
				break;
			r->first[k++ & (AG_APP_PROTO_BYTES - 1)] = s->buf[i];
		}
		r->first_len = k;
		submit(r);
	}
	return verdict == AG_VERDICT_DENIED ? 0 : 1;
}
