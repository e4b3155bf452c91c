/* The block batcher: collects sequenced requests and says when a block is due
 * (N entries or T microseconds after the first, whichever comes first), and
 * when to cut it (group commit: once the pipeline is idle, paced under load).
 * Pure: the caller passes the time, so it is tested without sockets. */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

lx_err lx__batcher_init(lx__batcher *b, uint32_t max_entries, uint64_t max_us, uint64_t min_us)
{
    if (!b || max_entries == 0 || max_entries > LX_BLOCK_ENTRIES_MAX || max_us == 0)
        return LX_EINVAL;
    memset(b, 0, sizeof *b);
    b->max_entries = max_entries;
    b->max_us = max_us;
    b->min_us = min_us;
    return LX_OK;
}

void lx__batcher_free(lx__batcher *b)
{
    if (!b)
        return;
    free(b->entries);
    free(b->reqs);
    memset(b, 0, sizeof *b);
}

int lx__batcher_fits(const lx__batcher *b, uint32_t n)
{
    if (n > LX_BLOCK_ENTRIES_MAX)
        return 0;
    return b->n == 0 || (uint64_t)b->n + n <= b->max_entries;
}

static lx_err grow(void **v, uint32_t *cap, uint32_t need, size_t size)
{
    if (need <= *cap)
        return LX_OK;
    uint32_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, (size_t)c * size);
    if (!p)
        return LX_ENOMEM;
    *v = p;
    *cap = c;
    return LX_OK;
}

lx_err lx__batcher_add(lx__batcher *b, const lx__req *r, const lx_entry *entries, uint32_t n,
                       uint64_t now_us)
{
    if (!b || !r || (!entries && n))
        return LX_EINVAL;
    if (!lx__batcher_fits(b, n))
        return LX_ETOOBIG;
    lx_err rc = grow((void **)&b->entries, &b->cap, b->n + n, sizeof *b->entries);
    if (rc == LX_OK)
        rc = grow((void **)&b->reqs, &b->reqcap, b->nreq + 1, sizeof *b->reqs);
    if (rc != LX_OK)
        return rc;
    if (b->n == 0 && b->nreq == 0)
        b->opened_us = now_us;
    lx__req *q = &b->reqs[b->nreq++];
    *q = *r;
    q->first = b->n;
    q->n = n;
    if (n)
        memcpy(b->entries + b->n, entries, (size_t)n * sizeof *entries);
    b->n += n;
    return LX_OK;
}

int lx__batcher_due(const lx__batcher *b, uint64_t now_us)
{
    if (b->nreq == 0)
        return 0;
    if (b->n >= b->max_entries)
        return 1;
    return now_us >= b->opened_us && now_us - b->opened_us >= b->max_us;
}

uint64_t lx__batcher_paced(const lx__batcher *b)
{
    if (b->min_us == 0 || b->cut_n < LX__PACE_ENTRIES)
        return 0;
    return b->cut_us + b->min_us;
}

int lx__batcher_should_cut(const lx__batcher *b, uint64_t now_us, int idle)
{
    if (b->nreq == 0)
        return 0;
    return (idle && now_us >= lx__batcher_paced(b)) || lx__batcher_due(b, now_us);
}

uint64_t lx__batcher_deadline(const lx__batcher *b)
{
    if (b->nreq == 0)
        return UINT64_MAX;
    if (b->n >= b->max_entries)
        return b->opened_us;
    return b->opened_us + b->max_us;
}

uint64_t lx__batcher_idle_deadline(const lx__batcher *b)
{
    if (b->nreq == 0)
        return UINT64_MAX;
    uint64_t d = lx__batcher_deadline(b), p = lx__batcher_paced(b);
    return p < d ? p : d;
}

void lx__batcher_taken(lx__batcher *b, uint64_t now_us)
{
    b->cut_us = now_us;
    b->cut_n = b->n;
    lx__batcher_clear(b);
}

void lx__batcher_clear(lx__batcher *b)
{
    b->n = 0;
    b->nreq = 0;
    b->opened_us = 0;
}
