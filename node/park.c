/* Requests a peer forwarded before this node learnt which of its links
 * reaches that peer. The answer goes back over that link, so until the
 * peer's HELLO_ACK names it the request waits here, in arrival order, and
 * is handled as soon as the link is known (node/server.c). A request that
 * waits longer than LX__PARK_US, or that would take the queue past
 * LX__PARK_BYTES, is dropped, counted and logged. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

struct lx__parked {
    lx__parked *next;
    uint64_t us;
    char from[LX__NODE_ID_MAX + 1];
    size_t len; /* of the encoded message */
    size_t cap; /* of bytes[] */
    uint8_t bytes[];
};

static void drop(lx__node *n, const char *from, const char *why)
{
    if (n->park_dropped++ % 1000 == 0)
        lx__log(n, "dropping a request forwarded by %s: %s (%" PRIu64 " dropped)", from, why,
                n->park_dropped);
}

void lx__park_forward(lx__node *n, const lx__peer_msg *m, uint64_t now)
{
    size_t cap = 64 + sizeof m->from + m->u.forward.rid_len + m->u.forward.frame_len;
    if (n->park_bytes + cap > LX__PARK_BYTES) {
        drop(n, m->from, "too many wait for links not yet known");
        return;
    }
    lx__parked *p = malloc(sizeof *p + cap);
    if (!p) {
        drop(n, m->from, "out of memory");
        return;
    }
    if (lx__peer_encode(p->bytes, cap, &p->len, m) != LX_OK) {
        free(p);
        drop(n, m->from, "cannot keep it");
        return;
    }
    p->next = NULL;
    p->us = now;
    p->cap = cap;
    snprintf(p->from, sizeof p->from, "%s", m->from);
    if (n->park_tail)
        n->park_tail->next = p;
    else
        n->park_head = p;
    n->park_tail = p;
    n->park_bytes += cap;
    if (n->parked++ % 1000 == 0)
        lx__log(n,
                "holding requests forwarded by %s until the link to it is known (%" PRIu64
                " held so far)",
                m->from, n->parked);
}

static void unlink_next(lx__node *n, lx__parked **at, lx__parked *prev)
{
    lx__parked *p = *at;
    *at = p->next;
    if (n->park_tail == p)
        n->park_tail = prev;
    n->park_bytes -= p->cap;
}

void lx__park_replay(lx__node *n, const char *from, int slot, lx__park_fn fn)
{
    /* Taken off the queue first, so that fn may hold new requests. */
    lx__parked *out = NULL, **out_tail = &out, *prev = NULL;
    lx__parked **at = &n->park_head;
    while (*at) {
        lx__parked *p = *at;
        if (strcmp(p->from, from) != 0) {
            prev = p;
            at = &p->next;
            continue;
        }
        unlink_next(n, at, prev);
        p->next = NULL;
        *out_tail = p;
        out_tail = &p->next;
    }
    while (out) {
        lx__parked *p = out;
        out = p->next;
        lx__peer_msg m;
        if (lx__peer_decode(&m, p->bytes, p->len) == LX_OK)
            fn(n, &m, slot);
        free(p);
    }
}

void lx__park_tick(lx__node *n, uint64_t now)
{
    while (n->park_head && now - n->park_head->us > LX__PARK_US) {
        lx__parked *p = n->park_head;
        unlink_next(n, &n->park_head, NULL);
        drop(n, p->from, "no link to it in time");
        free(p);
    }
}

void lx__park_free(lx__node *n)
{
    while (n->park_head) {
        lx__parked *p = n->park_head;
        n->park_head = p->next;
        free(p);
    }
    n->park_tail = NULL;
    n->park_bytes = 0;
}
