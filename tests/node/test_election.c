/* Tests for the log agreement of node/election.c: the terms of a log's
 * tail, the last seq two logs share, and the seq a majority holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../node/node_int.h"

static lx__terms make(const uint64_t *terms, const uint64_t *firsts, size_t k)
{
    lx__terms t;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < k; i++)
        lx__terms_note(&t, terms[i], firsts[i]);
    return t;
}

static void test_terms_note_and_at(void **state)
{
    (void)state;
    lx__terms t;
    memset(&t, 0, sizeof t);
    assert_int_equal(lx__terms_at(&t, 5, NULL), 0);
    lx__terms_note(&t, 1, 1);
    lx__terms_note(&t, 1, 2); /* the same term goes on: no new run */
    lx__terms_note(&t, 3, 10);
    lx__terms_note(&t, 2, 11); /* an older term never starts a run */
    lx__terms_note(&t, 4, 10); /* nor a run at or before the last start */
    assert_int_equal(t.n, 2);
    uint64_t first;
    assert_int_equal(lx__terms_at(&t, 1, &first), 1);
    assert_int_equal(first, 1);
    assert_int_equal(lx__terms_at(&t, 9, NULL), 1);
    assert_int_equal(lx__terms_at(&t, 10, &first), 3);
    assert_int_equal(first, 10);
    assert_int_equal(lx__terms_at(&t, 1000, NULL), 3);
    assert_int_equal(lx__terms_at(&t, 0, NULL), 0);

    /* The oldest run goes when the list is full. */
    memset(&t, 0, sizeof t);
    for (uint64_t i = 1; i <= LX__TERMS_KEEP + 5; i++)
        lx__terms_note(&t, i, i * 10);
    assert_int_equal(t.n, LX__TERMS_KEEP);
    assert_int_equal(lx__terms_at(&t, 60, NULL), 6);
    assert_int_equal(lx__terms_at(&t, 59, NULL), 0); /* before the tail we keep */
}

static void test_terms_match(void **state)
{
    (void)state;
    /* Same log: the shorter end. */
    uint64_t t1[] = {1, 2}, f1[] = {1, 50};
    lx__terms a = make(t1, f1, 2), b = make(t1, f1, 2);
    assert_int_equal(lx__terms_match(&a, 80, &b, 70), 70);
    assert_int_equal(lx__terms_match(&a, 80, &b, 80), 80);

    /* An old leader (term 1) cut 101..110 alone; the new one (term 2)
     * started at 101: they share up to 100. */
    uint64_t ta[] = {1}, fa[] = {1};
    uint64_t tb[] = {1, 2}, fb[] = {1, 101};
    a = make(ta, fa, 1);
    b = make(tb, fb, 2);
    assert_int_equal(lx__terms_match(&a, 110, &b, 200), 100);
    assert_int_equal(lx__terms_match(&b, 200, &a, 110), 100);
    /* A follower behind the fork shares all it has. */
    assert_int_equal(lx__terms_match(&a, 90, &b, 200), 90);

    /* Three terms: 1 at 1, 2 at 20 (only on a), 3 at 15 on b. */
    uint64_t tc[] = {1, 2}, fc[] = {1, 20};
    uint64_t td[] = {1, 3}, fd[] = {1, 15};
    lx__terms c = make(tc, fc, 2), d = make(td, fd, 2);
    assert_int_equal(lx__terms_match(&c, 30, &d, 40), 14);

    /* Nothing in common at all but term-less history: seq 0. */
    uint64_t te[] = {2}, fe[] = {1};
    uint64_t tf[] = {3}, ff[] = {1};
    lx__terms e = make(te, fe, 1), f = make(tf, ff, 1);
    assert_int_equal(lx__terms_match(&e, 10, &f, 10), 0);

    /* Seqs before a tail we know count as shared (they were compacted or
     * not read: older than anything still open). */
    uint64_t tg[] = {5}, fg[] = {100};
    uint64_t th[] = {6}, fh[] = {120};
    lx__terms g = make(tg, fg, 1), h = make(th, fh, 1);
    assert_int_equal(lx__terms_match(&g, 130, &h, 130), 119);
}

static void test_quorum_seq(void **state)
{
    (void)state;
    lx__node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->cfg.npeers = 4;
    n->nslots = 4;
    n->quorum = 3;
    n->synced_seq = 50;
    uint64_t peers[4] = {10, 70, 40, 0};
    memcpy(n->peer_durable, peers, sizeof peers);
    /* 70, 50, 40, 10, 0: the third highest */
    assert_int_equal(lx__elect_quorum_seq(n), 40);
    n->peer_durable[3] = 60;
    assert_int_equal(lx__elect_quorum_seq(n), 50);
    /* A ring node of a 5-node cluster: two links (slots 0, 1), two nodes
     * reached through them (slots 2, 3) and one routed slot given up (4,
     * "" id). The given-up slot does not count. */
    n->cfg.npeers = 2;
    n->nslots = 5;
    n->quorum = 3;
    snprintf(n->peer_id[2], sizeof n->peer_id[2], "node3");
    snprintf(n->peer_id[3], sizeof n->peer_id[3], "node4");
    uint64_t ring[5] = {10, 20, 45, 30, 99};
    memcpy(n->peer_durable, ring, sizeof ring);
    /* 50 (us), 45, 30, 20, 10: the third highest; the 99 of slot 4 is not
     * counted */
    assert_int_equal(lx__elect_quorum_seq(n), 30);
    n->peer_id[3][0] = 0; /* node4 given up too: 50, 45, 20, 10 */
    assert_int_equal(lx__elect_quorum_seq(n), 20);
    n->cfg.npeers = 0;
    n->nslots = 0;
    n->quorum = 1;
    assert_int_equal(lx__elect_quorum_seq(n), 50);
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_note_and_at),
        cmocka_unit_test(test_terms_match),
        cmocka_unit_test(test_quorum_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
