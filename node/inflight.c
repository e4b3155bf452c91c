/* The load client's in-flight table: request frames by req_id, in a ring
 * that grows when the oldest open frame would be lapped, with open counts
 * per kind and expiry of the oldest (lx/node.h). One thread at a time. */
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

/* req_ids are handed out in order, so in-flight frames live in a ring
 * indexed by req_id that grows when the oldest open frame would be lapped. */
struct lx_inflight {
    lx_inflight_frame *v;
    uint64_t cap; /* a power of two */
    uint64_t lo;  /* no open frame has a req_id below lo */
    uint64_t next;
    uint64_t open;
    uint64_t open_kind[LX_INFLIGHT_KIND_COUNT];
};

lx_err lx_inflight_new(lx_inflight **out, uint64_t cap)
{
    if (out == NULL || cap == 0 || cap > (UINT64_C(1) << 40))
        return LX_EINVAL;
    *out = NULL;
    lx_inflight *f = calloc(1, sizeof *f);
    if (f == NULL)
        return LX_ENOMEM;
    f->cap = 1;
    while (f->cap < cap)
        f->cap *= 2;
    f->v = calloc(f->cap, sizeof *f->v);
    if (f->v == NULL) {
        free(f);
        return LX_ENOMEM;
    }
    f->lo = f->next = 1;
    *out = f;
    return LX_OK;
}

void lx_inflight_free(lx_inflight **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->v);
    free(*p);
    *p = NULL;
}

lx_inflight_frame *lx_inflight_find(lx_inflight *f, uint64_t req_id)
{
    if (req_id < f->lo || req_id >= f->next)
        return NULL;
    lx_inflight_frame *fr = &f->v[req_id & (f->cap - 1)];
    return fr->req_id == req_id && fr->state != LX_INFLIGHT_FREE ? fr : NULL;
}

void lx_inflight_close(lx_inflight *f, lx_inflight_frame *fr)
{
    LX_ASSERT(fr->state != LX_INFLIGHT_FREE && f->open > 0);
    fr->state = LX_INFLIGHT_FREE;
    f->open--;
    f->open_kind[fr->kind]--;
}

lx_err lx_inflight_add(lx_inflight *f, lx_inflight_frame **out, uint64_t *expired,
                       lx_inflight_kind kind, uint16_t node, uint32_t norders, uint64_t now_ns,
                       uint64_t expire_ns)
{
    if (f == NULL || out == NULL || expired == NULL || kind < LX_INFLIGHT_ORDER ||
        kind >= LX_INFLIGHT_KIND_COUNT)
        return LX_EINVAL;
    *out = NULL;
    while (f->lo < f->next && lx_inflight_find(f, f->lo) == NULL)
        f->lo++;
    if (f->next - f->lo >= f->cap) {
        /* Its answer would come too late to count anyway, and keeping it
         * would grow the ring without bound. */
        lx_inflight_frame *old = lx_inflight_find(f, f->lo);
        if (old != NULL && now_ns - old->sent_ns > expire_ns) {
            if (old->kind == LX_INFLIGHT_ORDER && old->state == LX_INFLIGHT_WAIT)
                *expired += old->norders;
            lx_inflight_close(f, old);
            f->lo++;
        }
    }
    if (f->next - f->lo >= f->cap) {
        uint64_t cap = f->cap * 2;
        lx_inflight_frame *v = calloc(cap, sizeof *v);
        if (v == NULL)
            return LX_ENOMEM;
        for (uint64_t r = f->lo; r < f->next; r++) {
            lx_inflight_frame *old = lx_inflight_find(f, r);
            if (old != NULL)
                v[r & (cap - 1)] = *old;
        }
        free(f->v);
        f->v = v;
        f->cap = cap;
    }
    lx_inflight_frame *fr = &f->v[f->next & (f->cap - 1)];
    memset(fr, 0, sizeof *fr);
    fr->req_id = f->next++;
    fr->kind = (uint8_t)kind;
    fr->node = node;
    fr->norders = norders;
    fr->state = LX_INFLIGHT_WAIT;
    fr->sent_ns = now_ns;
    f->open++;
    f->open_kind[kind]++;
    *out = fr;
    return LX_OK;
}

uint64_t lx_inflight_open(const lx_inflight *f, int kind)
{
    if (kind == 0)
        return f->open;
    return kind > 0 && kind < LX_INFLIGHT_KIND_COUNT ? f->open_kind[kind] : 0;
}

uint64_t lx_inflight_capacity(const lx_inflight *f)
{
    return f->cap;
}

uint64_t lx_inflight_unanswered_orders(lx_inflight *f)
{
    uint64_t n = 0;
    for (uint64_t r = f->lo; r < f->next; r++) {
        const lx_inflight_frame *fr = lx_inflight_find(f, r);
        if (fr != NULL && fr->state == LX_INFLIGHT_WAIT && fr->kind == LX_INFLIGHT_ORDER)
            n += fr->norders;
    }
    return n;
}
