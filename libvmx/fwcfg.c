/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU's fw_cfg over I/O ports, without DMA; see <vmx/fwcfg.h>.
 *
 * Items live in a small array searched on selection only: a guest reads
 * byte by byte, so the per-byte path must be cheap, the selection need not.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmx/fwcfg.h"

#define SEL_WRITE_CHANNEL	0x4000
#define SEL_ARCH_LOCAL		0x8000
#define NO_ITEM			(-1)
/* FW_CFG_ID bit 0: the traditional interface; bit 1 (DMA) stays clear. */
#define ID_TRADITIONAL		1u
#define DIR_ENTRY_SIZE		(4 + 2 + 2 + LIBVMX_FWCFG_NAME_SIZE)

struct item {
	uint16_t key;
	bool is_file;
	uint8_t *data;
	uint32_t len;
	char name[LIBVMX_FWCFG_NAME_SIZE];
};

struct libvmx_fwcfg {
	struct item *items;
	size_t nr_items, cap_items;
	unsigned int nr_files;
	uint16_t next_file_key;
	int cur;		/* index of the selected item, or NO_ITEM */
	uint32_t offset;	/* next byte of it */
};

static int find(const struct libvmx_fwcfg *fw, uint16_t key)
{
	for (size_t i = 0; i < fw->nr_items; i++)
		if (fw->items[i].key == key)
			return i;
	return NO_ITEM;
}

/* The item for @key, created empty if missing; NULL on -ENOMEM. */
static struct item *get_item(struct libvmx_fwcfg *fw, uint16_t key)
{
	int i = find(fw, key);
	struct item *it;

	if (i != NO_ITEM)
		return &fw->items[i];
	if (fw->nr_items == fw->cap_items) {
		size_t cap = fw->cap_items ? fw->cap_items * 2 : 16;

		it = realloc(fw->items, cap * sizeof(*it));
		if (!it)
			return NULL;
		fw->items = it;
		fw->cap_items = cap;
	}
	it = &fw->items[fw->nr_items++];
	memset(it, 0, sizeof(*it));
	it->key = key;
	return it;
}

/* Replace @it's contents with a copy of @data; the old stay on failure. */
static int set_data(struct item *it, const void *data, size_t len)
{
	uint8_t *copy = NULL;

	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	free(it->data);
	it->data = copy;
	it->len = len;
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* Rebuild FILE_DIR from the files, in the order they were added. */
static int rebuild_dir(struct libvmx_fwcfg *fw)
{
	size_t len = 4 + (size_t)fw->nr_files * DIR_ENTRY_SIZE;
	int d = find(fw, FW_CFG_FILE_DIR);
	uint8_t *dir, *p;

	if (d == NO_ITEM)
		return -ENOENT;
	dir = calloc(1, len);
	if (!dir)
		return -ENOMEM;
	put_be32(dir, fw->nr_files);
	p = dir + 4;
	for (size_t i = 0; i < fw->nr_items; i++) {
		const struct item *it = &fw->items[i];

		if (!it->is_file)
			continue;
		put_be32(p, it->len);
		put_be16(p + 4, it->key);
		memcpy(p + 8, it->name, LIBVMX_FWCFG_NAME_SIZE);
		p += DIR_ENTRY_SIZE;
	}
	free(fw->items[d].data);
	fw->items[d].data = dir;
	fw->items[d].len = len;
	return 0;
}

void libvmx_fwcfg_destroy(struct libvmx_fwcfg *fw)
{
	if (!fw)
		return;
	for (size_t i = 0; i < fw->nr_items; i++)
		free(fw->items[i].data);
	free(fw->items);
	free(fw);
}

int libvmx_fwcfg_create(struct libvmx_fwcfg **out)
{
	struct libvmx_fwcfg *fw;
	uint8_t id[4] = { ID_TRADITIONAL, 0, 0, 0 };
	struct item *it;

	if (!out)
		return -EINVAL;
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	fw->cur = NO_ITEM;
	fw->next_file_key = FW_CFG_FILE_FIRST;
	if (libvmx_fwcfg_add(fw, FW_CFG_SIGNATURE, "QEMU", 4) ||
	    libvmx_fwcfg_add(fw, FW_CFG_ID, id, sizeof(id)) ||
	    !(it = get_item(fw, FW_CFG_FILE_DIR)) || rebuild_dir(fw)) {
		libvmx_fwcfg_destroy(fw);
		return -ENOMEM;
	}
	*out = fw;
	return 0;
}

int libvmx_fwcfg_add(struct libvmx_fwcfg *fw, uint16_t key, const void *data,
		     size_t len)
{
	struct item *it;
	int i;

	if (!fw || key > LIBVMX_FWCFG_MAX_KEY || key == FW_CFG_FILE_DIR ||
	    (!data && len))
		return -EINVAL;
	if (len > UINT32_MAX)
		return -E2BIG;
	i = find(fw, key);
	if (i != NO_ITEM && fw->items[i].is_file)
		return -EBUSY;
	it = get_item(fw, key);
	if (!it)
		return -ENOMEM;
	return set_data(it, data, len);
}

int libvmx_fwcfg_add_u16(struct libvmx_fwcfg *fw, uint16_t key,
			 uint16_t value)
{
	uint8_t b[2] = { value, value >> 8 };

	return libvmx_fwcfg_add(fw, key, b, sizeof(b));
}

int libvmx_fwcfg_add_u32(struct libvmx_fwcfg *fw, uint16_t key,
			 uint32_t value)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = value >> (8 * i);
	return libvmx_fwcfg_add(fw, key, b, sizeof(b));
}

int libvmx_fwcfg_add_u64(struct libvmx_fwcfg *fw, uint16_t key,
			 uint64_t value)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = value >> (8 * i);
	return libvmx_fwcfg_add(fw, key, b, sizeof(b));
}

static int find_file(const struct libvmx_fwcfg *fw, const char *name)
{
	for (size_t i = 0; i < fw->nr_items; i++)
		if (fw->items[i].is_file && !strcmp(fw->items[i].name, name))
			return i;
	return NO_ITEM;
}

int libvmx_fwcfg_add_file(struct libvmx_fwcfg *fw, const char *name,
			  const void *data, size_t len)
{
	size_t name_len;
	struct item *it;
	uint16_t key;
	int i, ret;

	if (!fw || !name || !*name || (!data && len))
		return -EINVAL;
	name_len = strnlen(name, LIBVMX_FWCFG_NAME_SIZE);
	if (name_len >= LIBVMX_FWCFG_NAME_SIZE)
		return -ENAMETOOLONG;
	if (len > UINT32_MAX)
		return -E2BIG;
	i = find_file(fw, name);
	if (i != NO_ITEM) {
		key = fw->items[i].key;
		ret = set_data(&fw->items[i], data, len);
	} else {
		/* Skip keys a plain item took (the file keys stay dense). */
		key = fw->next_file_key;
		while (key <= LIBVMX_FWCFG_MAX_KEY && find(fw, key) != NO_ITEM)
			key++;
		if (key > LIBVMX_FWCFG_MAX_KEY)
			return -ENOSPC;
		it = get_item(fw, key);
		if (!it)
			return -ENOMEM;
		ret = set_data(it, data, len);
		if (ret) {
			fw->nr_items--;	/* get_item appended it */
			return ret;
		}
		it->is_file = true;
		memcpy(it->name, name, name_len);
		fw->nr_files++;
		fw->next_file_key = key + 1;
	}
	if (ret)
		return ret;
	/*
	 * Only an allocation failure here leaves the directory behind the
	 * file; the next successful add_file brings it up to date.
	 */
	ret = rebuild_dir(fw);
	return ret ? ret : key;
}

static void select_key(struct libvmx_fwcfg *fw, uint16_t sel)
{
	fw->offset = 0;
	if (sel & SEL_ARCH_LOCAL)
		fw->cur = NO_ITEM;
	else
		fw->cur = find(fw, sel & ~SEL_WRITE_CHANNEL);
}

static uint8_t next_byte(struct libvmx_fwcfg *fw)
{
	const struct item *it;

	if (fw->cur == NO_ITEM)
		return 0;
	it = &fw->items[fw->cur];
	/* The offset stops at the end: no wrap however long the guest reads. */
	if (fw->offset >= it->len)
		return 0;
	return it->data[fw->offset++];
}

void libvmx_fwcfg_io(struct libvmx_fwcfg *fw, unsigned int port_offset,
		     void *data, unsigned int size, bool is_write)
{
	uint8_t *p = data;

	if (!fw || !data || !size || size > 8)
		return;
	if (is_write) {
		if (port_offset == 0)
			select_key(fw, p[0] | (size > 1 ? p[1] << 8 : 0));
		return;
	}
	for (unsigned int i = 0; i < size; i++)
		p[i] = port_offset <= 1 ? next_byte(fw) : 0;
}
