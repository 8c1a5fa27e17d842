/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a connection speaks: the state connect.bpf.c leaves on a TCP socket of an agent task
 * for payload.bpf.c, which looks at the connection's first payload bytes. Included by both.
 */
#ifndef AGENTGUARD_APP_PROTO_H
#define AGENTGUARD_APP_PROTO_H

#include "hooks.bpf.h"

/* socket -> struct ag_app_proto_sock: written at connect (only for sockets payload.bpf.c must
 * look at), freed with the socket. __weak as in hooks.bpf.h: both files carry it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ag_app_proto_sock);
} ag_app_proto_socks SEC(".maps") __weak;

/* The host's ssh client by identity (s_dev, i_ino of ssh on the standard PATH): its banner is
 * what ssh is for. A renamed copy is another inode. Written by the agent at start and reload. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct ag_file_id);
	__type(value, __u8);
} ag_ssh_exes SEC(".maps") __weak;

#endif /* AGENTGUARD_APP_PROTO_H */
