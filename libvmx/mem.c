// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libvmx: guest memory.  The library keeps its own copy of the VM's slot
 * map for guest-physical -> host translation.  Readers (vCPU threads
 * emulating instructions) walk it lock-free under liburcu; writers copy,
 * publish and free the old copy after a grace period.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/*
 * liburcu readers must be registered threads.  Register a thread the
 * first time it reads the map, and unregister it when it exits.
 */
static pthread_key_t lv_rcu_key;
static pthread_once_t lv_rcu_once = PTHREAD_ONCE_INIT;
static __thread bool lv_rcu_registered;

static void lv_rcu_thread_exit(void *unused)
{
	(void)unused;
	urcu_memb_unregister_thread();
}

static void lv_rcu_key_init(void)
{
	pthread_key_create(&lv_rcu_key, lv_rcu_thread_exit);
}

static void lv_rcu_read_lock(void)
{
	if (!lv_rcu_registered) {
		pthread_once(&lv_rcu_once, lv_rcu_key_init);
		urcu_memb_register_thread();
		pthread_setspecific(lv_rcu_key, &lv_rcu_registered);
		lv_rcu_registered = true;
	}
	urcu_memb_read_lock();
}

static int lv_region_cmp(const void *a, const void *b)
{
	const struct lv_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* The region holding @gpa in @map, or NULL. */
static const struct lv_region *lv_map_find(const struct lv_memmap *map,
					   uint64_t gpa)
{
	size_t lo = 0, hi = map ? map->nr : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lv_region *r = &map->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* New map = @old without slot @remove, plus @add (if not NULL). */
static struct lv_memmap *lv_map_copy(const struct lv_memmap *old,
				     uint32_t remove, const struct lv_region *add)
{
	size_t nr_old = old ? old->nr : 0, i, n = 0;
	struct lv_memmap *map;

	map = calloc(1, sizeof(*map) + (nr_old + 1) * sizeof(map->regions[0]));
	if (!map)
		return NULL;
	for (i = 0; i < nr_old; i++)
		if (old->regions[i].slot != remove)
			map->regions[n++] = old->regions[i];
	if (add)
		map->regions[n++] = *add;
	map->nr = n;
	qsort(map->regions, n, sizeof(map->regions[0]), lv_region_cmp);
	return map;
}

static void lv_map_publish(struct libvmx_vm *vm, struct lv_memmap *map)
{
	struct lv_memmap *old = vm->memmap;

	rcu_assign_pointer(vm->memmap, map);
	urcu_memb_synchronize_rcu();
	free(old);
}

static const struct lv_region *lv_map_slot(const struct lv_memmap *map,
					   uint32_t slot)
{
	size_t i;

	for (i = 0; map && i < map->nr; i++)
		if (map->regions[i].slot == slot)
			return &map->regions[i];
	return NULL;
}

static int lv_set_slot(struct libvmx_vm *vm, uint32_t slot, uint64_t gpa,
		       uint64_t size, uint32_t flags, void *hva)
{
	struct vmx_memslot req = {
		.slot = slot, .flags = flags, .guest_phys = gpa, .size = size,
		.user_addr = (uint64_t)(uintptr_t)hva,
	};

	return lv_ioctl(vm->fd, VMX_SET_MEMSLOT, &req);
}

static int lv_vm_map(struct libvmx_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t size, uint32_t flags, void *hva, bool owned)
{
	struct lv_region r = {
		.gpa = gpa, .size = size, .hva = hva, .slot = slot,
		.flags = flags, .owned = owned,
	};
	struct lv_memmap *map;
	int ret;

	pthread_mutex_lock(&vm->map_lock);
	ret = -EINVAL;
	if (lv_map_slot(vm->memmap, slot))
		goto out;
	ret = -ENOMEM;
	map = lv_map_copy(vm->memmap, UINT32_MAX, &r);
	if (!map)
		goto out;
	ret = lv_set_slot(vm, slot, gpa, size, flags, hva);
	if (ret) {
		free(map);
		goto out;
	}
	lv_map_publish(vm, map);
out:
	pthread_mutex_unlock(&vm->map_lock);
	return ret;
}

int libvmx_vm_map(struct libvmx_vm *vm, uint32_t slot, uint64_t gpa,
		  uint64_t size, uint32_t flags, void *hva)
{
	if (!vm || !hva)
		return -EINVAL;
	return lv_vm_map(vm, slot, gpa, size, flags, hva, false);
}

int libvmx_vm_add_ram(struct libvmx_vm *vm, uint32_t slot, uint64_t gpa,
		      uint64_t size, uint32_t flags, void **hva)
{
	void *mem;
	int ret;

	if (!vm || !size || size % 4096)
		return -EINVAL;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return -ENOMEM;
	ret = lv_vm_map(vm, slot, gpa, size, flags, mem, true);
	if (ret) {
		munmap(mem, size);
		return ret;
	}
	if (hva)
		*hva = mem;
	return 0;
}

int libvmx_vm_unmap(struct libvmx_vm *vm, uint32_t slot)
{
	const struct lv_region *r;
	struct lv_region gone;
	struct lv_memmap *map;
	int ret;

	if (!vm)
		return -EINVAL;
	pthread_mutex_lock(&vm->map_lock);
	ret = -ENOENT;
	r = lv_map_slot(vm->memmap, slot);
	if (!r)
		goto out;
	gone = *r;
	ret = -ENOMEM;
	map = lv_map_copy(vm->memmap, slot, NULL);
	if (!map)
		goto out;
	ret = lv_set_slot(vm, slot, gone.gpa, 0, 0, NULL);
	if (ret) {
		free(map);
		goto out;
	}
	lv_map_publish(vm, map);
	if (gone.owned)
		munmap(gone.hva, gone.size);
out:
	pthread_mutex_unlock(&vm->map_lock);
	return ret;
}

void lv_vm_free_memory(struct libvmx_vm *vm)
{
	struct lv_memmap *map = vm->memmap;
	size_t i;

	for (i = 0; map && i < map->nr; i++)
		if (map->regions[i].owned)
			munmap(map->regions[i].hva, map->regions[i].size);
	free(map);
	vm->memmap = NULL;
}

void *libvmx_gpa_to_hva(struct libvmx_vm *vm, uint64_t gpa, uint64_t len)
{
	const struct lv_region *r;
	void *hva = NULL;

	if (!vm)
		return NULL;
	lv_rcu_read_lock();
	r = lv_map_find(rcu_dereference(vm->memmap), gpa);
	if (r && len <= r->size - (gpa - r->gpa))
		hva = (char *)r->hva + (gpa - r->gpa);
	urcu_memb_read_unlock();
	return hva;
}

/* Copy between @buf and guest memory, one slot-contained piece at a time. */
static int lv_copy_gpa(struct libvmx_vm *vm, uint64_t gpa, void *buf,
		       uint64_t len, bool write)
{
	char *p = buf;
	int ret = 0;

	if (!vm || (!buf && len))
		return -EINVAL;
	lv_rcu_read_lock();
	while (len) {
		const struct lv_region *r = lv_map_find(rcu_dereference(vm->memmap), gpa);
		uint64_t chunk;
		char *hva;

		if (!r) {
			ret = -EFAULT;
			break;
		}
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		hva = (char *)r->hva + (gpa - r->gpa);
		if (write)
			memcpy(hva, p, chunk);
		else
			memcpy(p, hva, chunk);
		gpa += chunk;
		p += chunk;
		len -= chunk;
	}
	urcu_memb_read_unlock();
	return ret;
}

int libvmx_read_gpa(struct libvmx_vm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	return lv_copy_gpa(vm, gpa, buf, len, false);
}

int libvmx_write_gpa(struct libvmx_vm *vm, uint64_t gpa, const void *buf,
		     uint64_t len)
{
	return lv_copy_gpa(vm, gpa, (void *)buf, len, true);
}

int libvmx_vm_get_dirty_log(struct libvmx_vm *vm, uint32_t slot,
			    uint64_t *bitmap)
{
	struct vmx_dirty_log req = {
		.slot = slot, .bitmap = (uint64_t)(uintptr_t)bitmap,
	};

	if (!vm || !bitmap)
		return -EINVAL;
	return lv_ioctl(vm->fd, VMX_GET_DIRTY_LOG, &req);
}
