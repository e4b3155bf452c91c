/* Market data on PUB: a TRADE per fill, and L2_DELTAs found by comparing the
 * depth of every market a block touched before and after the block. Each
 * market's trade and L2 channels count their own seq from 1. */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

#define TOUCHED_MAX 64

typedef struct depth {
    lx_level *bids, *asks;
    size_t nb, na, cap;
} depth;

struct lx__md {
    uint64_t *trade_seq, *l2_seq;
    size_t nmk;
    uint32_t touched[TOUCHED_MAX];
    size_t ntouched;
    int all; /* more markets touched than fit: diff every market */
    depth before[TOUCHED_MAX];
    depth after;
};

lx_err lx__md_new(lx__md **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? LX_OK : LX_ENOMEM;
}

static void depth_free(depth *d)
{
    free(d->bids);
    free(d->asks);
    memset(d, 0, sizeof *d);
}

void lx__md_free(lx__md **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < TOUCHED_MAX; i++)
        depth_free(&(*p)->before[i]);
    depth_free(&(*p)->after);
    free((*p)->trade_seq);
    free((*p)->l2_seq);
    free(*p);
    *p = NULL;
}

static int ensure_markets(lx__md *md, size_t n)
{
    if (n <= md->nmk)
        return 1;
    uint64_t *t = realloc(md->trade_seq, n * sizeof *t);
    if (!t)
        return 0;
    md->trade_seq = t;
    uint64_t *l = realloc(md->l2_seq, n * sizeof *l);
    if (!l)
        return 0;
    md->l2_seq = l;
    for (size_t i = md->nmk; i < n; i++)
        md->trade_seq[i] = md->l2_seq[i] = 0;
    md->nmk = n;
    return 1;
}

/* The whole depth of a market. */
static int take_depth(depth *d, const lx_engine *e, uint32_t market)
{
    for (;;) {
        if (d->cap == 0) {
            d->cap = 256;
            d->bids = malloc(d->cap * sizeof *d->bids);
            d->asks = malloc(d->cap * sizeof *d->asks);
        }
        if (!d->bids || !d->asks)
            return 0;
        if (lx_engine_depth(e, d->bids, &d->nb, d->asks, &d->na, market, d->cap) != LX_OK) {
            d->nb = d->na = 0;
            return 1;
        }
        if (d->nb < d->cap && d->na < d->cap)
            return 1;
        size_t cap = d->cap * 2;
        lx_level *b = realloc(d->bids, cap * sizeof *b);
        if (b)
            d->bids = b;
        lx_level *a = realloc(d->asks, cap * sizeof *a);
        if (a)
            d->asks = a;
        if (!b || !a)
            return 0;
        d->cap = cap;
    }
}

static void touch(lx__md *md, uint32_t market)
{
    for (size_t i = 0; i < md->ntouched; i++)
        if (md->touched[i] == market)
            return;
    if (md->ntouched == TOUCHED_MAX) {
        md->all = 1;
        return;
    }
    md->touched[md->ntouched++] = market;
}

void lx__md_before(lx__md *md, const lx_engine *e, const lx_block *b)
{
    md->ntouched = 0;
    md->all = 0;
    for (uint32_t i = 0; i < b->hdr.count; i++) {
        const lx_entry *x = &b->entries[i];
        lx_order_info oi;
        if (x->is_market)
            continue;
        if (x->cmd.type == LX_CMD_ORDER)
            touch(md, x->cmd.u.order.market);
        else if (x->cmd.type == LX_CMD_CANCEL &&
                 lx_engine_order(e, &oi, x->cmd.u.cancel.id) == LX_OK)
            touch(md, oi.market);
        else if (x->cmd.type == LX_CMD_REPLACE &&
                 lx_engine_order(e, &oi, x->cmd.u.replace.id) == LX_OK)
            touch(md, oi.market);
    }
    if (md->all) {
        /* Too many to keep: no deltas for this block; every market's L2 seq
         * skips one instead, which tells subscribers to fetch a BOOK. */
        md->ntouched = 0;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < md->ntouched; i++)
        if (md->touched[i] < lx_engine_market_count(e) &&
            take_depth(&md->before[k], e, md->touched[i]))
            md->touched[k++] = md->touched[i];
    md->ntouched = k;
}

static void publish(lx__node *n, const lx_proto_msg *m)
{
    uint8_t buf[64];
    size_t w;
    if (lx_proto_encode(buf, sizeof buf, &w, m) != LX_OK)
        return;
    lx_zpart p = {buf, w};
    if (lx_zsock_send(n->pub, &p, 1, LX_ZDONTWAIT) == LX_OK)
        n->m.msgs_out++;
}

static void delta(lx__md *md, lx__node *n, uint32_t market, uint8_t side, uint64_t price,
                  uint64_t qty)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_L2_DELTA;
    m.u.l2 = (lx_proto_l2){market, ++md->l2_seq[market], side, price, qty};
    publish(n, &m);
}

/* Merges two best-first level lists of one side and publishes the changes. */
static void diff_side(lx__md *md, lx__node *n, uint32_t market, uint8_t side, const lx_level *a,
                      size_t na, const lx_level *b, size_t nb)
{
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        int cmp;
        if (i == na)
            cmp = 1;
        else if (j == nb)
            cmp = -1;
        else if (a[i].price == b[j].price)
            cmp = 0;
        else /* best first: bids descending, asks ascending */
            cmp = (side == LX_BUY ? a[i].price > b[j].price : a[i].price < b[j].price) ? -1 : 1;
        if (cmp < 0) {
            delta(md, n, market, side, a[i].price, 0);
            i++;
        } else if (cmp > 0) {
            delta(md, n, market, side, b[j].price, b[j].qty);
            j++;
        } else {
            if (a[i].qty != b[j].qty)
                delta(md, n, market, side, b[j].price, b[j].qty);
            i++;
            j++;
        }
    }
}

void lx__md_after(lx__md *md, lx__node *n, const lx_event *evs, size_t nev)
{
    if (!ensure_markets(md, lx_engine_market_count(n->engine)))
        return;
    for (size_t i = 0; i < nev; i++) {
        const lx_event *x = &evs[i];
        if (x->type != LX_EV_FILL || x->market >= md->nmk)
            continue;
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_TRADE;
        m.u.trade = (lx_proto_trade){x->market, ++md->trade_seq[x->market], x->u.fill.price,
                                     x->u.fill.qty, x->side};
        publish(n, &m);
    }
    if (md->all)
        for (size_t k = 0; k < md->nmk; k++)
            md->l2_seq[k]++;
    for (size_t k = 0; k < md->ntouched; k++) {
        uint32_t mk = md->touched[k];
        if (mk >= md->nmk || !take_depth(&md->after, n->engine, mk))
            continue;
        const depth *b = &md->before[k];
        diff_side(md, n, mk, LX_BUY, b->bids, b->nb, md->after.bids, md->after.nb);
        diff_side(md, n, mk, LX_SELL, b->asks, b->na, md->after.asks, md->after.na);
    }
}

uint64_t lx__md_l2_seq(const lx__md *md, uint32_t market)
{
    return market < md->nmk ? md->l2_seq[market] : 0;
}
