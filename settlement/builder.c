/* The batch builder: collects the fills, deposits and withdrawals of the log
 * blocks a node applies, and closes them into chained settlement batches. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

lx_err lx_batch_builder_new(lx_batch_builder **b, const lx_batch_config *cfg)
{
    if (!b)
        return LX_EINVAL;
    *b = NULL;
    if (!cfg || cfg->next_number == 0 ||
        (cfg->next_number == 1) != lx__is_zero(cfg->prev_hash, LX_SHA256_LEN))
        return LX_EINVAL;
    lx_batch_builder *bb = calloc(1, sizeof *bb);
    if (!bb)
        return LX_ENOMEM;
    bb->cfg = *cfg;
    bb->last_seq = cfg->next_seq;
    lx_err err = lx_sha256_new(&bb->ctx[0]);
    if (err == LX_OK)
        err = lx_sha256_new(&bb->ctx[1]);
    if (err != LX_OK) {
        lx_sha256_free(&bb->ctx[0]);
        free(bb);
        return err;
    }
    *b = bb;
    return LX_OK;
}

void lx_batch_builder_free(lx_batch_builder **b)
{
    if (!b || !*b)
        return;
    lx_batch_builder *bb = *b;
    free(bb->markets);
    free(bb->assets);
    free(bb->fills);
    free(bb->deposits);
    free(bb->withdrawals);
    lx__netting_free(&bb->net);
    lx_sha256_free(&bb->ctx[0]);
    lx_sha256_free(&bb->ctx[1]);
    free(bb);
    *b = NULL;
}

/* Grows *v (of *cap elements of size) to hold need elements. */
static lx_err grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return LX_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size)
            return LX_ENOMEM;
        c *= 2;
    }
    void *p = realloc(*v, c * size);
    if (!p)
        return LX_ENOMEM;
    *v = p;
    *cap = c;
    return LX_OK;
}

lx_err lx_batch_builder_add_asset(lx_batch_builder *b, uint32_t asset,
                                  const uint8_t asset_id[LX_ASSET_ID_LEN])
{
    if (!b || !asset_id || asset >= LX__BUILDER_TABLE_MAX)
        return LX_EINVAL;
    for (size_t i = 0; i < b->nassets; i++) {
        const lx__asset_map *a = &b->assets[i];
        if (a->set && i != asset && memcmp(a->id, asset_id, LX_ASSET_ID_LEN) == 0)
            return LX_EEXIST;
    }
    if (asset < b->nassets && b->assets[asset].set)
        return memcmp(b->assets[asset].id, asset_id, LX_ASSET_ID_LEN) == 0 ? LX_OK : LX_EEXIST;
    if (asset >= b->nassets) {
        lx__asset_map *v = realloc(b->assets, ((size_t)asset + 1) * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        memset(v + b->nassets, 0, ((size_t)asset + 1 - b->nassets) * sizeof *v);
        b->assets = v;
        b->nassets = (size_t)asset + 1;
    }
    memcpy(b->assets[asset].id, asset_id, LX_ASSET_ID_LEN);
    b->assets[asset].set = 1;
    return LX_OK;
}

lx_err lx_batch_builder_add_market(lx_batch_builder *b, uint32_t market, uint32_t base,
                                   uint32_t quote, uint64_t lot)
{
    if (!b || market >= LX__BUILDER_TABLE_MAX || base == quote || lot == 0)
        return LX_EINVAL;
    if (market < b->nmarkets && b->markets[market].set) {
        const lx__market_map *m = &b->markets[market];
        return m->base == base && m->quote == quote && m->lot == lot ? LX_OK : LX_EEXIST;
    }
    if (market >= b->nmarkets) {
        lx__market_map *v = realloc(b->markets, ((size_t)market + 1) * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        memset(v + b->nmarkets, 0, ((size_t)market + 1 - b->nmarkets) * sizeof *v);
        b->markets = v;
        b->nmarkets = (size_t)market + 1;
    }
    b->markets[market] = (lx__market_map){base, quote, lot, 1};
    return LX_OK;
}

static const lx__asset_map *asset_of(const lx_batch_builder *b, uint32_t asset)
{
    return asset < b->nassets && b->assets[asset].set ? &b->assets[asset] : NULL;
}

/* The market of a fill, with both its assets mapped, or NULL. */
static const lx__market_map *market_of(const lx_batch_builder *b, uint32_t market)
{
    if (market >= b->nmarkets || !b->markets[market].set)
        return NULL;
    const lx__market_map *m = &b->markets[market];
    return asset_of(b, m->base) && asset_of(b, m->quote) ? m : NULL;
}

static lx_err check_seq(const lx_batch_builder *b, uint64_t seq)
{
    return seq >= b->cfg.next_seq && seq >= b->last_seq ? LX_OK : LX_EINVAL;
}

static lx_err check_fill(const lx_batch_builder *b, const lx_event *ev)
{
    if (ev->type != LX_EV_FILL || ev->side > LX_SELL)
        return LX_EINVAL;
    return market_of(b, ev->market) ? LX_OK : LX_ENOTFOUND;
}

static lx_err check_transfer(const lx_batch_builder *b, uint32_t asset, uint64_t amount)
{
    if (amount == 0)
        return LX_EINVAL;
    return asset_of(b, asset) ? LX_OK : LX_ENOTFOUND;
}

/* Makes room for nf more fills, nd deposits and nw withdrawals, so that
 * committing them cannot fail. */
static lx_err reserve(lx_batch_builder *b, size_t nf, size_t nd, size_t nw)
{
    if (b->ndeposits + nd > LX_BATCH_DEPOSITS_MAX ||
        b->nwithdrawals + nw > LX_BATCH_WITHDRAWALS_MAX)
        return LX_ETOOBIG;
    /* Growing a list of 10^5 fills by doubling copies it many times over;
     * start where the last batch ended. */
    size_t want = b->nfills + nf;
    if (b->capfills == 0 && b->fill_hint > want)
        want = b->fill_hint;
    lx_err err = grow((void **)&b->fills, &b->capfills, want, sizeof *b->fills);
    if (err == LX_OK)
        err = grow((void **)&b->deposits, &b->capdeposits, b->ndeposits + nd, sizeof(lx_transfer));
    if (err == LX_OK)
        err = grow((void **)&b->withdrawals, &b->capwithdrawals, b->nwithdrawals + nw,
                   sizeof(lx_transfer));
    /* A fill touches at most five (account, asset) keys, a transfer one. */
    if (err == LX_OK)
        err = lx__netting_reserve(&b->net, 5 * nf + nd + nw);
    return err;
}

/* Commits fill ev as the next fill of the open batch, with its balance
 * changes: the buyer pays price * qty plus its fee in quote and gets
 * qty * lot base; the seller the reverse, less its fee; the fee account gets
 * both fees. The leaf is hashed when the batch closes. */
static void commit_fill(lx_batch_builder *b, uint64_t seq, const lx_event *ev)
{
    lx_fill_leaf *f = &b->fills[b->nfills];
    lx_fill_leaf_from_event(f, b->cfg.next_fill + b->nfills, seq, ev);
    b->nfills++;
    const lx__market_map *m = &b->markets[f->market];
    __int128 notional = (__int128)f->price * f->qty, base = (__int128)f->qty * m->lot;
    uint64_t buyer = f->taker_side == LX_BUY ? f->taker_account : f->maker_account;
    uint64_t seller = f->taker_side == LX_BUY ? f->maker_account : f->taker_account;
    uint64_t buyer_fee = f->taker_side == LX_BUY ? f->taker_fee : f->maker_fee;
    uint64_t seller_fee = f->taker_side == LX_BUY ? f->maker_fee : f->taker_fee;
    lx__netting_add2(&b->net, buyer, m->base, base, m->quote, -(notional + buyer_fee));
    lx__netting_add2(&b->net, seller, m->base, -base, m->quote, notional - seller_fee);
    if (f->maker_fee || f->taker_fee)
        lx__netting_add(&b->net, b->cfg.fee_account, m->quote,
                        (__int128)f->maker_fee + f->taker_fee);
}

static void commit_transfer(lx_batch_builder *b, int withdrawal, uint64_t seq, uint64_t account,
                            uint32_t asset, uint64_t amount, const uint8_t *dest)
{
    lx_transfer *t = withdrawal ? &b->withdrawals[b->nwithdrawals++] : &b->deposits[b->ndeposits++];
    memset(t, 0, sizeof *t);
    t->seq = seq;
    t->account = account;
    memcpy(t->asset_id, b->assets[asset].id, LX_ASSET_ID_LEN);
    t->amount = amount;
    if (withdrawal)
        memcpy(t->dest, dest, LX_XADDR_LEN);
    lx__netting_add(&b->net, account, asset, withdrawal ? -(__int128)amount : (__int128)amount);
}

lx_err lx_batch_builder_add_fill(lx_batch_builder *b, uint64_t seq, const lx_event *ev)
{
    if (!b || !ev)
        return LX_EINVAL;
    lx_err err = check_seq(b, seq);
    if (err == LX_OK)
        err = check_fill(b, ev);
    if (err == LX_OK)
        err = reserve(b, 1, 0, 0);
    if (err != LX_OK)
        return err;
    commit_fill(b, seq, ev);
    b->last_seq = seq;
    return LX_OK;
}

lx_err lx_batch_builder_add_deposit(lx_batch_builder *b, uint64_t seq, uint64_t account,
                                    uint32_t asset, uint64_t amount)
{
    if (!b)
        return LX_EINVAL;
    lx_err err = check_seq(b, seq);
    if (err == LX_OK)
        err = check_transfer(b, asset, amount);
    if (err == LX_OK)
        err = reserve(b, 0, 1, 0);
    if (err != LX_OK)
        return err;
    commit_transfer(b, 0, seq, account, asset, amount, NULL);
    b->last_seq = seq;
    return LX_OK;
}

lx_err lx_batch_builder_add_withdrawal(lx_batch_builder *b, uint64_t seq, uint64_t account,
                                       uint32_t asset, uint64_t amount,
                                       const uint8_t dest[LX_XADDR_LEN])
{
    if (!b || !dest)
        return LX_EINVAL;
    lx_err err = check_seq(b, seq);
    if (err == LX_OK)
        err = check_transfer(b, asset, amount);
    if (err == LX_OK)
        err = reserve(b, 0, 0, 1);
    if (err != LX_OK)
        return err;
    commit_transfer(b, 1, seq, account, asset, amount, dest);
    b->last_seq = seq;
    return LX_OK;
}

static int is_deposit(const lx_event *ev)
{
    return ev->type == LX_EV_BALANCE && ev->cmd == LX_CMD_DEPOSIT;
}

static int is_withdrawal(const lx_event *ev)
{
    return ev->type == LX_EV_BALANCE && ev->cmd == LX_CMD_WITHDRAW;
}

lx_err lx_batch_builder_add_events(lx_batch_builder *b, uint64_t seq, const lx_event *evs, size_t n,
                                   lx_dest_fn dest, void *arg)
{
    if (!b || (!evs && n))
        return LX_EINVAL;
    lx_err err = check_seq(b, seq);
    if (err != LX_OK)
        return err;
    /* Check everything, count, find the destinations and reserve room: only
     * then is anything committed, so a failure leaves the builder as it was. */
    size_t nf = 0, nd = 0, nw = 0;
    for (size_t i = 0; i < n; i++) {
        const lx_event *ev = &evs[i];
        if (ev->type == LX_EV_FILL) {
            err = check_fill(b, ev);
            nf++;
        } else if (is_deposit(ev) || is_withdrawal(ev)) {
            err = check_transfer(b, ev->market, ev->u.balance.amount);
            if (is_withdrawal(ev)) {
                if (!dest && err == LX_OK)
                    err = LX_EINVAL;
                nw++;
            } else {
                nd++;
            }
        }
        if (err != LX_OK)
            return err;
    }
    uint8_t(*dests)[LX_XADDR_LEN] = NULL;
    if (nw) {
        dests = malloc(nw * sizeof *dests);
        if (!dests)
            return LX_ENOMEM;
    }
    size_t w = 0;
    for (size_t i = 0; i < n && err == LX_OK; i++)
        if (is_withdrawal(&evs[i]))
            err = dest(arg, dests[w++], evs[i].account, evs[i].market);
    if (err == LX_OK)
        err = reserve(b, nf, nd, nw);
    if (err != LX_OK) {
        free(dests);
        return err;
    }
    w = 0;
    for (size_t i = 0; i < n; i++) {
        const lx_event *ev = &evs[i];
        if (ev->type == LX_EV_FILL)
            commit_fill(b, seq, ev);
        else if (is_deposit(ev))
            commit_transfer(b, 0, seq, ev->account, ev->market, ev->u.balance.amount, NULL);
        else if (is_withdrawal(ev))
            commit_transfer(b, 1, seq, ev->account, ev->market, ev->u.balance.amount, dests[w++]);
    }
    free(dests);
    b->last_seq = seq;
    return LX_OK;
}

void lx_batch_builder_state(const lx_batch_builder *b, lx_batch_config *cfg, uint64_t *last_seq)
{
    *cfg = b->cfg;
    *last_seq = b->last_seq;
}

uint64_t lx_batch_builder_fill_count(const lx_batch_builder *b)
{
    return b ? b->nfills : 0;
}

size_t lx_batch_builder_withdrawal_count(const lx_batch_builder *b)
{
    return b ? b->nwithdrawals : 0;
}

/* ---- closing ---- */

/* Runs a and b, on two threads when threads >= 2 (b on the caller's), and
 * returns the first error. Without a second thread both run here. */
typedef struct task {
    lx_err (*fn)(void *);
    void *arg;
    lx_err err;
} task;

static void *task_main(void *p)
{
    task *t = p;
    t->err = t->fn(t->arg);
    return NULL;
}

static lx_err par2(uint32_t threads, task *a, task *b)
{
    pthread_t th;
    if (threads < 2 || pthread_create(&th, NULL, task_main, a) != 0) {
        task_main(a);
        task_main(b);
    } else {
        task_main(b);
        pthread_join(th, NULL);
    }
    return a->err != LX_OK ? a->err : b->err;
}

/* A net change being sorted: by account, then by the rank of its asset ID
 * among the mapped assets (which orders like the ID bytes). */
typedef struct net_key {
    uint64_t account;
    int64_t delta;
    uint32_t rank;
    uint32_t asset;
} net_key;

static unsigned key_digit(const net_key *k, unsigned d)
{
    return d < 4 ? (k->rank >> (8 * d)) & 0xff : (unsigned)(k->account >> (8 * (d - 4))) & 0xff;
}

/* Least-significant-digit radix sort on (account, rank), one byte a pass;
 * a byte that is the same in every key costs one counting pass only. */
static void radix_sort(net_key *a, net_key *tmp, size_t n)
{
    net_key *src = a, *dst = tmp;
    for (unsigned d = 0; d < 12; d++) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[key_digit(&src[i], d)]++;
        if (count[key_digit(&src[0], d)] == n)
            continue;
        size_t at = 0;
        for (unsigned v = 0; v < 256; v++) {
            size_t c = count[v];
            count[v] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[key_digit(&src[i], d)]++] = src[i];
        net_key *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

typedef struct asset_rank {
    const uint8_t *id;
    uint32_t asset;
} asset_rank;

static int asset_rank_cmp(const void *a, const void *b)
{
    return memcmp(((const asset_rank *)a)->id, ((const asset_rank *)b)->id, LX_ASSET_ID_LEN);
}

/* The net changes of the open batch and their root. */
typedef struct net_job {
    lx_batch_builder *b;
    lx_sha256_ctx *ctx;
    lx_net_change *net; /* malloc'd, canonical */
    size_t n;
    uint8_t root[LX_SHA256_LEN];
} net_job;

static lx_err net_list(net_job *j)
{
    lx_batch_builder *b = j->b;
    size_t count = 0;
    for (size_t i = 0; i < b->net.cap; i++) {
        const lx__net_slot *s = &b->net.slot[i];
        if (!s->used || s->delta == 0)
            continue;
        if (s->delta > INT64_MAX || s->delta < INT64_MIN)
            return LX_EOVERFLOW;
        count++;
    }
    if (count > UINT32_MAX)
        return LX_ETOOBIG;
    if (count == 0)
        return LX_OK;
    asset_rank *order = malloc(b->nassets * sizeof *order);
    uint32_t *rank = malloc(b->nassets * sizeof *rank);
    net_key *keys = malloc(2 * count * sizeof *keys);
    lx_net_change *v = malloc(count * sizeof *v);
    if (!order || !rank || !keys || !v) {
        free(order);
        free(rank);
        free(keys);
        free(v);
        return LX_ENOMEM;
    }
    size_t na = 0;
    for (uint32_t a = 0; a < b->nassets; a++)
        if (b->assets[a].set)
            order[na++] = (asset_rank){b->assets[a].id, a};
    qsort(order, na, sizeof *order, asset_rank_cmp);
    for (size_t r = 0; r < na; r++)
        rank[order[r].asset] = (uint32_t)r;
    size_t k = 0;
    for (size_t i = 0; i < b->net.cap; i++) {
        const lx__net_slot *s = &b->net.slot[i];
        if (s->used && s->delta != 0)
            keys[k++] = (net_key){s->account, (int64_t)s->delta, rank[s->asset], s->asset};
    }
    radix_sort(keys, keys + count, count);
    for (size_t i = 0; i < count; i++) {
        v[i].account = keys[i].account;
        memcpy(v[i].asset_id, b->assets[keys[i].asset].id, LX_ASSET_ID_LEN);
        v[i].delta = keys[i].delta;
    }
    free(order);
    free(rank);
    free(keys);
    j->net = v;
    j->n = count;
    return LX_OK;
}

static lx_err net_work(void *arg)
{
    net_job *j = arg;
    lx_err err = net_list(j);
    if (err != LX_OK)
        return err;
    if (j->n == 0)
        return lx_merkle_root(j->root, NULL, 0);
    uint8_t *h = malloc(j->n * LX_SHA256_LEN);
    if (!h)
        return LX_ENOMEM;
    for (size_t i = 0; i < j->n && err == LX_OK; i++) {
        uint8_t leaf[LX_NET_LEAF_LEN];
        lx_net_change_encode(leaf, &j->net[i]);
        err = lx__merkle_hash(j->ctx, h + i * LX_SHA256_LEN, 0, leaf, sizeof leaf);
    }
    /* Levels in place: entry j is written after entries 2j, 2j + 1 are read. */
    for (size_t w = j->n; err == LX_OK && w > 1; w = w / 2 + (w & 1))
        err = lx__merkle_pairs(j->ctx, h, h, w, 0, w / 2 + (w & 1));
    if (err == LX_OK)
        memcpy(j->root, h, LX_SHA256_LEN);
    free(h);
    return err;
}

/* Leaf hashes of fills [i0, i1) into h. */
typedef struct leaf_job {
    const lx_fill_leaf *fills;
    lx_sha256_ctx *ctx;
    uint8_t *h;
    size_t i0, i1;
} leaf_job;

static lx_err leaf_work(void *arg)
{
    leaf_job *j = arg;
    lx_err err = LX_OK;
    for (size_t i = j->i0; i < j->i1 && err == LX_OK; i++) {
        uint8_t bytes[LX_FILL_LEAF_LEN];
        lx_fill_leaf_encode(bytes, &j->fills[i]);
        err = lx__merkle_hash(j->ctx, j->h + i * LX_SHA256_LEN, 0, bytes, sizeof bytes);
    }
    return err;
}

/* The helper thread's first share: the net changes, then some leaves. */
typedef struct helper_job {
    net_job *net;
    leaf_job *leaves;
} helper_job;

static lx_err helper_work(void *arg)
{
    helper_job *j = arg;
    lx_err err = net_work(j->net);
    return err == LX_OK ? leaf_work(j->leaves) : err;
}

/* Entries [j0, j1) of the level above one of width w. */
typedef struct level_job {
    lx_sha256_ctx *ctx;
    uint8_t *out;
    const uint8_t *in;
    size_t w, j0, j1;
} level_job;

static lx_err level_work(void *arg)
{
    level_job *j = arg;
    return lx__merkle_pairs(j->ctx, j->out, j->in, j->w, j->j0, j->j1);
}

/* Levels this wide or wider are split between the two threads. */
#define SPLIT_MIN 2048

/* Hashes the fills into a tree and the net changes into their list and root.
 * With two threads, the helper takes the net changes and a share of the
 * leaves chosen to even out the work, then each level is split in two. */
static lx_err hash_batch(lx_batch_builder *b, net_job *nj, lx_merkle_tree **tree)
{
    size_t n = b->nfills, total = lx__merkle_tree_nodes(n);
    if (total > SIZE_MAX / LX_SHA256_LEN)
        return LX_ENOMEM;
    uint8_t *h = total ? malloc(total * LX_SHA256_LEN) : NULL;
    if (total && !h)
        return LX_ENOMEM;
    uint32_t threads = b->cfg.threads;
    /* A net change costs about 1.6 fill leaves of hashing (a one-block leaf
     * and its share of two-block nodes). */
    size_t net_cost = b->net.n + b->net.n * 3 / 5, split = 0;
    if (threads >= 2 && n > net_cost)
        split = (n - net_cost) / 2;
    nj->b = b;
    nj->ctx = b->ctx[1];
    leaf_job la = {b->fills, b->ctx[1], h, 0, split}, lb = {b->fills, b->ctx[0], h, split, n};
    helper_job hj = {nj, &la};
    task first = {helper_work, &hj, LX_OK}, second = {leaf_work, &lb, LX_OK};
    lx_err err = par2(threads, &first, &second);
    size_t at = 0;
    for (size_t w = n; err == LX_OK && w > 1; w = w / 2 + (w & 1)) {
        size_t up = w / 2 + (w & 1), mid = threads >= 2 && up >= SPLIT_MIN ? up / 2 : up;
        uint8_t *in = h + at * LX_SHA256_LEN, *out = h + (at + w) * LX_SHA256_LEN;
        level_job ja = {b->ctx[1], out, in, w, 0, mid}, jb = {b->ctx[0], out, in, w, mid, up};
        task ta = {level_work, &ja, LX_OK}, tb = {level_work, &jb, LX_OK};
        err = par2(mid < up && mid > 0 ? threads : 1, &ta, &tb);
        at += w;
    }
    if (err == LX_OK)
        err = lx__merkle_tree_adopt(tree, h, n);
    if (err != LX_OK) {
        free(h);
        free(nj->net);
        nj->net = NULL;
    }
    return err;
}

/* Every fill moves value between accounts and the fee account, and every
 * transfer is one credit or debit: per asset the deltas sum to deposits
 * minus withdrawals. It holds by construction; a failure is a bug. (This is
 * lx_net_check's rule, computed per engine asset in one pass.) */
static lx_err check_conservation(const lx_batch_builder *b)
{
    __int128 *sum = calloc(b->nassets ? b->nassets : 1, sizeof *sum);
    if (!sum)
        return LX_ENOMEM;
    for (size_t i = 0; i < b->net.cap; i++)
        if (b->net.slot[i].used)
            sum[b->net.slot[i].asset] += b->net.slot[i].delta;
    for (size_t a = 0; a < b->nassets; a++) {
        if (!b->assets[a].set)
            continue;
        for (size_t i = 0; i < b->ndeposits; i++)
            if (!memcmp(b->deposits[i].asset_id, b->assets[a].id, LX_ASSET_ID_LEN))
                sum[a] -= b->deposits[i].amount;
        for (size_t i = 0; i < b->nwithdrawals; i++)
            if (!memcmp(b->withdrawals[i].asset_id, b->assets[a].id, LX_ASSET_ID_LEN))
                sum[a] += b->withdrawals[i].amount;
        LX_ASSERT(sum[a] == 0);
    }
    free(sum);
    return LX_OK;
}

lx_err lx_batch_builder_close(lx_batch_builder *b, lx_batch **out, uint64_t last_seq)
{
    if (!out)
        return LX_EINVAL;
    *out = NULL;
    if (!b || last_seq < b->cfg.next_seq || last_seq < b->last_seq || last_seq == UINT64_MAX ||
        b->nfills > UINT64_MAX - b->cfg.next_fill)
        return LX_EINVAL;
    net_job nj;
    memset(&nj, 0, sizeof nj);
    lx_merkle_tree *tree = NULL;
    lx_batch_info in;
    memset(&in, 0, sizeof in);
    lx_err err = hash_batch(b, &nj, &tree);
    if (err == LX_OK)
        err = check_conservation(b);
    lx_batch *batch = NULL;
    if (err == LX_OK) {
        memcpy(in.channel_id, b->cfg.channel_id, LX_CHANNEL_ID_LEN);
        in.number = b->cfg.next_number;
        memcpy(in.prev_hash, b->cfg.prev_hash, LX_SHA256_LEN);
        in.first_seq = b->cfg.next_seq;
        in.last_seq = last_seq;
        in.first_fill = b->cfg.next_fill;
        in.fill_count = b->nfills;
        lx_merkle_tree_root(tree, in.fills_root);
        in.net_count = (uint32_t)nj.n;
        memcpy(in.net_root, nj.root, LX_SHA256_LEN);
        memcpy(in.fee_asset, b->cfg.fee_asset, LX_ASSET_ID_LEN);
        in.tx_fee = b->cfg.tx_fee;
        err = lx__batch_make(&batch, &in, b->fills, tree, nj.net, b->deposits, b->ndeposits,
                             b->withdrawals, b->nwithdrawals);
    }
    if (err != LX_OK) {
        free(nj.net);
        lx_merkle_tree_free(&tree);
        return err;
    }
    /* The batch now owns the lists; open the next one, chained to it. */
    b->fill_hint = b->nfills;
    b->fills = NULL;
    b->deposits = b->withdrawals = NULL;
    b->capfills = b->capdeposits = b->capwithdrawals = 0;
    b->nfills = b->ndeposits = b->nwithdrawals = 0;
    lx__netting_clear(&b->net);
    lx_batch_hash(batch, b->cfg.prev_hash);
    b->cfg.next_number = in.number + 1;
    b->cfg.next_seq = last_seq + 1;
    b->cfg.next_fill = in.first_fill + in.fill_count;
    b->last_seq = b->cfg.next_seq;
    *out = batch;
    return LX_OK;
}
