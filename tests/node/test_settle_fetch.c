/* Tests for fetching the files of old settlement batches (node/settle_fetch.c):
 * a node that lacks batches 1-3 fetches them newest first from a peer's
 * answers, in parts, checking each against the hash chain, and ends with
 * the peer's files; a wrong batch, a record that does not say accepted, or
 * a .times file that does not add up is refused and asked for again; a
 * marker keeps the place across a restart, a damaged one is not used;
 * nothing is fetched when the files are there. */
#define _XOPEN_SOURCE 700 /* nftw (test_fs.h) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../node/settle_state.h"
#include "test_fs.h"

static char peer[64], here[64];
static lx_batch *chain[4]; /* batches 1..3, as the peer holds them */
static uint8_t hashes[4][32];
static const char *const ext[] = {".batch", ".json", ".times"};

static void mkdirs(const char *d)
{
    char p[128];
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(p, sizeof p, "%s/settle", d);
    assert_int_equal(mkdir(p, 0755), 0);
}

/* Batches 1-3 of 2, 4 and 6 fills over blocks 1-3, 4-6, 7-9 (in their
 * first two blocks), with their files in peer/settle: accepted records,
 * fill times. */
static int setup(void **state)
{
    (void)state;
    lx_test_tmpdir(peer, sizeof peer, "lx-fetch-peer");
    lx_test_tmpdir(here, sizeof here, "lx-fetch-here");
    assert_int_equal(rmdir(peer), 0);
    assert_int_equal(rmdir(here), 0);
    mkdirs(peer);
    mkdirs(here);
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
    static const int fills[4] = {0, 2, 4, 6};
    uint64_t seq = 1, id = 1;
    for (int k = 1; k <= 3; k++) {
        lx__fill_time ft[8];
        size_t nft = 0;
        for (int i = 0; i < fills[k]; i++, id++) {
            lx_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = LX_EV_FILL;
            ev.side = (uint8_t)(id % 2);
            ev.id = id;
            ev.account = 1 + id % 2;
            ev.u.fill.maker = 100 + id;
            ev.u.fill.maker_account = 2 - id % 2;
            ev.u.fill.price = 10;
            ev.u.fill.qty = 1;
            uint64_t s = seq + (uint64_t)(i >= fills[k] / 2);
            assert_int_equal(lx_batch_builder_add_fill(bb, s, &ev), LX_OK);
            if (nft && ft[nft - 1].seq == s)
                ft[nft - 1].fills++;
            else
                ft[nft++] = (lx__fill_time){s, s * 1000, 1};
        }
        assert_int_equal(lx_batch_builder_close(bb, &chain[k], seq + 2), LX_OK);
        lx_batch_hash(chain[k], hashes[k]);
        char path[256];
        assert_int_equal(lx__settle_path(path, sizeof path, peer, (uint64_t)k, ".batch"), LX_OK);
        assert_int_equal(lx__settle_write_batch(path, chain[k]), LX_OK);
        lx__batch_record r;
        lx__settle_record_of(&r, chain[k]);
        r.status = LX__BATCH_ACCEPTED;
        r.has_tx = 1;
        memset(r.tx_id, 0x50 + k, 32);
        r.settled_seq = seq + 3;
        assert_int_equal(lx__settle_path(path, sizeof path, peer, (uint64_t)k, ".json"), LX_OK);
        assert_int_equal(lx__settle_write_record(path, &r), LX_OK);
        assert_int_equal(lx__settle_path(path, sizeof path, peer, (uint64_t)k, ".times"), LX_OK);
        assert_int_equal(lx__settle_write_times(path, ft, nft), LX_OK);
        seq += 3;
    }
    lx_batch_builder_free(&bb);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 1; k <= 3; k++)
        lx_batch_free(&chain[k]);
    return lx_test_rm_rf(peer) == 0 && lx_test_rm_rf(here) == 0 ? 0 : -1;
}

static uint8_t *file_of(const char *d, uint64_t k, int kind, size_t *len)
{
    char path[256];
    assert_int_equal(lx__settle_path(path, sizeof path, d, k, ext[kind]), LX_OK);
    uint8_t *data = NULL;
    *len = 0;
    if (lx__settle_read_file(path, &data, len, 1 << 20) != LX_OK)
        return NULL;
    return data;
}

/* ---- the checks of one file ---- */

static void test_checks(void **state)
{
    (void)state;
    char why[200];
    lx_batch *b = NULL;
    size_t l1, l2, lr, lt;
    uint8_t *f1 = file_of(peer, 1, 0, &l1), *f2 = file_of(peer, 2, 0, &l2);
    uint8_t *rec = file_of(peer, 2, 1, &lr), *times = file_of(peer, 2, 2, &lt);
    assert_int_equal(lx__settle_fetched_ok(&b, 1, 2, hashes[2], rec, lr, why, sizeof why),
                     LX_EINVAL);
    /* batch 1's file where batch 2 is due, a cut one, a changed one */
    assert_int_equal(lx__settle_fetched_ok(&b, 0, 2, hashes[2], f1, l1, why, sizeof why),
                     LX_ECORRUPT);
    assert_null(b);
    assert_int_equal(lx__settle_fetched_ok(&b, 0, 2, hashes[2], f2, l2 - 1, why, sizeof why),
                     LX_ECORRUPT);
    f2[l2 - 5] ^= 1;
    assert_int_equal(lx__settle_fetched_ok(&b, 0, 2, hashes[2], f2, l2, why, sizeof why),
                     LX_ECORRUPT);
    f2[l2 - 5] ^= 1;
    assert_int_equal(lx__settle_fetched_ok(&b, 0, 2, hashes[2], f2, l2, why, sizeof why), LX_OK);
    assert_non_null(b);
    assert_int_equal(lx__settle_fetched_ok(&b, 1, 2, hashes[2], rec, lr, why, sizeof why), LX_OK);
    assert_int_equal(lx__settle_fetched_ok(&b, 2, 2, hashes[2], times, lt, why, sizeof why), LX_OK);

    /* Records: another batch's, not accepted, another fill count. */
    lx__batch_record r;
    assert_int_equal(lx__settle_parse_record(&r, rec, lr), LX_OK);
    char text[4096], orig[4096];
    assert_true(lr < sizeof orig);
    memcpy(orig, rec, lr);
    orig[lr] = 0;
    struct {
        const char *what;
        const char *from, *to;
    } edits[] = {
        {"another number", "\"batch\":2,", "\"batch\":3,"},
        {"closed", "\"status\":\"accepted\"", "\"status\":\"closed\""},
        {"submitted", "\"status\":\"accepted\"", "\"status\":\"submitted\""},
        {"another fill count", "\"fill_count\":4,", "\"fill_count\":5,"},
        {"settled before its end", "\"settled_seq\":7,", "\"settled_seq\":6,"},
        {"not JSON", "{", "["},
    };
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        char *at = strstr(orig, edits[k].from);
        assert_non_null(at);
        size_t pre = (size_t)(at - orig);
        int n = snprintf(text, sizeof text, "%.*s%s%s", (int)pre, orig, edits[k].to,
                         at + strlen(edits[k].from));
        print_message("  record: %s\n", edits[k].what);
        assert_int_equal(
            lx__settle_fetched_ok(&b, 1, 2, hashes[2], (uint8_t *)text, (size_t)n, why, sizeof why),
            LX_ECORRUPT);
    }
    /* Times: another sum, a block outside, out of order, not numbers. */
    const char *bad_times[] = {
        "4 4000 3\n",        "4 4000 2\n7 7000 2\n",  "5 5000 2\n4 4000 2\n", "4 4000 2\n5 5000 2",
        "4 x 2\n5 5000 2\n", "04 4000 2\n5 5000 2\n", "4 4000 0\n5 5000 4\n"};
    for (size_t k = 0; k < sizeof bad_times / sizeof bad_times[0]; k++)
        assert_int_equal(lx__settle_fetched_ok(&b, 2, 2, hashes[2], (const uint8_t *)bad_times[k],
                                               strlen(bad_times[k]), why, sizeof why),
                         LX_ECORRUPT);
    const char *good = "4 4000 2\n5 5000 2\n";
    assert_int_equal(lx__settle_fetched_ok(&b, 2, 2, hashes[2], (const uint8_t *)good, strlen(good),
                                           why, sizeof why),
                     LX_OK);
    lx_batch_free(&b);
    free(f1);
    free(f2);
    free(rec);
    free(times);
}

/* ---- the whole fetch ---- */

static lx__node *node;
static lx__settle *st;

static void start(uint64_t top)
{
    node = calloc(1, sizeof *node);
    st = calloc(1, sizeof *st);
    snprintf(node->cfg.node_id, sizeof node->cfg.node_id, "t");
    node->cfg.npeers = 1;
    node->nslots = 1;
    node->leader_slot = -1;
    snprintf(node->peer_id[0], sizeof node->peer_id[0], "node0");
    snprintf(st->data_dir, sizeof st->data_dir, "%s", here);
    lx__settle_fetch_init(node, st, top, hashes[top]);
}

static void stop(void)
{
    lx__settle_fetch_free(st);
    free(st);
    free(node);
}

/* The peer answers the request due now with the file from src (in two
 * parts when it is long enough, else whole); 0 when nothing is asked. */
static int answer(const char *src)
{
    if (!st->fetch_number)
        return 0;
    lx__settle_fetch_tick(node, st, lx_now_us());
    assert_int_equal(st->fetch_slot, 0);
    size_t len;
    uint8_t *data = file_of(src, st->fetch_number, st->fetch_kind, &len);
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_BATCH_PART;
    snprintf(m.from, sizeof m.from, "node0");
    m.u.batch_part.number = st->fetch_number;
    m.u.batch_part.kind = st->fetch_kind;
    if (!data) {
        lx__settle_fetch_peer(node, st, &m, 0);
        st->fetch_due_us = 0; /* do not wait the retry out */
        return 1;
    }
    m.u.batch_part.total = len;
    size_t half = len > 200 ? len / 2 : len;
    m.u.batch_part.data = data;
    m.u.batch_part.data_len = (uint32_t)half;
    lx__peer_msg other = m; /* from another peer: ignored */
    lx__settle_fetch_peer(node, st, &other, 1);
    lx__settle_fetch_peer(node, st, &m, 0);
    if (half < len) {
        m.u.batch_part.offset = half;
        m.u.batch_part.data = data + half;
        m.u.batch_part.data_len = (uint32_t)(len - half);
        lx__settle_fetch_peer(node, st, &m, 0);
    }
    free(data);
    return 1;
}

static int same_file(uint64_t k, int kind)
{
    size_t a, b;
    uint8_t *x = file_of(peer, k, kind, &a), *y = file_of(here, k, kind, &b);
    int same = x && y && a == b && memcmp(x, y, a) == 0;
    free(x);
    free(y);
    return same;
}

static int marker_exists(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/settle/fetch", here);
    return access(path, F_OK) == 0;
}

static void test_fetch(void **state)
{
    (void)state;
    start(3);
    assert_int_equal(st->fetch_number, 3);
    assert_true(marker_exists());
    /* batch 3's three files */
    for (int i = 0; i < 3; i++)
        assert_int_equal(answer(peer), 1);
    assert_int_equal(st->fetch_number, 2);
    assert_true(same_file(3, 0) && same_file(3, 1) && same_file(3, 2));

    /* A restart: the marker says batch 2 is next, although 3 is good. */
    stop();
    start(3);
    assert_int_equal(st->fetch_number, 2);

    /* A peer that sends batch 1's file for batch 2 is refused; then a
     * peer without the file; then the right one. */
    char wrong[96];
    snprintf(wrong, sizeof wrong, "%s-wrong", peer);
    mkdirs(wrong);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/settle/%020d.batch %s/settle/%020d.batch", peer, 1, wrong, 2);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(answer(wrong), 1);
    assert_int_equal(st->fetch_number, 2);
    assert_int_equal(st->fetch_kind, 0);
    snprintf(cmd, sizeof cmd, "rm -f %s/settle/*", wrong);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(answer(wrong), 1); /* total 0: no such file */
    assert_int_equal(st->fetch_number, 2);
    assert_int_equal(st->fetch_kind, 0);
    assert_int_equal(answer(peer), 1);
    assert_int_equal(st->fetch_kind, 1);
    /* A record that is not the batch's: asked again. */
    snprintf(cmd, sizeof cmd, "cp %s/settle/%020d.json %s/settle/%020d.json", peer, 3, wrong, 2);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(answer(wrong), 1);
    assert_int_equal(st->fetch_kind, 1);
    assert_int_equal(answer(peer), 1);
    /* No .times there: timing only, the fetch goes on without it. */
    assert_int_equal(st->fetch_kind, 2);
    assert_int_equal(answer(wrong), 1);
    assert_int_equal(st->fetch_number, 1);
    while (answer(peer))
        ;
    assert_int_equal(st->fetch_number, 0);
    assert_false(marker_exists());
    for (int k = 1; k <= 3; k++)
        for (int kind = 0; kind < 3; kind++)
            assert_true(same_file((uint64_t)k, kind) || (k == 2 && kind == 2));
    stop();

    /* Everything there: nothing to fetch, no marker. */
    start(3);
    assert_int_equal(st->fetch_number, 0);
    assert_false(marker_exists());
    stop();

    /* A damaged marker is not used: the walk starts at the top. */
    char path[256];
    snprintf(path, sizeof path, "%s/settle/fetch", here);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("1 not-a-hash\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm %s/settle/%020d.json", here, 3);
    assert_int_equal(system(cmd), 0);
    start(3);
    assert_int_equal(st->fetch_number, 3);
    assert_memory_equal(st->fetch_hash, hashes[3], 32);
    while (answer(peer))
        ;
    assert_true(same_file(3, 1));
    assert_false(marker_exists());
    stop();
    snprintf(cmd, sizeof cmd, "rm -rf %s", wrong);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_fetch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
