/* lx-bench: measures the matching engine's throughput and per-operation
 * latency on a generated order stream or a JSON Lines command file, beside a
 * bare price-level book as a baseline. */
#define _GNU_SOURCE /* mallinfo2 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/node.h"

#define NACCOUNTS 1000u
#define MID_START 1000000u
#define MID_MIN 500000u
#define MID_MAX 1500000u
#define ADD_SPREAD 15u   /* adds rest 1..15 ticks from the mid */
#define DEEP_SPREAD 2000 /* the deep preload spreads 1..2000 ticks */
#define IOC_REACH 20u    /* IOC orders cross up to 20 ticks past the mid */
#define IOC_QTY 20u      /* IOC orders take 1..20 lots */
#define LIVE_TARGET 1000u
#define DEEP_ORDERS 1000000u
#define HIST_NS 100000u /* latency histogram: 1 ns buckets up to 100 us */

enum kind { K_ADD, K_CANCEL, K_IOC, K_REPLACE, K_TRANSFER, K_PRELOAD, K_COUNT };
static const char *const kind_name[K_COUNT] = {"limit add", "cancel",   "ioc/market",
                                               "replace",   "transfer", "preload"};
static const char *const kind_key[K_COUNT] = {"add",     "cancel",   "ioc",
                                              "replace", "transfer", "preload"};

typedef struct op {
    lx_cmd cmd;
    uint8_t kind;
    bool is_market; /* a market line of a --file stream */
} op;

typedef struct stream {
    op *v;
    size_t n, cap;
    size_t first_timed;      /* ops before it are applied untimed */
    lx_market_spec *markets; /* generated mixes: added before the stream */
    size_t nmarkets;
    bool synthetic; /* generated: the baseline can run it */
} stream;

typedef struct options {
    const char *mix;
    const char *file;
    uint64_t ops, seed, runs;
    bool json;
} options;

/* ---------------------------------------------------------------------------
 * Helpers.
 * ------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: unlike the wall clock it does not count the time
 * other processes hold the core, which matters on a shared machine. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct span {
    uint64_t wall, cpu;
} span;

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void die(const char *what, lx_err err)
{
    fprintf(stderr, "lx-bench: %s: %s\n", what, lx_strerror(err));
    exit(1);
}

static op *stream_push(stream *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        op *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            die("stream", LX_ENOMEM);
        s->v = v;
        s->cap = cap;
    }
    op *o = &s->v[s->n++];
    memset(o, 0, sizeof *o);
    return o;
}

static uint64_t account_of(uint64_t id)
{
    return 1 + (id * 0x9e3779b97f4a7c15ull >> 32) % NACCOUNTS;
}

/* ---------------------------------------------------------------------------
 * The generated mixes. The stream is generated against a live engine, so
 * that cancels name orders that are open at that point of the stream.
 * ------------------------------------------------------------------------- */

static void bench_market(lx_market_spec *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "BTC-USD");
    snprintf(m->base, sizeof m->base, "BTC");
    snprintf(m->quote, sizeof m->quote, "USD");
    m->lot = 1;
    m->tick = 1;
    m->min_qty = 1;
    m->maker_fee_bps = 1;
    m->taker_fee_bps = 2;
}

/* Builds an engine with the stream's markets and funded accounts. */
static lx_engine *setup_engine(const stream *s, lx_events *evs)
{
    lx_engine_config cfg = {0};
    lx_engine *e;
    lx_err err = lx_engine_new(&e, &cfg);
    if (err)
        die("engine", err);
    /* A file's markets are lines of its stream. */
    if (!s->synthetic)
        return e;
    for (size_t i = 0; i < s->nmarkets; i++)
        if ((err = lx_engine_add_market(e, evs, &s->markets[i])) != LX_OK)
            die("market", err);
    for (uint64_t a = 1; a <= NACCOUNTS; a++) {
        for (int k = 0; k < 2; k++) {
            lx_cmd c;
            memset(&c, 0, sizeof c);
            c.type = LX_CMD_DEPOSIT;
            c.u.transfer.account = a;
            c.u.transfer.amount = 1000000000000000ull;
            snprintf(c.u.transfer.asset, sizeof c.u.transfer.asset, "%s", k ? "USD" : "BTC");
            if ((err = lx_engine_apply(e, evs, &c)) != LX_OK)
                die("deposit", err);
        }
    }
    lx_events_clear(evs);
    return e;
}

typedef struct live_set {
    uint64_t *ids; /* open orders, unordered */
    uint32_t *pos; /* by id: index in ids + 1, or 0 */
    size_t n, maxid;
} live_set;

static void live_add(live_set *l, uint64_t id)
{
    l->pos[id] = (uint32_t)(l->n + 1);
    l->ids[l->n++] = id;
}

static void live_del(live_set *l, uint64_t id)
{
    if (id > l->maxid || l->pos[id] == 0)
        return;
    size_t i = l->pos[id] - 1;
    uint64_t last = l->ids[--l->n];
    l->ids[i] = last;
    l->pos[last] = (uint32_t)(i + 1);
    l->pos[id] = 0;
}

static void gen_order(op *o, uint64_t id, uint8_t side, uint8_t tif, uint64_t price, uint64_t qty)
{
    o->cmd.type = LX_CMD_ORDER;
    lx_order_cmd *c = &o->cmd.u.order;
    c->id = id;
    c->account = account_of(id);
    c->market = 0;
    c->side = side;
    c->type = LX_LIMIT;
    c->tif = tif;
    c->stp = LX_STP_EXPIRE_MAKER;
    c->price = price;
    c->qty = qty;
}

static void generate(stream *s, const options *opt, bool deep)
{
    s->synthetic = true;
    s->nmarkets = 1;
    s->markets = calloc(1, sizeof *s->markets);
    if (!s->markets)
        die("stream", LX_ENOMEM);
    bench_market(&s->markets[0]);

    size_t pre = deep ? DEEP_ORDERS : 0;
    size_t total = pre + opt->ops;
    live_set live = {0};
    live.maxid = total + 1;
    live.ids = malloc((total + 1) * sizeof *live.ids);
    live.pos = calloc(total + 2, sizeof *live.pos);
    s->cap = total;
    s->v = malloc(total * sizeof *s->v);
    if (!live.ids || !live.pos || !s->v)
        die("stream", LX_ENOMEM);

    lx_events evs;
    lx_events_init(&evs);
    lx_engine *e = setup_engine(s, &evs);
    uint64_t rng = opt->seed, mid = MID_START, next_id = 1;
    size_t target = deep ? DEEP_ORDERS : LIVE_TARGET;
    for (size_t i = 0; i < total; i++) {
        op *o = stream_push(s);
        if (i < pre) {
            uint8_t side = (uint8_t)(i & 1);
            uint64_t k = 1 + rng_below(&rng, DEEP_SPREAD);
            gen_order(o, next_id++, side, LX_GTC, side == LX_BUY ? mid - k : mid + k,
                      1 + rng_below(&rng, 10));
            o->kind = K_PRELOAD;
        } else {
            /* The deep mix holds its mid still: a drifting mid makes new
             * orders sweep the stale side of the preload, and the book would
             * drain far below its target. */
            if (!deep && rng_below(&rng, 8) == 0) {
                mid = rng_below(&rng, 2) ? mid + 1 : mid - 1;
                mid = mid < MID_MIN ? MID_MIN : mid > MID_MAX ? MID_MAX : mid;
            }
            uint64_t r = rng_below(&rng, 100);
            int kind = r < 60 ? K_ADD : r < 90 ? K_CANCEL : K_IOC;
            uint64_t ioc_qty = IOC_QTY;
            if (!deep) {
                /* Steer toward the live target: outside +/-10% of it, adds
                 * turn into cancels or cancels into adds. */
                if (kind == K_ADD && live.n > target + target / 10)
                    kind = K_CANCEL;
                else if (kind == K_CANCEL && (live.n == 0 || live.n < target - target / 10))
                    kind = K_ADD;
            } else {
                /* Steer with the IOC size instead, so that the shares stay
                 * 60/30/10: above the target, IOCs take up to three times as
                 * many lots, and so more resting orders. */
                ioc_qty = live.n > target ? 3 * IOC_QTY : IOC_QTY;
                if (kind == K_CANCEL && live.n == 0)
                    kind = K_ADD;
            }
            uint8_t side = (uint8_t)rng_below(&rng, 2);
            if (kind == K_ADD) {
                uint64_t k = 1 + rng_below(&rng, ADD_SPREAD);
                gen_order(o, next_id++, side, LX_GTC, side == LX_BUY ? mid - k : mid + k,
                          1 + rng_below(&rng, 10));
            } else if (kind == K_IOC) {
                gen_order(o, next_id++, side, LX_IOC,
                          side == LX_BUY ? mid + IOC_REACH : mid - IOC_REACH,
                          1 + rng_below(&rng, ioc_qty));
            } else {
                uint64_t id = live.ids[rng_below(&rng, live.n)];
                o->cmd.type = LX_CMD_CANCEL;
                o->cmd.u.cancel.id = id;
                o->cmd.u.cancel.account = account_of(id);
            }
            o->kind = (uint8_t)kind;
        }
        lx_events_clear(&evs);
        lx_err err = lx_engine_apply(e, &evs, &o->cmd);
        if (err)
            die("apply", err);
        for (size_t j = 0; j < evs.n; j++) {
            const lx_event *ev = &evs.v[j];
            lx_order_info info;
            if (ev->type == LX_EV_CANCELLED)
                live_del(&live, ev->id);
            else if (ev->type == LX_EV_FILL &&
                     lx_engine_order(e, &info, ev->u.fill.maker) == LX_ENOTFOUND)
                live_del(&live, ev->u.fill.maker);
            else if (ev->type == LX_EV_REJECTED)
                die("generated command rejected", LX_ESTATE);
        }
        if (o->cmd.type == LX_CMD_ORDER) {
            lx_order_info info;
            if (lx_engine_order(e, &info, o->cmd.u.order.id) == LX_OK)
                live_add(&live, o->cmd.u.order.id);
        }
    }
    s->first_timed = pre;
    lx_engine_free(&e);
    lx_events_free(&evs);
    free(live.ids);
    free(live.pos);
}

/* ---------------------------------------------------------------------------
 * --file: a JSON Lines command stream, parsed in full before any timing.
 * ------------------------------------------------------------------------- */

static uint8_t kind_of(const lx_cmd *c)
{
    switch (c->type) {
    case LX_CMD_ORDER:
        return c->u.order.type == LX_LIMIT && c->u.order.tif == LX_GTC ? K_ADD : K_IOC;
    case LX_CMD_CANCEL:
        return K_CANCEL;
    case LX_CMD_REPLACE:
        return K_REPLACE;
    default:
        return K_TRANSFER;
    }
}

static void load_file(stream *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "lx-bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    lx_cmdjson *cj;
    lx_err err = lx_cmdjson_new(&cj);
    if (err)
        die("parser", err);
    lx_engine_config cfg = {0};
    lx_engine *e;
    if ((err = lx_engine_new(&e, &cfg)) != LX_OK)
        die("engine", err);
    lx_events evs;
    lx_events_init(&evs);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        lx_parsed p;
        char msg[160];
        err = lx_cmdjson_parse(cj, &p, msg, sizeof msg, e, line, (size_t)len);
        if (err) {
            fprintf(stderr, "lx-bench: %s:%zu: %s\n", path, lineno,
                    err == LX_EFORMAT ? msg : lx_strerror(err));
            exit(1);
        }
        op *o = stream_push(s);
        if (p.is_market) {
            /* The parser resolves market names through this engine. */
            lx_events_clear(&evs);
            if ((err = lx_engine_add_market(e, &evs, &p.market)) != LX_OK)
                die("market", err);
            o->is_market = true;
            s->markets = realloc(s->markets, (s->nmarkets + 1) * sizeof *s->markets);
            if (!s->markets)
                die("stream", LX_ENOMEM);
            s->markets[s->nmarkets] = p.market;
            o->cmd.u.order.id = s->nmarkets++; /* index into s->markets */
        } else {
            o->cmd = p.cmd;
            o->kind = kind_of(&p.cmd);
        }
    }
    free(line);
    fclose(f);
    lx_cmdjson_free(&cj);
    lx_engine_free(&e);
    lx_events_free(&evs);
}

/* ---------------------------------------------------------------------------
 * Running the engine.
 * ------------------------------------------------------------------------- */

/* Applies one op; markets of a --file stream go through add_market. */
static void apply_op(lx_engine *e, lx_events *evs, const stream *s, const op *o)
{
    lx_err err = o->is_market ? lx_engine_add_market(e, evs, &s->markets[o->cmd.u.order.id])
                              : lx_engine_apply(e, evs, &o->cmd);
    if (err)
        die("apply", err);
    evs->n = 0;
}

/* A fresh engine with the first n ops of the stream applied. */
static lx_engine *prepare_engine(const stream *s, lx_events *evs, size_t n)
{
    lx_engine *e = setup_engine(s, evs);
    for (size_t i = 0; i < n; i++)
        apply_op(e, evs, s, &s->v[i]);
    return e;
}

/* Times the stream as a whole: nanoseconds spent in the engine. */
static span run_engine(const stream *s)
{
    lx_events evs;
    lx_events_init(&evs);
    lx_engine *e = prepare_engine(s, &evs, s->first_timed);
    span spent = {0, 0};
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = s->first_timed; i < s->n; i++) {
        const op *o = &s->v[i];
        if (__builtin_expect(o->is_market, 0)) {
            /* Market lines of a file are set-up, not engine load. */
            spent.wall += now_ns() - t0;
            spent.cpu += cpu_ns() - c0;
            apply_op(e, &evs, s, o);
            t0 = now_ns();
            c0 = cpu_ns();
            continue;
        }
        lx_err err = lx_engine_apply(e, &evs, &o->cmd);
        if (__builtin_expect(err != LX_OK, 0))
            die("apply", err);
        evs.n = 0;
    }
    spent.wall += now_ns() - t0;
    spent.cpu += cpu_ns() - c0;
    lx_engine_free(&e);
    lx_events_free(&evs);
    return spent;
}

typedef struct histogram {
    uint64_t *b; /* HIST_NS + 1 buckets; the last one counts everything longer */
    uint64_t n, max;
} histogram;

static uint64_t hist_pct(const histogram *h, double pct)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)((double)h->n * pct / 100.0);
    if (want >= h->n)
        want = h->n - 1;
    uint64_t seen = 0;
    for (uint64_t i = 0; i <= HIST_NS; i++) {
        seen += h->b[i];
        if (seen > want)
            return i == HIST_NS ? h->max : i;
    }
    return h->max;
}

/* The latency pass: every op timed on its own with clock_gettime. */
static void run_latency(const stream *s, histogram *h, uint64_t *timer_ns)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = now_ns(), b = now_ns();
        if (b - a < best)
            best = b - a;
    }
    *timer_ns = best;
    lx_events evs;
    lx_events_init(&evs);
    lx_engine *e = prepare_engine(s, &evs, s->first_timed);
    for (size_t i = s->first_timed; i < s->n; i++) {
        const op *o = &s->v[i];
        if (o->is_market) {
            apply_op(e, &evs, s, o);
            continue;
        }
        uint64_t a = now_ns();
        lx_err err = lx_engine_apply(e, &evs, &o->cmd);
        uint64_t d = now_ns() - a;
        if (err)
            die("apply", err);
        evs.n = 0;
        histogram *k = &h[o->kind];
        k->b[d < HIST_NS ? d : HIST_NS]++;
        k->n++;
        if (d > k->max)
            k->max = d;
    }
    lx_engine_free(&e);
    lx_events_free(&evs);
}

/* ---------------------------------------------------------------------------
 * The baseline: a bare book of price levels in an array indexed by price,
 * with a FIFO per level, orders indexed by id, and no accounts, fees, STP or
 * events. It bounds what any book can do with this stream on this machine.
 * ------------------------------------------------------------------------- */

#define BASE_PRICES (MID_MAX + DEEP_SPREAD + IOC_REACH + 2)

typedef struct base_order {
    uint32_t prev, next, price, qty;
} base_order;

typedef struct base_level {
    uint32_t head, tail;
} base_level;

typedef struct base_book {
    base_level *lv;
    base_order *o;
    uint32_t best[2]; /* best bid (0 = none), best ask (UINT32_MAX = none) */
} base_book;

#define NONE UINT32_MAX

static void base_unlink(base_book *b, uint32_t id, int side)
{
    base_order *o = &b->o[id];
    base_level *l = &b->lv[o->price];
    if (o->prev != NONE)
        b->o[o->prev].next = o->next;
    else
        l->head = o->next;
    if (o->next != NONE)
        b->o[o->next].prev = o->prev;
    else
        l->tail = o->prev;
    o->qty = 0;
    if (l->head == NONE && o->price == b->best[side]) {
        /* Walk to the next non-empty level. */
        uint32_t p = o->price;
        if (side == LX_BUY) {
            while (p > 0 && b->lv[p].head == NONE)
                p--;
            b->best[0] = p;
        } else {
            while (p < BASE_PRICES - 1 && b->lv[p].head == NONE)
                p++;
            b->best[1] = p == BASE_PRICES - 1 ? NONE : p;
        }
    }
}

static void base_apply(base_book *b, const lx_cmd *c, uint8_t *sides)
{
    if (c->type == LX_CMD_CANCEL) {
        uint32_t id = (uint32_t)c->u.cancel.id;
        if (b->o[id].qty)
            base_unlink(b, id, sides[id]);
        return;
    }
    const lx_order_cmd *oc = &c->u.order;
    uint32_t id = (uint32_t)oc->id, price = (uint32_t)oc->price, left = (uint32_t)oc->qty;
    int side = oc->side, opp = !side;
    sides[id] = (uint8_t)side;
    while (left > 0 && b->best[opp] != NONE && b->best[opp] != 0 &&
           (side == LX_BUY ? b->best[opp] <= price : b->best[opp] >= price)) {
        uint32_t m = b->lv[b->best[opp]].head;
        base_order *mo = &b->o[m];
        uint32_t x = left < mo->qty ? left : mo->qty;
        left -= x;
        if (x == mo->qty)
            base_unlink(b, m, opp);
        else
            mo->qty -= x;
    }
    if (left == 0 || oc->tif != LX_GTC)
        return;
    base_order *o = &b->o[id];
    base_level *l = &b->lv[price];
    o->price = price;
    o->qty = left;
    o->next = NONE;
    o->prev = l->tail;
    if (l->tail != NONE)
        b->o[l->tail].next = id;
    else
        l->head = id;
    l->tail = id;
    if (side == LX_BUY ? price > b->best[0] : (b->best[1] == NONE || price < b->best[1]))
        b->best[side] = price;
}

static void prefault(void *p, size_t len)
{
    volatile uint8_t *v = p;
    for (size_t i = 0; i < len; i += 4096)
        v[i] = 0;
}

static span run_baseline(const stream *s)
{
    base_book b;
    size_t maxid = s->n + 2;
    b.lv = malloc(BASE_PRICES * sizeof *b.lv);
    b.o = calloc(maxid, sizeof *b.o);
    uint8_t *sides = calloc(maxid, 1);
    if (!b.lv || !b.o || !sides)
        die("baseline", LX_ENOMEM);
    for (size_t i = 0; i < BASE_PRICES; i++)
        b.lv[i].head = b.lv[i].tail = NONE;
    b.best[0] = 0;
    b.best[1] = NONE;
    /* Touch every page first, so that the timed run pays no page faults:
     * the engine's pools are warm too. */
    prefault(b.o, maxid * sizeof *b.o);
    prefault(sides, maxid);
    for (size_t i = 0; i < s->first_timed; i++)
        base_apply(&b, &s->v[i].cmd, sides);
    uint64_t t0 = now_ns(), c0 = cpu_ns();
    for (size_t i = s->first_timed; i < s->n; i++)
        base_apply(&b, &s->v[i].cmd, sides);
    span spent = {now_ns() - t0, cpu_ns() - c0};
    free(b.lv);
    free(b.o);
    free(sides);
    return spent;
}

/* ---------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: lx-bench [--mix standard|deep] [--file F] [--ops N] [--seed N]\n"
               "                [--runs N] [--json] [--help]\n"
               "\n"
               "Measures the lxdex matching engine on one thread.\n"
               "  --mix standard  (default) about 60%% limit adds 1-15 ticks from a drifting\n"
               "                  mid, 30%% cancels of open orders, 10%% IOC orders that cross;\n"
               "                  about 1,000 open orders\n"
               "  --mix deep      the same 60/30/10 shares around 1,000,000 open orders:\n"
               "                  1,000,000 orders 1-2,000 ticks from the mid are rested\n"
               "                  first (untimed); the mid stays still, and IOC orders take\n"
               "                  up to 60 lots instead of 20 while the book is above\n"
               "                  1,000,000, which holds it there\n"
               "  --file F        a JSON Lines command file (the lx-replay format), parsed\n"
               "                  in full before timing; market lines are applied untimed\n"
               "  --ops N         operations in a generated mix (default 10000000)\n"
               "  --seed N        seed of the generated mix (default 1)\n"
               "  --runs N        timed runs; the median is reported (default 5)\n"
               "  --json          print one JSON object instead of the table\n"
               "\n"
               "Throughput times only the lx_engine_apply calls of each run, over a\n"
               "pre-generated stream, with the clock read once per run. Latency comes from\n"
               "a separate pass over the same stream that reads CLOCK_MONOTONIC around\n"
               "every operation; the figures include one clock read (shown as timer).\n"
               "Memory is the heap (mallinfo2), plus the engine's own mappings (its large\n"
               "order pool arrays), of an engine that has run the whole stream,\n"
               "without the caller's event list;\n"
               "for --mix deep also per resting order: the growth after the set-up\n"
               "(markets, funded accounts) divided by the orders left open. With the\n"
               "standard mix's 1,000 orders, fixed costs would dominate that figure.\n"
               "The baseline is a bare price-indexed array book (no accounts, fees, STP or\n"
               "events) running the same generated stream; it does not run --file.\n"
               "Snapshot times the engine's snapshot of that same engine into a warm\n"
               "buffer, whole and incrementally (steps of 1,024 orders), beside a memcpy\n"
               "of as many bytes; medians of --runs.\n");
}

static bool parse_u64(const char *s, uint64_t *out, uint64_t min)
{
    if (!s || *s == '\0' || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min)
        return false;
    *out = v;
    return true;
}

static void parse_args(options *o, int argc, char **argv)
{
    o->mix = "standard";
    o->file = NULL;
    o->ops = 10000000u;
    o->seed = 1;
    o->runs = 5;
    o->json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t *num = NULL, min = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        } else if (strcmp(a, "--mix") == 0) {
            if (!v || (strcmp(v, "standard") != 0 && strcmp(v, "deep") != 0)) {
                fprintf(stderr, "lx-bench: --mix takes standard or deep\n");
                exit(2);
            }
            o->mix = v;
        } else if (strcmp(a, "--file") == 0) {
            if (!v) {
                fprintf(stderr, "lx-bench: --file takes a path\n");
                exit(2);
            }
            o->file = v;
        } else if (strcmp(a, "--ops") == 0) {
            num = &o->ops;
        } else if (strcmp(a, "--seed") == 0) {
            num = &o->seed;
            min = 0;
        } else if (strcmp(a, "--runs") == 0) {
            num = &o->runs;
        } else {
            fprintf(stderr, "lx-bench: unknown option %s (try --help)\n", a);
            exit(2);
        }
        if (num && !parse_u64(v, num, min)) {
            fprintf(stderr, "lx-bench: %s takes a whole number >= %" PRIu64 "\n", a, min);
            exit(2);
        }
        i++;
    }
    if (o->runs > 1000 || o->ops > 500000000u) {
        fprintf(stderr, "lx-bench: --runs is at most 1000 and --ops at most 500000000\n");
        exit(2);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The medians of the wall and CPU times of runs runs. */
static span median_ns(span (*run)(const stream *), const stream *s, uint64_t runs)
{
    uint64_t *w = malloc(runs * sizeof *w), *c = malloc(runs * sizeof *c);
    if (!w || !c)
        die("runs", LX_ENOMEM);
    for (uint64_t i = 0; i < runs; i++) {
        span t = run(s);
        w[i] = t.wall;
        c[i] = t.cpu;
    }
    qsort(w, runs, sizeof *w, cmp_u64);
    qsort(c, runs, sizeof *c, cmp_u64);
    span m = {w[runs / 2], c[runs / 2]};
    free(w);
    free(c);
    return m;
}

/* Snapshot costs of e, medians of runs runs, in ns: the whole snapshot
 * into a warm buffer; the same snapshot written incrementally, steps of
 * SNAP_STEP orders with no commands between (*steps of them); and, as the
 * baseline, a memcpy of as many bytes (a sequential read and write). */
#define SNAP_STEP 1024u

typedef struct snap_cost {
    size_t bytes;
    uint64_t full, incremental, copy, steps;
} snap_cost;

static snap_cost snapshot_cost(lx_engine *e, uint64_t runs)
{
    snap_cost c = {0, 0, 0, 0, 0};
    lx_err err = lx_engine_snapshot_len(e, &c.bytes);
    uint8_t *buf = err ? NULL : malloc(c.bytes), *dst = malloc(c.bytes + 1);
    uint64_t *t[3] = {malloc(runs * sizeof(uint64_t)), malloc(runs * sizeof(uint64_t)),
                      malloc(runs * sizeof(uint64_t))};
    if (!buf || !dst || !t[0] || !t[1] || !t[2])
        die("snapshot", err ? err : LX_ENOMEM);
    size_t len;
    memset(buf, 0, c.bytes); /* fault the pages in: the node keeps its buffer */
    memset(dst, 0, c.bytes);
    for (uint64_t r = 0; r < runs; r++) {
        uint64_t t0 = now_ns();
        if ((err = lx_engine_snapshot_to(e, buf, c.bytes, &len)) != LX_OK)
            die("snapshot", err);
        uint64_t t1 = now_ns();
        if ((err = lx_engine_snap_begin(e, buf, c.bytes, &len)) != LX_OK)
            die("incremental snapshot", err);
        c.steps = 1;
        while (!lx_engine_snap_step(e, SNAP_STEP))
            c.steps++;
        uint64_t t2 = now_ns();
        memcpy(dst, buf, c.bytes);
        uint64_t t3 = now_ns();
        t[0][r] = t1 - t0;
        t[1][r] = t2 - t1;
        t[2][r] = t3 - t2;
    }
    uint64_t *out[3] = {&c.full, &c.incremental, &c.copy};
    for (int k = 0; k < 3; k++) {
        qsort(t[k], runs, sizeof(uint64_t), cmp_u64);
        *out[k] = t[k][runs / 2];
        free(t[k]);
    }
    free(buf);
    free(dst);
    return c;
}

int main(int argc, char **argv)
{
    options opt;
    parse_args(&opt, argc, argv);
    stream s;
    memset(&s, 0, sizeof s);
    if (opt.file)
        load_file(&s, opt.file);
    else
        generate(&s, &opt, strcmp(opt.mix, "deep") == 0);
    size_t timed = 0;
    for (size_t i = s.first_timed; i < s.n; i++)
        timed += !s.v[i].is_market;
    if (timed == 0) {
        fprintf(stderr, "lx-bench: nothing to time\n");
        return 1;
    }

    /* Memory: heap growth from nothing to the engine after the whole
     * stream, and the part of it that came after the set-up (markets and
     * funded accounts of a generated mix), which is what the book costs. */
    lx_events evs;
    lx_events_init(&evs);
    size_t before = heap_bytes();
    lx_engine *e = setup_engine(&s, &evs);
    size_t after_setup = heap_bytes() + lx_engine_mapped_bytes(e);
    for (size_t i = 0; i < s.n; i++)
        apply_op(e, &evs, &s, &s.v[i]);
    /* The event list is the caller's scratch, not the engine's: the engine
     * may have it keep room for an event per order on a book's side. */
    lx_events_free(&evs);
    size_t held = heap_bytes() + lx_engine_mapped_bytes(e);
    size_t bytes = held - before, book_bytes = held - after_setup;
    size_t resting = lx_engine_order_count(e);
    snap_cost sc = snapshot_cost(e, opt.runs);
    lx_engine_free(&e);
    lx_events_free(&evs);

    span eng = median_ns(run_engine, &s, opt.runs);
    span base = {0, 0};
    if (s.synthetic)
        base = median_ns(run_baseline, &s, opt.runs);

    histogram h[K_COUNT];
    for (int k = 0; k < K_COUNT; k++) {
        h[k].b = calloc(HIST_NS + 1, sizeof *h[k].b);
        h[k].n = h[k].max = 0;
        if (!h[k].b)
            die("histogram", LX_ENOMEM);
    }
    uint64_t timer;
    run_latency(&s, h, &timer);

    double n = (double)timed;
    double cpu_ops = n * 1e9 / (double)eng.cpu, wall_ops = n * 1e9 / (double)eng.wall;
    double base_ops = base.cpu ? n * 1e9 / (double)base.cpu : 0;
    /* Per resting order only where the book dominates the heap: with the
     * standard mix's ~1,000 orders, fixed costs (balances, minimum table and
     * pool sizes) would make up most of the figure. */
    bool deep = !opt.file && strcmp(opt.mix, "deep") == 0;
    double per_order = deep && resting ? (double)book_bytes / (double)resting : 0;
    const char *src = opt.file ? opt.file : opt.mix;
    if (opt.json) {
        printf("{\"source\":\"%s\",\"ops\":%zu,\"runs\":%" PRIu64
               ",\"ops_per_s\":%.0f,\"ns_per_op\":%.2f,\"wall_ops_per_s\":%.0f",
               src, timed, opt.runs, cpu_ops, (double)eng.cpu / n, wall_ops);
        if (base.cpu)
            printf(",\"baseline_ops_per_s\":%.0f,\"engine_vs_baseline\":%.3f", base_ops,
                   cpu_ops / base_ops);
        printf(",\"resting_orders\":%zu,\"heap_bytes\":%zu", resting, bytes);
        if (deep)
            printf(",\"bytes_per_resting_order\":%.1f", per_order);
        printf(",\"snapshot\":{\"bytes\":%zu,\"full_ns\":%" PRIu64 ",\"incremental_ns\":%" PRIu64
               ",\"steps\":%" PRIu64 ",\"memcpy_ns\":%" PRIu64 "}",
               sc.bytes, sc.full, sc.incremental, sc.steps, sc.copy);
        printf(",\"timer_ns\":%" PRIu64 ",\"latency_ns\":{", timer);
        bool first = true;
        for (int k = 0; k < K_COUNT; k++) {
            if (!h[k].n)
                continue;
            printf("%s\"%s\":{\"n\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
                   ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}",
                   first ? "" : ",", kind_key[k], h[k].n, hist_pct(&h[k], 50), hist_pct(&h[k], 99),
                   hist_pct(&h[k], 99.9), h[k].max);
            first = false;
        }
        printf("}}\n");
    } else {
        printf("lx-bench: %s, %zu timed ops, median of %" PRIu64 " runs\n", src, timed, opt.runs);
        printf("  engine    %12.0f ops/s  %7.2f ns/op  (CPU time; wall clock %.0f ops/s)\n",
               cpu_ops, (double)eng.cpu / n, wall_ops);
        if (base.cpu)
            printf("  baseline  %12.0f ops/s  %7.2f ns/op  (engine/baseline %.2f)\n", base_ops,
                   (double)base.cpu / n, cpu_ops / base_ops);
        else
            printf("  baseline  n/a for --file\n");
        if (deep)
            printf("  memory    %.1f bytes per resting order (%zu resting at the end; heap and "
                   "mappings %zu)\n",
                   per_order, resting, bytes);
        else
            printf("  memory    heap and mappings %zu bytes (%zu resting at the end; per order: "
                   "--mix deep)\n",
                   bytes, resting);
        printf("  snapshot  %.2f ms for %zu orders, %zu bytes (%.1f ns/order); incremental\n"
               "            %.2f ms in %" PRIu64
               " steps of %u orders; memcpy of the bytes %.2f ms\n",
               (double)sc.full / 1e6, resting, sc.bytes,
               resting ? (double)sc.full / (double)resting : 0.0, (double)sc.incremental / 1e6,
               sc.steps, SNAP_STEP, (double)sc.copy / 1e6);
        printf("  latency per op, ns (every op timed; timer %" PRIu64 " ns included):\n", timer);
        printf("    %-11s %10s %7s %7s %7s %9s\n", "op", "count", "p50", "p99", "p99.9", "max");
        for (int k = 0; k < K_COUNT; k++)
            if (h[k].n)
                printf("    %-11s %10" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9" PRIu64
                       "\n",
                       kind_name[k], h[k].n, hist_pct(&h[k], 50), hist_pct(&h[k], 99),
                       hist_pct(&h[k], 99.9), h[k].max);
    }
    for (int k = 0; k < K_COUNT; k++)
        free(h[k].b);
    free(s.v);
    free(s.markets);
    return 0;
}
