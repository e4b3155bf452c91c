/* Market data on PUB: a TRADE per fill, and L2_DELTAs found by comparing,
 * before and after a block, the part of each touched book side that the
 * block can have changed: from the best level to the worst price one of its
 * commands rests at, cancels at or may trade at. The work is proportional to
 * those levels, not to the depth of the book. Each market's trade and L2
 * channels count their own seq from 1. */
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

#define TOUCHED_MAX 64
#define FIRST_FETCH 32 /* levels per side asked for first; doubled as needed */
#define LOOSE_MAX 64   /* replaces of orders placed in the same block */

typedef struct depth {
    lx_level *bids, *asks;
    size_t nb, na, cap;
} depth;

/* The levels of a book side a block can change: every level at least as
 * good as bound. */
typedef struct range {
    int any;        /* the block touches this side */
    uint64_t bound; /* bids: the lowest such price; asks: the highest */
} range;

struct lx__md {
    uint64_t *trade_seq, *l2_seq;
    size_t nmk;
    uint32_t touched[TOUCHED_MAX];
    range rng[TOUCHED_MAX][2]; /* by side */
    size_t ntouched;
    int all; /* more markets touched than fit: no deltas for this block */
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

static int in_range(const range *r, uint8_t side, uint64_t price)
{
    return r->any && (side == LX_BUY ? price >= r->bound : price <= r->bound);
}

/* How many of the best-first levels lv[0..n) are inside r. */
static size_t prefix_in(const lx_level *lv, size_t n, const range *r, uint8_t side)
{
    size_t k = 0;
    while (k < n && in_range(r, side, lv[k].price))
        k++;
    return k;
}

/* The levels of a market inside the ranges r, best first. lx_engine_depth
 * gives best-first prefixes, so ask for more until each touched side is
 * exhausted or its last level is past the bound. */
static int take_depth(depth *d, const lx_engine *e, uint32_t market, const range r[2])
{
    size_t want = FIRST_FETCH;
    for (;;) {
        if (want > d->cap) {
            lx_level *b = realloc(d->bids, want * sizeof *b);
            if (b)
                d->bids = b;
            lx_level *a = realloc(d->asks, want * sizeof *a);
            if (a)
                d->asks = a;
            if (!b || !a)
                return 0;
            d->cap = want;
        }
        if (lx_engine_depth(e, d->bids, &d->nb, d->asks, &d->na, market, want) != LX_OK)
            return 0;
        size_t kb = prefix_in(d->bids, d->nb, &r[LX_BUY], LX_BUY);
        size_t ka = prefix_in(d->asks, d->na, &r[LX_SELL], LX_SELL);
        if ((kb < d->nb || d->nb < want) && (ka < d->na || d->na < want)) {
            d->nb = kb;
            d->na = ka;
            return 1;
        }
        want *= 2;
    }
}

static void widen(range *r, uint8_t side, uint64_t price)
{
    if (!r->any) {
        r->any = 1;
        r->bound = price;
    } else if (side == LX_BUY ? price < r->bound : price > r->bound) {
        r->bound = price;
    }
}

/* The touched-market index of market, added if new; -1 when too many. */
static int touch(lx__md *md, uint32_t market)
{
    for (size_t i = 0; i < md->ntouched; i++)
        if (md->touched[i] == market)
            return (int)i;
    if (md->ntouched == TOUCHED_MAX) {
        md->all = 1;
        return -1;
    }
    memset(md->rng[md->ntouched], 0, sizeof md->rng[0]);
    md->touched[md->ntouched] = market;
    return (int)md->ntouched++;
}

/* An order of `side` at price rests there, and may trade against the other
 * side up to price. */
static void touch_order(lx__md *md, uint32_t market, uint8_t side, uint64_t price)
{
    int t = touch(md, market);
    if (t < 0 || side > LX_SELL)
        return;
    widen(&md->rng[t][side], side, price);
    widen(&md->rng[t][side ^ 1], (uint8_t)(side ^ 1), price);
}

void lx__md_before(lx__md *md, const lx_engine *e, const lx_block *b)
{
    uint64_t loose[LOOSE_MAX];
    size_t nloose = 0;
    int loose_over = 0;
    md->ntouched = 0;
    md->all = 0;
    for (uint32_t i = 0; i < b->hdr.count && !md->all; i++) {
        const lx_entry *x = &b->entries[i];
        lx_order_info oi;
        if (x->is_market)
            continue;
        if (x->cmd.type == LX_CMD_ORDER) {
            touch_order(md, x->cmd.u.order.market, x->cmd.u.order.side, x->cmd.u.order.price);
        } else if (x->cmd.type == LX_CMD_CANCEL) {
            /* An order placed in this block is covered by its own entry. */
            if (lx_engine_order(e, &oi, x->cmd.u.cancel.id) == LX_OK) {
                int t = touch(md, oi.market);
                if (t >= 0 && oi.side <= LX_SELL)
                    widen(&md->rng[t][oi.side], oi.side, oi.price);
            }
        } else if (x->cmd.type == LX_CMD_REPLACE) {
            if (lx_engine_order(e, &oi, x->cmd.u.replace.id) == LX_OK) {
                int t = touch(md, oi.market);
                if (t >= 0 && oi.side <= LX_SELL)
                    widen(&md->rng[t][oi.side], oi.side, oi.price);
                touch_order(md, oi.market, oi.side, x->cmd.u.replace.price);
            } else if (nloose < LOOSE_MAX) {
                /* Maybe an order placed earlier in this block: its market
                 * is touched already, its side unknown here. */
                loose[nloose++] = x->cmd.u.replace.price;
            } else {
                loose_over = 1;
            }
        }
    }
    if (md->all) {
        /* Too many to keep: no deltas for this block; every market's L2 seq
         * skips one instead, which tells subscribers to fetch a BOOK. */
        md->ntouched = 0;
        return;
    }
    for (size_t t = 0; t < md->ntouched; t++) {
        for (size_t k = 0; k < nloose; k++) {
            widen(&md->rng[t][LX_BUY], LX_BUY, loose[k]);
            widen(&md->rng[t][LX_SELL], LX_SELL, loose[k]);
        }
        if (loose_over) {
            widen(&md->rng[t][LX_BUY], LX_BUY, 0);
            widen(&md->rng[t][LX_SELL], LX_SELL, UINT64_MAX);
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < md->ntouched; i++) {
        uint32_t mk = md->touched[i];
        if (mk >= lx_engine_market_count(e))
            continue;
        md->touched[k] = mk;
        memcpy(md->rng[k], md->rng[i], sizeof md->rng[0]);
        if (take_depth(&md->before[k], e, mk, md->rng[k]))
            k++;
    }
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
        if (mk >= md->nmk || !take_depth(&md->after, n->engine, mk, md->rng[k]))
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

void lx__md_subscription(lx__node *n, const uint8_t *msg, size_t len)
{
    if (n->md_on || len < 1 || msg[0] != 1)
        return;
    if (len == 1 || msg[1] == LX_PROTO_CH_TRADE || msg[1] == LX_PROTO_CH_L2) {
        n->md_on = 1;
        lx__log(n, "market data on: a subscriber asked for %s",
                len == 1                      ? "everything"
                : msg[1] == LX_PROTO_CH_TRADE ? "trades"
                                              : "L2 deltas");
    }
}
