// SPDX-License-Identifier: GPL-2.0-only
/*
 * abi_java: writes io.agentguard.abi.KernelAbi, the Java view of the kernel ABI, from BTF.
 *
 *   abi_java ABI_OBJECT SHIPPED_OBJECT > KernelAbi.java
 *
 * ABI_OBJECT is agentguard.h compiled alone with every struct and enum referenced (the
 * Makefile writes that translation unit), so its BTF holds each constant, flag and layout
 * of the header; SHIPPED_OBJECT is the BPF object the agent embeds, whose programs and maps
 * become name constants. Nothing here knows a field by name: a header change reaches Java
 * at the next build, and a Java use of something that went away fails to compile.
 *
 * Naming: enumerators keep their C names (AG_REC_EXEC: grep finds C and Java alike);
 * struct ag_gpu_ioctl becomes the nested class GpuIoctl (nv_rm_alloc: NvRmAlloc) with one
 * long per member offset (arg_len: ARG_LEN) and SIZEOF; programs and maps become
 * Programs.EXEC ("ag_exec") and Maps.RING ("ag_ring").
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

static void die(const char *what, const char *path, int err)
{
	fprintf(stderr, "abi_java: %s %s: %s\n", what, path, strerror(err < 0 ? -err : err));
	exit(1);
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level, (void)fmt, (void)args;
	return 0;
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ag_gpu_ioctl -> GpuIoctl; nv_rm_alloc -> NvRmAlloc (the ag_ prefix is implied). */
static void print_class_name(const char *c)
{
	int upper = 1;
	if (has_prefix(c, "ag_"))
		c += 3;
	for (; *c; c++) {
		if (*c == '_') {
			upper = 1;
			continue;
		}
		putchar(upper ? toupper((unsigned char)*c) : *c);
		upper = 0;
	}
}

/* ag_scope_roots -> SCOPE_ROOTS */
static void print_constant_name(const char *c)
{
	if (has_prefix(c, "ag_"))
		c += 3;
	for (; *c; c++)
		putchar(toupper((unsigned char)*c));
}

static const char *type_text(const struct btf *btf, __u32 id, char *buf, size_t len)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	while (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t)) {
		if (btf_is_typedef(t)) {
			snprintf(buf, len, "%s", btf__name_by_offset(btf, t->name_off));
			return buf;
		}
		t = btf__type_by_id(btf, t->type);
	}
	if (btf_is_array(t)) {
		const struct btf_array *a = btf_array(t);
		char inner[64];
		snprintf(buf, len, "%s[%u]", type_text(btf, a->type, inner, sizeof(inner)), a->nelems);
	} else if (btf_is_struct(t)) {
		snprintf(buf, len, "struct %s", btf__name_by_offset(btf, t->name_off));
	} else {
		snprintf(buf, len, "%s", btf__name_by_offset(btf, t->name_off));
	}
	return buf;
}

static void print_enums(const struct btf *btf)
{
	__u32 n = btf__type_cnt(btf);
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (btf_is_enum64(t)) {
			fprintf(stderr, "abi_java: enum %s has 64-bit values: not supported\n",
				btf__name_by_offset(btf, t->name_off));
			exit(1);
		}
		if (!btf_is_enum(t))
			continue;
		const char *name = btf__name_by_offset(btf, t->name_off);
		if (!has_prefix(name, "ag_") && !has_prefix(name, "nv_"))
			continue;
		printf("\n    // enum %s\n", name);
		const struct btf_enum *e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++) {
			printf("    public static final int %s = %d;", btf__name_by_offset(btf, e[i].name_off), e[i].val);
			if ((unsigned int)e[i].val >= 10)
				printf(" // 0x%x", (unsigned int)e[i].val);
			putchar('\n');
		}
	}
}

static void print_structs(const struct btf *btf)
{
	__u32 n = btf__type_cnt(btf);
	char text[96];
	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!btf_is_struct(t))
			continue;
		const char *name = btf__name_by_offset(btf, t->name_off);
		if (!has_prefix(name, "ag_") && !has_prefix(name, "nv_"))
			continue;
		printf("\n    /** struct %s (%u bytes): member offsets in bytes. */\n    public static final class ", name,
		       t->size);
		print_class_name(name);
		printf(" {\n        public static final long SIZEOF = %u;\n", t->size);
		const struct btf_member *m = btf_members(t);
		for (int i = 0; i < btf_vlen(t); i++) {
			const char *member = btf__name_by_offset(btf, m[i].name_off);
			__u32 bits = btf_member_bit_offset(t, i);
			if (bits % 8) {
				fprintf(stderr, "abi_java: %s.%s is a bit field: not part of the ABI\n", name, member);
				exit(1);
			}
			printf("        /** %s */\n        public static final long ", type_text(btf, m[i].type, text, sizeof(text)));
			print_constant_name(member);
			printf(" = %u;\n", bits / 8);
		}
		printf("\n        private ");
		print_class_name(name);
		printf("() {\n        }\n    }\n");
	}
}

static void print_class_open(const char *name, const char *doc)
{
	printf("\n    /** %s */\n    public static final class %s {\n", doc, name);
}

static void print_class_close(const char *name)
{
	printf("\n        private %s() {\n        }\n    }\n", name);
}

/* ag_exec -> public static final String EXEC = "ag_exec"; */
static void print_name_constant(const char *name)
{
	printf("        public static final String ");
	print_constant_name(name);
	printf(" = \"%s\";\n", name);
}

static void print_names(const char *path)
{
	libbpf_set_print(silent);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj)
		die("cannot open", path, errno);
	struct bpf_program *prog;
	struct bpf_map *map;

	print_class_open("Programs", "Programs of the shipped object, by name.");
	bpf_object__for_each_program(prog, obj)
		print_name_constant(bpf_program__name(prog));
	print_class_close("Programs");

	print_class_open("Maps", "Maps of the shipped object, by name (also their pin names).");
	bpf_object__for_each_map(map, obj)
		print_name_constant(bpf_map__name(map));
	print_class_close("Maps");
	bpf_object__close(obj);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: abi_java ABI_OBJECT SHIPPED_OBJECT > KernelAbi.java\n");
		return 2;
	}
	struct btf *btf = btf__parse_elf(argv[1], NULL);
	if (!btf)
		die("cannot read BTF of", argv[1], errno);

	printf("// Generated at build time by bpf/abi_java.c from the BTF of bpf/agentguard.h: do not edit.\n"
	       "package io.agentguard.abi;\n\n"
	       "/**\n"
	       " * The kernel ABI as Java constants: every enumerator of bpf/agentguard.h under its C name,\n"
	       " * every struct as a nested class of member offsets, and the names of the shipped object's\n"
	       " * programs and maps. KernelAbiTest checks it against the BTF of the objects and the header.\n"
	       " */\n"
	       "public final class KernelAbi {\n"
	       "    private KernelAbi() {\n    }\n");
	print_enums(btf);
	print_structs(btf);
	print_names(argv[2]);
	printf("}\n");
	btf__free(btf);
	return 0;
}
