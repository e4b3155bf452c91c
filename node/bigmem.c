/* Large buffers straight from mmap, in 2 MiB pages where the kernel has
 * them: one fault per 2 MiB instead of one per 4 KiB, and far fewer TLB
 * misses for lookups that land anywhere in them. */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include <sys/mman.h>

#include "node_int.h"

void *lx__big_alloc(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

void lx__big_free(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

void lx__big_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
        return;
#endif
    /* Kernels before 5.14: a write to each page (they are zero already). */
    volatile uint8_t *b = p;
    for (size_t i = 0; i < len; i += 4096)
        b[i] = 0;
}
