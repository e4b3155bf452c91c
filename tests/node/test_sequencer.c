/* Tests for the sequencer's block batcher: cutting after N entries or T
 * microseconds, whichever comes first, at once while no block waits for its
 * sync or quorum (group commit) unless the last block was a full one and
 * pacing holds the next back, never splitting a request; the per-entry
 * event boundaries the sequencer uses to build replies; and the table of
 * order owners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../node/node_int.h"

static lx_entry order(uint64_t id)
{
    lx_entry e;
    memset(&e, 0, sizeof e);
    e.cmd.type = LX_CMD_ORDER;
    e.cmd.u.order.id = id;
    e.cmd.u.order.account = 1;
    e.cmd.u.order.price = 100;
    e.cmd.u.order.qty = 1;
    return e;
}

static lx__req req(uint64_t req_id)
{
    lx__req r;
    memset(&r, 0, sizeof r);
    r.from.slot = LX__LOCAL;
    r.type = LX_PROTO_NEW_ORDER;
    r.req_id = req_id;
    return r;
}

static void test_init_checks(void **state)
{
    (void)state;
    lx__batcher b;
    assert_int_equal(lx__batcher_init(&b, 0, 1000, 0), LX_EINVAL);
    assert_int_equal(lx__batcher_init(&b, LX_BLOCK_ENTRIES_MAX + 1, 1000, 0), LX_EINVAL);
    assert_int_equal(lx__batcher_init(&b, 10, 0, 0), LX_EINVAL);
    assert_int_equal(lx__batcher_init(&b, LX_BLOCK_ENTRIES_MAX, 1, 0), LX_OK);
    lx__batcher_free(&b);
}

static void test_cut_by_count(void **state)
{
    (void)state;
    lx__batcher b;
    assert_int_equal(lx__batcher_init(&b, 3, 1000000, 0), LX_OK);
    assert_int_equal(lx__batcher_deadline(&b), UINT64_MAX);
    assert_false(lx__batcher_due(&b, 0));
    for (uint64_t i = 1; i <= 3; i++) {
        lx__req r = req(i);
        lx_entry e = order(i);
        assert_false(lx__batcher_due(&b, 10 * i));
        assert_true(lx__batcher_fits(&b, 1));
        assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 10 * i), LX_OK);
    }
    /* Three entries: due at once, long before the time limit. */
    assert_true(lx__batcher_due(&b, 31));
    assert_int_equal(b.n, 3);
    assert_int_equal(b.nreq, 3);
    assert_int_equal(b.reqs[2].first, 2);
    assert_int_equal(b.reqs[2].n, 1);
    assert_int_equal(b.entries[1].cmd.u.order.id, 2);
    assert_false(lx__batcher_fits(&b, 1));
    lx__req r = req(9);
    lx_entry e = order(9);
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 40), LX_ETOOBIG);
    lx__batcher_clear(&b);
    assert_false(lx__batcher_due(&b, 1000000000));
    assert_int_equal(b.n, 0);
    lx__batcher_free(&b);
}

static void test_cut_by_time(void **state)
{
    (void)state;
    lx__batcher b;
    assert_int_equal(lx__batcher_init(&b, 1024, 1000, 0), LX_OK);
    lx__req r = req(1);
    lx_entry e = order(1);
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 5000), LX_OK);
    assert_int_equal(lx__batcher_deadline(&b), 6000);
    assert_false(lx__batcher_due(&b, 5000));
    assert_false(lx__batcher_due(&b, 5999));
    /* A later entry does not push the deadline back. */
    r = req(2);
    e = order(2);
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 5900), LX_OK);
    assert_int_equal(lx__batcher_deadline(&b), 6000);
    assert_true(lx__batcher_due(&b, 6000));
    assert_true(lx__batcher_due(&b, 7000));
    lx__batcher_clear(&b);
    /* The next block's clock starts with its first entry. */
    r = req(3);
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 9000), LX_OK);
    assert_false(lx__batcher_due(&b, 9999));
    assert_true(lx__batcher_due(&b, 10000));
    lx__batcher_free(&b);
}

static void test_batches_are_not_split(void **state)
{
    (void)state;
    lx__batcher b;
    lx_entry ents[300];
    for (uint64_t i = 0; i < 300; i++)
        ents[i] = order(i + 1);
    assert_int_equal(lx__batcher_init(&b, 100, 1000, 0), LX_OK);
    lx__req r = req(1);
    assert_int_equal(lx__batcher_add(&b, &r, ents, 60, 0), LX_OK);
    /* 60 + 50 > 100: the batch waits for the next block. */
    assert_false(lx__batcher_fits(&b, 50));
    assert_true(lx__batcher_fits(&b, 40));
    lx__batcher_clear(&b);
    /* A batch bigger than the block size goes alone into an empty block. */
    assert_true(lx__batcher_fits(&b, 256));
    r = req(2);
    r.type = LX_PROTO_NEW_ORDER_BATCH;
    assert_int_equal(lx__batcher_add(&b, &r, ents, 256, 0), LX_OK);
    assert_true(lx__batcher_due(&b, 0));
    assert_int_equal(b.reqs[0].n, 256);
    assert_false(lx__batcher_fits(&b, 1));
    assert_false(lx__batcher_fits(&b, LX_BLOCK_ENTRIES_MAX + 1));
    lx__batcher_free(&b);
}

static void test_request_without_entries(void **state)
{
    (void)state;
    lx__batcher b;
    assert_int_equal(lx__batcher_init(&b, 4, 100, 0), LX_OK);
    lx__req r = req(1);
    assert_int_equal(lx__batcher_add(&b, &r, NULL, 0, 50), LX_OK);
    assert_false(lx__batcher_due(&b, 149));
    assert_true(lx__batcher_due(&b, 150));
    assert_int_equal(lx__batcher_add(NULL, &r, NULL, 0, 0), LX_EINVAL);
    lx__batcher_free(&b);
}

/* lx__block_apply_ends gives each entry's event range and the same state
 * hash as lx_block_apply. */
static void test_apply_ends(void **state)
{
    (void)state;
    lx_entry ents[5];
    memset(ents, 0, sizeof ents);
    ents[0].is_market = 1;
    snprintf(ents[0].market.name, sizeof ents[0].market.name, "BTC-USD");
    snprintf(ents[0].market.base, sizeof ents[0].market.base, "BTC");
    snprintf(ents[0].market.quote, sizeof ents[0].market.quote, "USD");
    ents[0].market.lot = ents[0].market.tick = ents[0].market.min_qty = 1;
    ents[1].cmd.type = LX_CMD_DEPOSIT;
    ents[1].cmd.u.transfer = (lx_transfer_cmd){1, 1000, "USD"};
    ents[2].cmd.type = LX_CMD_DEPOSIT;
    ents[2].cmd.u.transfer = (lx_transfer_cmd){2, 10, "BTC"};
    ents[3] = order(7);
    ents[3].cmd.u.order.account = 2;
    ents[3].cmd.u.order.side = LX_SELL;
    ents[3].cmd.u.order.qty = 2;
    ents[4] = order(8); /* buys 1 of the 2: ACCEPTED, FILL */
    lx_block blk;
    lx_block_init(&blk);
    blk.hdr = (lx_block_hdr){1, 1, 42, 1, 5};
    blk.entries = ents;
    blk.cap = 5;

    lx_engine_config ec = {0};
    lx_engine *e1, *e2;
    assert_int_equal(lx_engine_new(&e1, &ec), LX_OK);
    assert_int_equal(lx_engine_new(&e2, &ec), LX_OK);
    lx_events ev1, ev2;
    lx_events_init(&ev1);
    lx_events_init(&ev2);
    uint8_t h1[LX_STATE_HASH_LEN] = {0}, h2[LX_STATE_HASH_LEN] = {0};
    size_t ends[5];
    assert_int_equal(lx__block_apply_ends(e1, &ev1, h1, &blk, ends), LX_OK);
    assert_int_equal(lx_block_apply(e2, &ev2, h2, &blk), LX_OK);
    assert_memory_equal(h1, h2, LX_STATE_HASH_LEN);
    assert_int_equal(ev1.n, ev2.n);
    assert_int_equal(ends[0], 1); /* MARKET */
    assert_int_equal(ends[1], 2); /* BALANCE */
    assert_int_equal(ends[2], 3); /* BALANCE */
    assert_int_equal(ends[3], 4); /* ACCEPTED, rests */
    assert_int_equal(ends[4], 6); /* ACCEPTED, FILL */
    assert_int_equal(ev1.v[4].type, LX_EV_ACCEPTED);
    assert_int_equal(ev1.v[5].type, LX_EV_FILL);
    assert_int_equal(ev1.v[5].u.fill.maker, 7);
    lx_events_free(&ev1);
    lx_events_free(&ev2);
    lx_engine_free(&e1);
    lx_engine_free(&e2);
}

static void test_hist(void **state)
{
    (void)state;
    lx__hist h;
    memset(&h, 0, sizeof h);
    assert_int_equal(lx__hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100; v++)
        lx__hist_add(&h, v);
    uint64_t p50 = lx__hist_quantile(&h, 0.50), p99 = lx__hist_quantile(&h, 0.99);
    assert_true(p50 >= 50 && p50 <= 53);
    assert_true(p99 >= 99 && p99 <= 103);
    lx__hist_add(&h, UINT64_MAX / 2);
    assert_true(lx__hist_quantile(&h, 1.0) >= (uint64_t)1 << 40);
}

/* Group commit: a block is cut at once while the journal is idle, and
 * grows while a sync runs until it reaches a bound. */
static void test_group_commit(void **state)
{
    (void)state;
    lx__batcher b;
    assert_int_equal(lx__batcher_init(&b, 3, 1000, 0), LX_OK);
    assert_false(lx__batcher_should_cut(&b, 0, 1)); /* nothing to cut */
    lx__req r = req(1);
    lx_entry e = order(1);
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 100), LX_OK);
    assert_true(lx__batcher_should_cut(&b, 100, 1));  /* idle: now */
    assert_false(lx__batcher_should_cut(&b, 100, 0)); /* busy: wait */
    assert_false(lx__batcher_should_cut(&b, 1099, 0));
    assert_true(lx__batcher_should_cut(&b, 1100, 0)); /* max_us reached */
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 200), LX_OK);
    assert_int_equal(lx__batcher_add(&b, &r, &e, 1, 300), LX_OK);
    assert_true(lx__batcher_should_cut(&b, 300, 0)); /* max_entries reached */
    lx__batcher_clear(&b);
    assert_false(lx__batcher_should_cut(&b, 5000, 1));
    lx__batcher_free(&b);
}

/* Adds count one-entry requests at now_us. */
static void add_orders(lx__batcher *b, unsigned count, uint64_t now_us)
{
    for (unsigned i = 0; i < count; i++) {
        lx__req r = req(i + 1);
        lx_entry e = order(i + 1);
        assert_int_equal(lx__batcher_add(b, &r, &e, 1, now_us), LX_OK);
    }
}

/* After a block of LX__PACE_ENTRIES entries or more, an idle pipeline's
 * next block waits until min_us after it; after a smaller one, or with
 * min_us 0, it is cut at once. Due blocks are cut whatever the pacing. */
static void test_pacing(void **state)
{
    (void)state;
    lx__batcher b;
    assert_int_equal(lx__batcher_init(&b, 1024, 5000, 1000), LX_OK);
    assert_int_equal(lx__batcher_paced(&b), 0); /* no block yet */
    add_orders(&b, LX__PACE_ENTRIES - 1, 100);
    assert_true(lx__batcher_should_cut(&b, 100, 1));
    lx__batcher_taken(&b, 100);
    /* A small block (light load): the next goes at once. */
    assert_int_equal(lx__batcher_paced(&b), 0);
    add_orders(&b, 1, 150);
    assert_true(lx__batcher_should_cut(&b, 150, 1));
    assert_int_equal(lx__batcher_idle_deadline(&b), 0);
    lx__batcher_clear(&b);
    add_orders(&b, LX__PACE_ENTRIES, 200);
    lx__batcher_taken(&b, 300);
    /* A full block (load): the next waits until 1,000 us after it. */
    assert_int_equal(lx__batcher_paced(&b), 1300);
    assert_false(lx__batcher_should_cut(&b, 400, 1)); /* nothing to cut */
    add_orders(&b, 5, 400);
    assert_int_equal(lx__batcher_idle_deadline(&b), 1300);
    assert_false(lx__batcher_should_cut(&b, 400, 1));
    assert_false(lx__batcher_should_cut(&b, 1299, 1));
    assert_true(lx__batcher_should_cut(&b, 1300, 1));
    assert_false(lx__batcher_should_cut(&b, 1300, 0)); /* the pipeline is busy */
    lx__batcher_taken(&b, 1300);
    assert_int_equal(lx__batcher_paced(&b), 0);                  /* 5 entries: load is gone */
    assert_int_equal(lx__batcher_idle_deadline(&b), UINT64_MAX); /* empty */
    lx__batcher_free(&b);

    /* The pacing never holds a block past its own bounds. */
    assert_int_equal(lx__batcher_init(&b, 100, 500, 1000), LX_OK);
    add_orders(&b, 100, 0);
    lx__batcher_taken(&b, 0);
    add_orders(&b, 1, 10);
    assert_int_equal(lx__batcher_idle_deadline(&b), 510); /* max_us first */
    assert_false(lx__batcher_should_cut(&b, 509, 1));
    assert_true(lx__batcher_should_cut(&b, 510, 1));
    add_orders(&b, 99, 20); /* 100 entries: due now */
    assert_int_equal(lx__batcher_idle_deadline(&b), 10);
    assert_true(lx__batcher_should_cut(&b, 20, 1));
    lx__batcher_free(&b);

    /* min_us 0: never paced, however full the blocks. */
    assert_int_equal(lx__batcher_init(&b, 1024, 1000, 0), LX_OK);
    add_orders(&b, 500, 0);
    lx__batcher_taken(&b, 0);
    add_orders(&b, 1, 1);
    assert_int_equal(lx__batcher_paced(&b), 0);
    assert_true(lx__batcher_should_cut(&b, 1, 1));
    lx__batcher_free(&b);
}

/* The leader cuts at once only when no block waits for its sync or, with
 * --ack-quorum majority, for its quorum. */
static void test_pipeline_idle(void **state)
{
    (void)state;
    lx__node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->cut_seq = n->synced_seq = n->commit_seq = 7;
    assert_true(lx__seq_pipeline_idle(n));
    n->cut_seq = 8; /* block 8 waits for the journal */
    assert_false(lx__seq_pipeline_idle(n));
    n->synced_seq = 8; /* synced here, not yet held by a majority */
    assert_false(lx__seq_pipeline_idle(n));
    n->commit_seq = 8;
    assert_true(lx__seq_pipeline_idle(n));
    n->cut_seq = 9;
    n->commit_seq = 9; /* a quorum cannot outrun the leader's own sync */
    assert_false(lx__seq_pipeline_idle(n));
    free(n);
}

static lx__origin origin_of(int slot, const char *rid)
{
    lx__origin o;
    memset(&o, 0, sizeof o);
    o.slot = slot;
    o.token = 99; /* owners never keep a token */
    o.rid_len = (uint8_t)strlen(rid);
    memcpy(o.rid, rid, o.rid_len);
    return o;
}

/* Owners keep each order's origin; an origin is stored once however many
 * orders use it, and freed with the last of them. */
static void test_owners(void **state)
{
    (void)state;
    lx__owners o;
    memset(&o, 0, sizeof o);
    lx__origin a = origin_of(LX__LOCAL, "client-a"), b = origin_of(1, "client-b");
    assert_null(lx__owners_get(&o, 5));
    for (uint64_t id = 1; id <= 3000; id++)
        lx__owners_put(&o, id, 1000 + id, id % 2 ? &a : &b);
    lx__owners_put(&o, 0, 1, &a); /* id 0 is never recorded */
    assert_int_equal(o.n, 3000);
    assert_int_equal(lx__owners_origins(&o), 2);
    const lx__owner *w = lx__owners_get(&o, 7);
    assert_non_null(w);
    assert_int_equal(w->req_id, 1007);
    const lx__origin *f = lx__owners_origin(&o, w);
    assert_int_equal(f->slot, LX__LOCAL);
    assert_int_equal(f->token, 0);
    assert_int_equal(f->rid_len, 8);
    assert_memory_equal(f->rid, "client-a", 8);
    w = lx__owners_get(&o, 8);
    assert_non_null(w);
    assert_int_equal(lx__owners_origin(&o, w)->slot, 1);
    /* Putting an id again moves it to the new origin. */
    lx__owners_put(&o, 8, 5, &a);
    w = lx__owners_get(&o, 8);
    assert_int_equal(w->req_id, 5);
    assert_int_equal(lx__owners_origin(&o, w)->slot, LX__LOCAL);
    assert_int_equal(o.n, 3000);
    /* Deleting every order of b frees b; the others stay reachable. */
    for (uint64_t id = 2; id <= 3000; id += 2)
        lx__owners_del(&o, id);
    lx__owners_del(&o, 999999); /* unknown: nothing happens */
    assert_int_equal(o.n, 1500);
    assert_int_equal(lx__owners_origins(&o), 1);
    for (uint64_t id = 1; id <= 3000; id++) {
        if (id % 2) {
            assert_non_null(lx__owners_get(&o, id));
            assert_int_equal(lx__owners_get(&o, id)->req_id, 1000 + id);
        } else {
            assert_null(lx__owners_get(&o, id));
        }
    }
    /* A new origin reuses the freed slot. */
    lx__origin c = origin_of(2, "c");
    lx__owners_put(&o, 4, 1, &c);
    assert_int_equal(lx__owners_origins(&o), 2);
    assert_int_equal(lx__owners_origin(&o, lx__owners_get(&o, 4))->slot, 2);
    for (uint64_t id = 1; id <= 3000; id += 2)
        lx__owners_del(&o, id);
    lx__owners_del(&o, 4);
    assert_int_equal(o.n, 0);
    assert_int_equal(lx__owners_origins(&o), 0);
    lx__owners_free(&o);
    assert_null(o.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_cut_by_count),
        cmocka_unit_test(test_cut_by_time),
        cmocka_unit_test(test_batches_are_not_split),
        cmocka_unit_test(test_request_without_entries),
        cmocka_unit_test(test_apply_ends),
        cmocka_unit_test(test_hist),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_pacing),
        cmocka_unit_test(test_pipeline_idle),
        cmocka_unit_test(test_owners),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
