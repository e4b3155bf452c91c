/* The batch builder fed by a real engine: the net changes must equal each
 * account's balance change in the engine, the fills must be the engine's
 * fills in order, batches must chain, and a failed add must add nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

#define ACCOUNTS 24
#define FEE_ACCOUNT 999
#define NASSETS 3 /* BTC 0, USD 1, ETH 2 */

static uint64_t rng = 0x243f6a8885a308d3u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void asset_id(uint8_t id[32], uint32_t asset)
{
    /* IDs whose byte order is not the engine order, to test the sort. */
    memset(id, 0, 32);
    id[0] = (uint8_t)(0xf0 - 0x20 * asset);
    id[31] = (uint8_t)asset;
}

static lx_err dest_of(void *arg, uint8_t dest[LX_XADDR_LEN], uint64_t account, uint32_t asset)
{
    int *fail = arg;
    if (fail && *fail)
        return LX_ENOTFOUND;
    memset(dest, 0, LX_XADDR_LEN);
    dest[0] = (uint8_t)account;
    dest[1] = (uint8_t)asset;
    return LX_OK;
}

typedef struct world {
    lx_engine *e;
    lx_events evs;
    lx_batch_builder *b;
    uint64_t seq;
    int64_t before[ACCOUNTS + 1][NASSETS]; /* index ACCOUNTS is the fee account */
    lx_event fills[20000];
    size_t nfills;
    uint64_t last_id; /* order ids */
} world;

static uint64_t acct_of(size_t i)
{
    return i == ACCOUNTS ? FEE_ACCOUNT : (uint64_t)i + 1;
}

static void snapshot(world *w)
{
    for (size_t i = 0; i <= ACCOUNTS; i++)
        for (uint32_t a = 0; a < NASSETS; a++) {
            lx_balance bal;
            assert_int_equal(lx_engine_balance(w->e, &bal, acct_of(i), a), LX_OK);
            w->before[i][a] = (int64_t)(bal.available + bal.reserved);
        }
}

/* Applies cmd as one log block and feeds its events to the builder. */
static void apply(world *w, const lx_cmd *cmd)
{
    lx_events_clear(&w->evs);
    assert_int_equal(lx_engine_apply(w->e, &w->evs, cmd), LX_OK);
    w->seq++;
    assert_int_equal(lx_batch_builder_add_events(w->b, w->seq, w->evs.v, w->evs.n, dest_of, NULL),
                     LX_OK);
    for (size_t i = 0; i < w->evs.n; i++)
        if (w->evs.v[i].type == LX_EV_FILL) {
            assert_true(w->nfills < sizeof w->fills / sizeof w->fills[0]);
            w->fills[w->nfills++] = w->evs.v[i];
        }
}

static void deposit(world *w, uint64_t account, const char *asset, uint64_t amount)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_DEPOSIT;
    c.u.transfer.account = account;
    c.u.transfer.amount = amount;
    strcpy(c.u.transfer.asset, asset);
    apply(w, &c);
}

static void setup_world(world *w, const lx_batch_config *cfg)
{
    memset(w, 0, sizeof *w);
    lx_engine_config ec = {FEE_ACCOUNT};
    assert_int_equal(lx_engine_new(&w->e, &ec), LX_OK);
    lx_events_init(&w->evs);
    static const lx_market_spec specs[] = {
        {"BTC-USD", "BTC", "USD", 1000, 5, 1, 10, 25},
        {"ETH-USD", "ETH", "USD", 100, 1, 1, 0, 30},
        {"ETH-BTC", "ETH", "BTC", 10, 1, 1, 5, 5},
    };
    assert_int_equal(lx_batch_builder_new(&w->b, cfg), LX_OK);
    for (uint32_t a = 0; a < NASSETS; a++) {
        uint8_t id[32];
        asset_id(id, a);
        assert_int_equal(lx_batch_builder_add_asset(w->b, a, id), LX_OK);
    }
    for (uint32_t m = 0; m < 3; m++) {
        assert_int_equal(lx_engine_add_market(w->e, &w->evs, &specs[m]), LX_OK);
        lx_market_spec s;
        uint32_t base, quote;
        assert_int_equal(lx_engine_market_info(w->e, &s, m), LX_OK);
        assert_int_equal(lx_engine_asset_find(w->e, &base, s.base), LX_OK);
        assert_int_equal(lx_engine_asset_find(w->e, &quote, s.quote), LX_OK);
        assert_int_equal(lx_batch_builder_add_market(w->b, m, base, quote, s.lot), LX_OK);
    }
}

static void free_world(world *w)
{
    lx_batch_builder_free(&w->b);
    assert_null(w->b);
    lx_events_free(&w->evs);
    lx_engine_free(&w->e);
}

static void random_block(world *w)
{
    lx_cmd c;
    memset(&c, 0, sizeof c);
    uint64_t r = next_rand();
    uint64_t account = 1 + r % ACCOUNTS;
    if (r % 23 == 0) {
        static const char *const names[] = {"BTC", "USD", "ETH"};
        c.type = (r >> 8) % 2 ? LX_CMD_WITHDRAW : LX_CMD_DEPOSIT;
        c.u.transfer.account = account;
        c.u.transfer.amount = 1 + (r >> 16) % 5000;
        strcpy(c.u.transfer.asset, names[(r >> 12) % 3]);
    } else {
        c.type = LX_CMD_ORDER;
        lx_order_cmd *o = &c.u.order;
        o->id = ++w->last_id;
        o->account = account;
        o->market = (uint32_t)((r >> 8) % 3);
        o->side = (uint8_t)((r >> 12) % 2);
        o->type = LX_LIMIT;
        o->tif = (r >> 14) % 4 == 0 ? LX_IOC : LX_GTC;
        o->stp = LX_STP_EXPIRE_MAKER;
        uint64_t mid = o->market == 0 ? 1000 : o->market == 1 ? 300 : 20;
        uint64_t tick = o->market == 0 ? 5 : 1;
        o->price = (mid - 10 + (r >> 20) % 21) * tick;
        o->qty = 1 + (r >> 32) % 20;
    }
    apply(w, &c);
}

/* Net changes of the batch vs the engine's balance changes. */
static void check_net(world *w, const lx_batch *batch)
{
    size_t n;
    const lx_net_change *net = lx_batch_net_changes(batch, &n);
    int64_t got[ACCOUNTS + 1][NASSETS];
    memset(got, 0, sizeof got);
    for (size_t i = 0; i < n; i++) {
        size_t slot = net[i].account == FEE_ACCOUNT ? ACCOUNTS : (size_t)net[i].account - 1;
        assert_true(slot <= ACCOUNTS);
        uint32_t a = net[i].asset_id[31];
        uint8_t want_id[32];
        asset_id(want_id, a);
        assert_memory_equal(net[i].asset_id, want_id, 32);
        assert_int_not_equal(net[i].delta, 0);
        got[slot][a] = net[i].delta;
    }
    for (size_t i = 0; i <= ACCOUNTS; i++)
        for (uint32_t a = 0; a < NASSETS; a++) {
            lx_balance bal;
            assert_int_equal(lx_engine_balance(w->e, &bal, acct_of(i), a), LX_OK);
            int64_t now = (int64_t)(bal.available + bal.reserved);
            assert_int_equal(got[i][a], now - w->before[i][a]);
        }
    lx_batch_info info;
    assert_int_equal(lx_batch_info_get(batch, &info), LX_OK);
    assert_int_equal(info.net_count, n);
    uint8_t root[32];
    assert_int_equal(lx_net_root(root, net, n), LX_OK);
    assert_memory_equal(root, info.net_root, 32);
    size_t nd, nw;
    const lx_transfer *d = lx_batch_deposits(batch, &nd), *wd = lx_batch_withdrawals(batch, &nw);
    assert_int_equal(lx_net_check(NULL, net, n, d, nd, wd, nw), LX_OK);
}

/* The batch's fills are the engine's, in order, and each one proves. */
static void check_fills(world *w, const lx_batch *batch, size_t first)
{
    lx_batch_info info;
    assert_int_equal(lx_batch_info_get(batch, &info), LX_OK);
    size_t n;
    const lx_fill_leaf *fills = lx_batch_fills(batch, &n);
    assert_int_equal(n, info.fill_count);
    assert_int_equal(n, w->nfills - first);
    uint8_t *leaves = malloc(n ? 32 * n : 1);
    assert_non_null(leaves);
    for (size_t i = 0; i < n; i++) {
        const lx_event *ev = &w->fills[first + i];
        const lx_fill_leaf *f = &fills[i];
        assert_int_equal(f->fill_seq, info.first_fill + i);
        assert_true(f->log_seq >= info.first_seq && f->log_seq <= info.last_seq);
        assert_int_equal(f->market, ev->market);
        assert_int_equal(f->taker_order, ev->id);
        assert_int_equal(f->taker_account, ev->account);
        assert_int_equal(f->maker_order, ev->u.fill.maker);
        assert_int_equal(f->maker_account, ev->u.fill.maker_account);
        assert_int_equal(f->price, ev->u.fill.price);
        assert_int_equal(f->qty, ev->u.fill.qty);
        assert_int_equal(f->taker_side, ev->side);
        assert_int_equal(f->maker_fee, ev->u.fill.maker_fee);
        assert_int_equal(f->taker_fee, ev->u.fill.taker_fee);
        assert_int_equal(lx_fill_leaf_hash(leaves + 32 * i, f), LX_OK);
    }
    uint8_t root[32];
    assert_int_equal(lx_merkle_root(root, leaves, n), LX_OK);
    assert_memory_equal(root, info.fills_root, 32);
    for (size_t i = 0; i < n; i += 1 + n / 50) {
        lx_merkle_proof p;
        assert_int_equal(lx_batch_fill_proof(batch, &p, i), LX_OK);
        assert_int_equal(lx_batch_verify_fill(batch, &fills[i], &p), LX_OK);
    }
    free(leaves);
}

static void engine_batches(uint32_t threads, uint8_t hashes[4][32])
{
    static world w;
    rng = 0x243f6a8885a308d3u;
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.threads = threads;
    memset(cfg.channel_id, 0xc1, 32);
    cfg.fee_account = FEE_ACCOUNT;
    asset_id(cfg.fee_asset, 1);
    cfg.tx_fee = 1000;
    cfg.next_number = 1;
    cfg.next_seq = 1;
    setup_world(&w, &cfg);
    snapshot(&w);
    for (uint64_t a = 1; a <= ACCOUNTS; a++) {
        deposit(&w, a, "BTC", 1000000000);
        deposit(&w, a, "USD", 1000000000);
        deposit(&w, a, "ETH", 1000000000);
    }
    lx_batch *prev = NULL;
    size_t first = 0;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 1500; i++)
            random_block(&w);
        lx_batch *batch = NULL;
        assert_int_equal(lx_batch_builder_fill_count(w.b), w.nfills - first);
        assert_int_equal(lx_batch_builder_close(w.b, &batch, w.seq), LX_OK);
        assert_int_equal(lx_batch_builder_fill_count(w.b), 0);
        assert_true(w.nfills > first); /* the random book does trade */
        check_net(&w, batch);
        check_fills(&w, batch, first);
        lx_batch_info info;
        assert_int_equal(lx_batch_info_get(batch, &info), LX_OK);
        assert_int_equal(info.number, (uint64_t)round + 1);
        assert_int_equal(lx_batch_hash(batch, hashes[round]), LX_OK);
        if (prev) {
            assert_int_equal(lx_batch_follows(batch, prev), LX_OK);
            assert_int_equal(lx_batch_follows(prev, batch), LX_ESTATE);
        } else {
            uint8_t zero[32] = {0};
            assert_memory_equal(info.prev_hash, zero, 32);
            assert_int_equal(info.first_seq, 1);
        }
        lx_batch_free(&prev);
        prev = batch;
        first = w.nfills;
        snapshot(&w);
    }
    /* An empty batch (no blocks with events) still chains. */
    lx_batch *empty = NULL;
    assert_int_equal(lx_batch_builder_close(w.b, &empty, w.seq + 3), LX_OK);
    assert_int_equal(lx_batch_follows(empty, prev), LX_OK);
    size_t n;
    assert_null(lx_batch_net_changes(empty, &n));
    assert_int_equal(n, 0);
    lx_merkle_proof p;
    assert_int_equal(lx_batch_fill_proof(empty, &p, 0), LX_EINVAL);
    lx_batch_free(&empty);
    lx_batch_free(&prev);
    free_world(&w);
}

static void test_engine_batches(void **state)
{
    (void)state;
    /* One thread or two, the same batches. */
    uint8_t one[4][32], two[4][32];
    engine_batches(1, one);
    engine_batches(2, two);
    assert_memory_equal(one, two, sizeof one);
}

static void test_resume_from_config(void **state)
{
    (void)state;
    /* A builder started from a closed batch's successor config builds the
     * same next batch as the one that kept running. */
    static world a, b;
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fee_account = FEE_ACCOUNT;
    cfg.next_number = 1;
    cfg.next_seq = 1;
    setup_world(&a, &cfg);
    for (uint64_t k = 1; k <= ACCOUNTS; k++)
        deposit(&a, k, "USD", 5000000);
    lx_batch *first = NULL, *x = NULL, *y = NULL;
    assert_int_equal(lx_batch_builder_close(a.b, &first, a.seq), LX_OK);
    lx_batch_info info;
    assert_int_equal(lx_batch_info_get(first, &info), LX_OK);
    cfg.next_number = 2;
    assert_int_equal(lx_batch_hash(first, cfg.prev_hash), LX_OK);
    cfg.next_seq = info.last_seq + 1;
    cfg.next_fill = info.first_fill + info.fill_count;
    setup_world(&b, &cfg);
    /* Same commands to both engines' builders: b's engine lacks the
     * deposits, so feed it a's events instead of its own. */
    for (int i = 0; i < 300; i++) {
        random_block(&a);
        assert_int_equal(lx_batch_builder_add_events(b.b, a.seq, a.evs.v, a.evs.n, dest_of, NULL),
                         LX_OK);
    }
    /* The state says where the open batch starts and how far it got. */
    lx_batch_config got;
    uint64_t last = 0;
    lx_batch_builder_state(b.b, &got, &last);
    assert_int_equal(got.next_number, 2);
    assert_memory_equal(got.prev_hash, cfg.prev_hash, 32);
    assert_int_equal(got.next_seq, cfg.next_seq);
    assert_int_equal(got.next_fill, cfg.next_fill);
    assert_int_equal(got.fee_account, FEE_ACCOUNT);
    assert_int_equal(last, a.seq);
    assert_int_equal(lx_batch_builder_close(a.b, &x, a.seq), LX_OK);
    assert_int_equal(lx_batch_builder_close(b.b, &y, a.seq), LX_OK);
    lx_batch_builder_state(b.b, &got, &last);
    assert_int_equal(got.next_number, 3);
    assert_int_equal(got.next_seq, a.seq + 1);
    uint8_t hx[32], hy[32];
    assert_int_equal(lx_batch_hash(x, hx), LX_OK);
    assert_int_equal(lx_batch_hash(y, hy), LX_OK);
    assert_memory_equal(hx, hy, 32);
    assert_int_equal(lx_batch_follows(y, first), LX_OK);
    lx_batch_free(&first);
    lx_batch_free(&x);
    lx_batch_free(&y);
    free_world(&a);
    free_world(&b);
}

static lx_event fill_event(uint32_t market, uint8_t side)
{
    lx_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_FILL;
    ev.side = side;
    ev.market = market;
    ev.id = 7;
    ev.account = 1;
    ev.u.fill.maker = 8;
    ev.u.fill.maker_account = 2;
    ev.u.fill.price = 100;
    ev.u.fill.qty = 3;
    ev.u.fill.maker_fee = 1;
    ev.u.fill.taker_fee = 2;
    return ev;
}

static void test_all_or_nothing(void **state)
{
    (void)state;
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.next_number = 1;
    cfg.next_seq = 10;
    cfg.fee_account = FEE_ACCOUNT;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    uint8_t id0[32], id1[32], id2[32], dest[20] = {1};
    asset_id(id0, 0);
    asset_id(id1, 1);
    asset_id(id2, 2);
    assert_int_equal(lx_batch_builder_add_asset(b, 0, id0), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(b, 1, id1), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(b, 1, id1), LX_OK); /* same again */
    assert_int_equal(lx_batch_builder_add_asset(b, 1, id2), LX_EEXIST);
    assert_int_equal(lx_batch_builder_add_asset(b, 2, id1), LX_EEXIST); /* ID taken */
    assert_int_equal(lx_batch_builder_add_market(b, 0, 0, 1, 10), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(b, 0, 0, 1, 10), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(b, 0, 0, 1, 11), LX_EEXIST);
    assert_int_equal(lx_batch_builder_add_market(b, 1, 0, 2, 10), LX_OK); /* asset 2 unmapped */
    assert_int_equal(lx_batch_builder_add_market(b, 2, 1, 1, 10), LX_EINVAL);
    assert_int_equal(lx_batch_builder_add_market(b, 2, 0, 1, 0), LX_EINVAL);

    lx_event evs[4] = {fill_event(0, LX_BUY), fill_event(0, LX_SELL), fill_event(1, LX_BUY)};
    /* A block with a fill of a market whose asset is not mapped: nothing. */
    assert_int_equal(lx_batch_builder_add_events(b, 10, evs, 3, dest_of, NULL), LX_ENOTFOUND);
    assert_int_equal(lx_batch_builder_fill_count(b), 0);
    evs[2] = fill_event(0, LX_BUY);
    memset(&evs[3], 0, sizeof evs[3]);
    evs[3].type = LX_EV_BALANCE;
    evs[3].cmd = LX_CMD_WITHDRAW;
    evs[3].account = 1;
    evs[3].market = 0;
    evs[3].u.balance.amount = 5;
    /* A withdrawal whose destination is unknown: nothing. */
    int fail = 1;
    assert_int_equal(lx_batch_builder_add_events(b, 10, evs, 4, dest_of, &fail), LX_ENOTFOUND);
    assert_int_equal(lx_batch_builder_add_events(b, 10, evs, 4, NULL, NULL), LX_EINVAL);
    assert_int_equal(lx_batch_builder_fill_count(b), 0);
    assert_int_equal(lx_batch_builder_withdrawal_count(b), 0);
    fail = 0;
    assert_int_equal(lx_batch_builder_add_events(b, 10, evs, 4, dest_of, &fail), LX_OK);
    assert_int_equal(lx_batch_builder_fill_count(b), 3);
    assert_int_equal(lx_batch_builder_withdrawal_count(b), 1);

    /* Seqs go forward only, and never below the batch's first. */
    assert_int_equal(lx_batch_builder_add_fill(b, 9, &evs[0]), LX_EINVAL);
    assert_int_equal(lx_batch_builder_add_fill(b, 12, &evs[0]), LX_OK);
    assert_int_equal(lx_batch_builder_add_fill(b, 11, &evs[0]), LX_EINVAL);
    assert_int_equal(lx_batch_builder_add_deposit(b, 12, 3, 1, 0), LX_EINVAL);
    assert_int_equal(lx_batch_builder_add_deposit(b, 12, 3, 5, 9), LX_ENOTFOUND);
    assert_int_equal(lx_batch_builder_add_deposit(b, 12, 3, 1, 9), LX_OK);
    lx_event not_fill = evs[3];
    assert_int_equal(lx_batch_builder_add_fill(b, 12, &not_fill), LX_EINVAL);
    lx_event bad_side = evs[0];
    bad_side.side = 2;
    assert_int_equal(lx_batch_builder_add_fill(b, 12, &bad_side), LX_EINVAL);

    /* The withdrawal cap. */
    for (size_t i = 1; i < LX_BATCH_WITHDRAWALS_MAX; i++)
        assert_int_equal(lx_batch_builder_add_withdrawal(b, 13, 1, 0, 1, dest), LX_OK);
    assert_int_equal(lx_batch_builder_add_withdrawal(b, 13, 1, 0, 1, dest), LX_ETOOBIG);
    assert_int_equal(lx_batch_builder_withdrawal_count(b), LX_BATCH_WITHDRAWALS_MAX);

    lx_batch *batch = NULL;
    assert_int_equal(lx_batch_builder_close(b, &batch, 12), LX_EINVAL); /* below 13 */
    assert_int_equal(lx_batch_builder_close(b, &batch, 13), LX_OK);
    lx_batch_info info;
    assert_int_equal(lx_batch_info_get(batch, &info), LX_OK);
    assert_int_equal(info.first_seq, 10);
    assert_int_equal(info.last_seq, 13);
    assert_int_equal(info.fill_count, 4);
    size_t nw;
    const lx_transfer *wd = lx_batch_withdrawals(batch, &nw);
    assert_int_equal(nw, LX_BATCH_WITHDRAWALS_MAX);
    assert_int_equal(wd[0].dest[0], 1); /* from dest_of: the account */
    assert_int_equal(wd[1].dest[0], 1);
    assert_memory_equal(wd[0].asset_id, id0, 32);
    lx_batch_free(&batch);
    /* The next batch starts after 13. */
    assert_int_equal(lx_batch_builder_add_fill(b, 13, &evs[0]), LX_EINVAL);
    assert_int_equal(lx_batch_builder_add_fill(b, 14, &evs[0]), LX_OK);
    lx_batch_builder_free(&b);
    lx_batch_builder_free(&b);

    /* Config checks. */
    cfg.next_number = 0;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_EINVAL);
    cfg.next_number = 2; /* needs a prev hash */
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_EINVAL);
    cfg.prev_hash[3] = 1;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    lx_batch_builder_free(&b);
    cfg.next_number = 1; /* must not have one */
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_EINVAL);
    assert_int_equal(lx_batch_builder_new(NULL, &cfg), LX_EINVAL);
}

static void test_net_overflow(void **state)
{
    (void)state;
    /* Deltas that do not fit in 64 bits refuse to close, and the builder
     * keeps what it has. */
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.next_number = 1;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    uint8_t id[32];
    asset_id(id, 0);
    assert_int_equal(lx_batch_builder_add_asset(b, 0, id), LX_OK);
    assert_int_equal(lx_batch_builder_add_deposit(b, 0, 1, 0, UINT64_MAX), LX_OK);
    lx_batch *batch = NULL;
    assert_int_equal(lx_batch_builder_close(b, &batch, 0), LX_EOVERFLOW);
    assert_null(batch);
    uint8_t dest[20] = {0};
    assert_int_equal(lx_batch_builder_add_withdrawal(b, 0, 1, 0, UINT64_MAX / 2 + 1, dest), LX_OK);
    assert_int_equal(lx_batch_builder_close(b, &batch, 0), LX_OK);
    size_t n;
    const lx_net_change *net = lx_batch_net_changes(batch, &n);
    assert_int_equal(n, 1);
    assert_int_equal(net[0].delta, INT64_MAX);
    lx_batch_free(&batch);
    lx_batch_builder_free(&b);
}

/* A batch big enough that closing splits levels between two threads. */
static lx_batch *big_batch(uint32_t threads, size_t n)
{
    lx_batch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.next_number = 1;
    cfg.fee_account = FEE_ACCOUNT;
    cfg.threads = threads;
    lx_batch_builder *b = NULL;
    assert_int_equal(lx_batch_builder_new(&b, &cfg), LX_OK);
    uint8_t id[32];
    for (uint32_t a = 0; a < 2; a++) {
        asset_id(id, a);
        assert_int_equal(lx_batch_builder_add_asset(b, a, id), LX_OK);
    }
    assert_int_equal(lx_batch_builder_add_market(b, 0, 0, 1, 10), LX_OK);
    for (size_t i = 0; i < n; i++) {
        lx_event ev = fill_event(0, (uint8_t)(i % 2));
        ev.account = 1 + i % 3000;
        ev.u.fill.maker_account = 3001 + (i * 7) % 2000;
        ev.u.fill.qty = 1 + i % 9;
        assert_int_equal(lx_batch_builder_add_fill(b, i / 100, &ev), LX_OK);
    }
    lx_batch *batch = NULL;
    assert_int_equal(lx_batch_builder_close(b, &batch, n / 100), LX_OK);
    lx_batch_builder_free(&b);
    return batch;
}

static void test_two_threads(void **state)
{
    (void)state;
    const size_t n = 20011;
    lx_batch *one = big_batch(1, n), *two = big_batch(2, n);
    uint8_t h1[32], h2[32];
    assert_int_equal(lx_batch_hash(one, h1), LX_OK);
    assert_int_equal(lx_batch_hash(two, h2), LX_OK);
    assert_memory_equal(h1, h2, 32);
    /* The root against the leaves hashed here, one by one. */
    size_t nf;
    const lx_fill_leaf *fills = lx_batch_fills(two, &nf);
    assert_int_equal(nf, n);
    uint8_t *leaves = malloc(32 * n), root[32];
    assert_non_null(leaves);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lx_fill_leaf_hash(leaves + 32 * i, &fills[i]), LX_OK);
    assert_int_equal(lx_merkle_root(root, leaves, n), LX_OK);
    lx_batch_info info;
    assert_int_equal(lx_batch_info_get(two, &info), LX_OK);
    assert_memory_equal(root, info.fills_root, 32);
    size_t nn;
    const lx_net_change *net = lx_batch_net_changes(two, &nn);
    assert_int_equal(lx_net_root(root, net, nn), LX_OK);
    assert_memory_equal(root, info.net_root, 32);
    for (size_t i = 0; i < n; i += 997) {
        lx_merkle_proof p;
        assert_int_equal(lx_batch_fill_proof(two, &p, i), LX_OK);
        assert_int_equal(lx_batch_verify_fill(one, &fills[i], &p), LX_OK);
    }
    free(leaves);
    lx_batch_free(&one);
    lx_batch_free(&two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_batches), cmocka_unit_test(test_resume_from_config),
        cmocka_unit_test(test_all_or_nothing), cmocka_unit_test(test_net_overflow),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
