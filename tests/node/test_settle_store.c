/* Tests for the settlement files of the data dir (node/settle_store.c): a
 * batch file reads back to the same batch, fills and net changes, from which
 * a fill's Merkle proof verifies; a damaged file is refused; status records
 * round-trip in every state; paths name the batch in 20 digits. */
#define _XOPEN_SOURCE 700 /* nftw (test_fs.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../node/settle_int.h"
#include "test_fs.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    lx_test_tmpdir(dir, sizeof dir, "lx-settle-store");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return lx_test_rm_rf(dir);
}

/* A batch of nfills fills between accounts 1 and 2 in one market. */
static lx_batch *make_batch(uint64_t nfills)
{
    lx_batch_config bc;
    memset(&bc, 0, sizeof bc);
    memset(bc.channel_id, 7, 32);
    memset(bc.fee_asset, 0xA0, 32);
    bc.tx_fee = 1000;
    bc.next_number = 1;
    bc.next_seq = 1;
    lx_batch_builder *bb = NULL;
    assert_int_equal(lx_batch_builder_new(&bb, &bc), LX_OK);
    uint8_t a0[32], a1[32];
    memset(a0, 0xA0, 32);
    memset(a1, 0xA1, 32);
    assert_int_equal(lx_batch_builder_add_asset(bb, 0, a0), LX_OK);
    assert_int_equal(lx_batch_builder_add_asset(bb, 1, a1), LX_OK);
    assert_int_equal(lx_batch_builder_add_market(bb, 0, 0, 1, 1), LX_OK);
    for (uint64_t i = 0; i < nfills; i++) {
        lx_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = LX_EV_FILL;
        ev.cmd = LX_CMD_ORDER;
        ev.side = (uint8_t)(i % 2);
        ev.market = 0;
        ev.id = 100 + i;
        ev.account = 1 + i % 2;
        ev.u.fill.maker = 1000 + i;
        ev.u.fill.maker_account = 2 - i % 2;
        ev.u.fill.price = 10 + i;
        ev.u.fill.qty = 1 + i % 3;
        assert_int_equal(lx_batch_builder_add_fill(bb, 2 + i / 2, &ev), LX_OK);
    }
    lx_batch *b = NULL;
    assert_int_equal(lx_batch_builder_close(bb, &b, 2 + nfills), LX_OK);
    lx_batch_builder_free(&bb);
    return b;
}

static void test_path(void **state)
{
    (void)state;
    char p[256];
    assert_int_equal(lx__settle_path(p, sizeof p, "data/node0", 42, ".batch"), LX_OK);
    assert_string_equal(p, "data/node0/settle/00000000000000000042.batch");
    assert_int_equal(lx__settle_path(p, 10, "data/node0", 42, ".json"), LX_ETOOBIG);
}

static void test_batch_roundtrip(void **state)
{
    (void)state;
    lx_batch *b = make_batch(7);
    char path[128];
    snprintf(path, sizeof path, "%s/1.batch", dir);
    assert_int_equal(lx__settle_write_batch(path, b), LX_OK);
    lx_batch *got = NULL;
    lx_fill_leaf *fills = NULL;
    lx_net_change *nets = NULL;
    size_t nf = 0, nn = 0;
    assert_int_equal(lx__settle_read_batch(path, &got, &fills, &nf, &nets, &nn), LX_OK);
    uint8_t h1[32], h2[32];
    lx_batch_hash(b, h1);
    lx_batch_hash(got, h2);
    assert_memory_equal(h1, h2, 32);
    size_t wf = 0, wn = 0;
    const lx_fill_leaf *want = lx_batch_fills(b, &wf);
    const lx_net_change *wnets = lx_batch_net_changes(b, &wn);
    assert_int_equal(nf, 7);
    assert_int_equal(nf, wf);
    assert_int_equal(nn, wn);
    assert_true(nn > 0);
    for (size_t i = 0; i < nf; i++) {
        assert_int_equal(fills[i].fill_seq, want[i].fill_seq);
        assert_int_equal(fills[i].price, want[i].price);
    }
    for (size_t i = 0; i < nn; i++)
        assert_int_equal(nets[i].delta, wnets[i].delta);
    /* What lx-proof does: the path of fill 3 from the file's leaves. */
    uint8_t *leaves = malloc(nf * 32);
    assert_non_null(leaves);
    for (size_t i = 0; i < nf; i++)
        assert_int_equal(lx_fill_leaf_hash(leaves + 32 * i, &fills[i]), LX_OK);
    lx_merkle_tree *t = NULL;
    assert_int_equal(lx_merkle_tree_new(&t, leaves, nf), LX_OK);
    lx_merkle_proof proof;
    assert_int_equal(lx_merkle_tree_proof(t, &proof, 3), LX_OK);
    assert_int_equal(lx_batch_verify_fill(got, &fills[3], &proof), LX_OK);
    assert_int_not_equal(lx_batch_verify_fill(got, &fills[4], &proof), LX_OK);
    lx_merkle_tree_free(&t);
    free(leaves);
    free(fills);
    free(nets);
    lx_batch_free(&got);
    lx_batch_free(&b);
}

static void test_batch_damaged(void **state)
{
    (void)state;
    lx_batch *b = make_batch(4);
    char path[128];
    snprintf(path, sizeof path, "%s/2.batch", dir);
    assert_int_equal(lx__settle_write_batch(path, b), LX_OK);
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(lx__settle_read_file(path, &data, &len, 1 << 20), LX_OK);
    lx_batch *got = NULL;
    lx_fill_leaf *fills = NULL;
    lx_net_change *nets = NULL;
    size_t nf, nn;
    /* a flipped price in the last fill leaf: the fills root no longer matches */
    uint32_t blen =
        (uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 | (uint32_t)data[10] << 8 | data[11];
    size_t leaf3 = 12 + blen + 3 * LX_FILL_LEAF_LEN;
    data[leaf3 + 59] ^= 1;
    assert_int_equal(lx__settle_write_file(path, data, len), LX_OK);
    assert_int_equal(lx__settle_read_batch(path, &got, &fills, &nf, &nets, &nn), LX_ECORRUPT);
    assert_null(got);
    data[leaf3 + 59] ^= 1;
    /* truncated */
    assert_int_equal(lx__settle_write_file(path, data, len - 1), LX_OK);
    assert_int_equal(lx__settle_read_batch(path, &got, &fills, &nf, &nets, &nn), LX_ECORRUPT);
    /* a bad magic */
    data[0] = 'X';
    assert_int_equal(lx__settle_write_file(path, data, len), LX_OK);
    assert_int_equal(lx__settle_read_batch(path, &got, &fills, &nf, &nets, &nn), LX_ECORRUPT);
    snprintf(path, sizeof path, "%s/none.batch", dir);
    assert_int_equal(lx__settle_read_batch(path, &got, &fills, &nf, &nets, &nn), LX_ENOTFOUND);
    free(data);
    lx_batch_free(&b);
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/1.json", dir);
    for (int st = LX__BATCH_CLOSED; st <= LX__BATCH_ACCEPTED; st++) {
        lx__batch_record r, got;
        memset(&r, 0, sizeof r);
        r.number = 9;
        memset(r.channel_id, 0xC1, 32);
        r.first_seq = 100;
        r.last_seq = 180;
        r.first_fill = 5000;
        r.fill_count = 77;
        r.deposits = 3;
        r.withdrawals = 1;
        memset(r.hash, 0x5A, 32);
        r.status = (lx__batch_status)st;
        if (st != LX__BATCH_CLOSED) {
            r.has_tx = 1;
            memset(r.tx_id, 0xEE, 32);
        }
        if (st == LX__BATCH_ACCEPTED)
            r.settled_seq = 185;
        assert_int_equal(lx__settle_write_record(path, &r), LX_OK);
        assert_int_equal(lx__settle_read_record(path, &got), LX_OK);
        assert_memory_equal(&got, &r, sizeof r);
    }
    const char *bad = "{\"batch\":1,\"status\":\"maybe\"}";
    assert_int_equal(lx__settle_write_file(path, (const uint8_t *)bad, strlen(bad)), LX_OK);
    lx__batch_record got;
    assert_int_equal(lx__settle_read_record(path, &got), LX_EFORMAT);
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(lx__settle_read_record(path, &got), LX_ENOTFOUND);
}

static void test_read_file_cap(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/big", dir);
    uint8_t data[10000];
    memset(data, 'x', sizeof data);
    assert_int_equal(lx__settle_write_file(path, data, sizeof data), LX_OK);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(lx__settle_read_file(path, &got, &len, 9999), LX_ETOOBIG);
    assert_null(got);
    assert_int_equal(lx__settle_read_file(path, &got, &len, 10000), LX_OK);
    assert_int_equal(len, 10000);
    free(got);
    /* no temporary file is left behind */
    snprintf(path, sizeof path, "%s/big.tmp", dir);
    assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),          cmocka_unit_test(test_batch_roundtrip),
        cmocka_unit_test(test_batch_damaged), cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_read_file_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
