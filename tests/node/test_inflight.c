/* Tests for the load client's in-flight table (node/inflight.c): req_ids,
 * lookups, open counts, growth, slot reuse and expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/node.h"

#define EXPIRE 1000u /* ns, for the tests' frames */

/* Opens a frame and checks it got the expected req_id. */
static lx_inflight_frame *add(lx_inflight *f, uint64_t *expired, lx_inflight_kind kind,
                              uint32_t norders, uint64_t now, uint64_t want_req)
{
    lx_inflight_frame *fr = NULL;
    assert_int_equal(lx_inflight_add(f, &fr, expired, kind, 3, norders, now, EXPIRE), LX_OK);
    assert_non_null(fr);
    assert_int_equal(fr->req_id, want_req);
    return fr;
}

static void test_inflight_new_args(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(NULL, 4), LX_EINVAL);
    assert_int_equal(lx_inflight_new(&f, 0), LX_EINVAL);
    assert_null(f);
    assert_int_equal(lx_inflight_new(&f, 5), LX_OK);
    assert_int_equal(lx_inflight_capacity(f), 8); /* rounded up to a power of two */
    assert_int_equal(lx_inflight_open(f, 0), 0);
    lx_inflight_frame *fr = NULL;
    uint64_t expired = 0;
    assert_int_equal(lx_inflight_add(f, &fr, &expired, (lx_inflight_kind)0, 0, 0, 0, EXPIRE),
                     LX_EINVAL);
    assert_int_equal(lx_inflight_add(f, &fr, &expired, LX_INFLIGHT_KIND_COUNT, 0, 0, 0, EXPIRE),
                     LX_EINVAL);
    assert_int_equal(lx_inflight_add(f, &fr, NULL, LX_INFLIGHT_PING, 0, 0, 0, EXPIRE), LX_EINVAL);
    assert_int_equal(lx_inflight_open(f, 0), 0);
    lx_inflight_free(&f);
    assert_null(f);
    lx_inflight_free(&f); /* NULL is fine */
}

static void test_inflight_add_find_close(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 16), LX_OK);
    uint64_t expired = 0;
    lx_inflight_frame *o = add(f, &expired, LX_INFLIGHT_ORDER, 5, 100, 1);
    assert_int_equal(o->state, LX_INFLIGHT_WAIT);
    assert_int_equal(o->kind, LX_INFLIGHT_ORDER);
    assert_int_equal(o->node, 3);
    assert_int_equal(o->norders, 5);
    assert_int_equal(o->sent_ns, 100);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 101, 2);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 102, 3);
    add(f, &expired, LX_INFLIGHT_DEPOSIT, 0, 103, 4);
    assert_int_equal(lx_inflight_open(f, 0), 4);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 1);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_CANCEL), 2);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_DEPOSIT), 1);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_PING), 0);
    assert_int_equal(lx_inflight_open(f, 99), 0);

    /* Unknown req_ids: 0, not yet handed out, far beyond. */
    assert_null(lx_inflight_find(f, 0));
    assert_null(lx_inflight_find(f, 5));
    assert_null(lx_inflight_find(f, 1 + 16));

    lx_inflight_frame *c = lx_inflight_find(f, 2);
    assert_non_null(c);
    assert_int_equal(c->kind, LX_INFLIGHT_CANCEL);
    lx_inflight_close(f, c);
    assert_null(lx_inflight_find(f, 2)); /* a late second reply is stray */
    assert_int_equal(lx_inflight_open(f, 0), 3);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_CANCEL), 1);
    assert_non_null(lx_inflight_find(f, 3));
    assert_int_equal(expired, 0);
    lx_inflight_free(&f);
}

static void test_inflight_unanswered_orders(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 8), LX_OK);
    uint64_t expired = 0;
    add(f, &expired, LX_INFLIGHT_ORDER, 4, 0, 1);
    add(f, &expired, LX_INFLIGHT_ORDER, 7, 0, 2);
    add(f, &expired, LX_INFLIGHT_ORDER, 64, 0, 3);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 0, 4);
    assert_int_equal(lx_inflight_unanswered_orders(f), 4 + 7 + 64);
    /* Answered (closed) and partly answered (TAIL) frames are not waiting. */
    lx_inflight_close(f, lx_inflight_find(f, 1));
    lx_inflight_find(f, 3)->state = LX_INFLIGHT_TAIL;
    assert_int_equal(lx_inflight_unanswered_orders(f), 7);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 2);
    lx_inflight_free(&f);
}

/* A full ring whose oldest frame is young doubles and keeps every frame. */
static void test_inflight_grows(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 4), LX_OK);
    uint64_t expired = 0;
    for (uint64_t r = 1; r <= 4; r++)
        add(f, &expired, LX_INFLIGHT_ORDER, (uint32_t)r, 0, r);
    assert_int_equal(lx_inflight_capacity(f), 4);
    /* now - sent == EXPIRE is not yet expired. */
    add(f, &expired, LX_INFLIGHT_ORDER, 5, EXPIRE, 5);
    assert_int_equal(lx_inflight_capacity(f), 8);
    assert_int_equal(expired, 0);
    for (uint64_t r = 1; r <= 5; r++) {
        lx_inflight_frame *fr = lx_inflight_find(f, r);
        assert_non_null(fr);
        assert_int_equal(fr->norders, r);
        assert_int_equal(fr->state, LX_INFLIGHT_WAIT);
    }
    assert_int_equal(lx_inflight_open(f, 0), 5);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 5);
    lx_inflight_free(&f);
}

/* Closed frames at the low end free their slots: no growth, no expiry. */
static void test_inflight_reuses_closed_slots(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 4), LX_OK);
    uint64_t expired = 0;
    for (uint64_t r = 1; r <= 4; r++)
        add(f, &expired, LX_INFLIGHT_ORDER, 1, 0, r);
    lx_inflight_close(f, lx_inflight_find(f, 1));
    lx_inflight_close(f, lx_inflight_find(f, 2));
    add(f, &expired, LX_INFLIGHT_ORDER, 1, 10 * EXPIRE, 5);
    add(f, &expired, LX_INFLIGHT_ORDER, 1, 10 * EXPIRE, 6);
    assert_int_equal(lx_inflight_capacity(f), 4);
    assert_int_equal(expired, 0);
    assert_non_null(lx_inflight_find(f, 3));
    assert_non_null(lx_inflight_find(f, 6));
    assert_null(lx_inflight_find(f, 1));
    assert_null(lx_inflight_find(f, 2)); /* its slot now holds req_id 6 */
    assert_int_equal(lx_inflight_open(f, 0), 4);
    lx_inflight_free(&f);
}

/* A full ring whose oldest frame is older than expire_ns drops it; a waiting
 * order frame's orders are counted, anything else is not. */
static void test_inflight_expires_oldest(void **state)
{
    (void)state;
    lx_inflight *f = NULL;
    assert_int_equal(lx_inflight_new(&f, 4), LX_OK);
    uint64_t expired = 0;
    add(f, &expired, LX_INFLIGHT_ORDER, 7, 0, 1);
    add(f, &expired, LX_INFLIGHT_ORDER, 9, 0, 2);
    add(f, &expired, LX_INFLIGHT_CANCEL, 0, 0, 3);
    add(f, &expired, LX_INFLIGHT_ORDER, 11, 5 * EXPIRE, 4);
    lx_inflight_find(f, 2)->state = LX_INFLIGHT_TAIL; /* answered, tail pending */

    add(f, &expired, LX_INFLIGHT_PING, 0, EXPIRE + 1, 5);
    assert_int_equal(expired, 7);
    assert_null(lx_inflight_find(f, 1));
    assert_int_equal(lx_inflight_capacity(f), 4);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_ORDER), 2);

    add(f, &expired, LX_INFLIGHT_PING, 0, EXPIRE + 1, 6); /* drops the TAIL order */
    assert_int_equal(expired, 7);
    assert_null(lx_inflight_find(f, 2));
    add(f, &expired, LX_INFLIGHT_PING, 0, EXPIRE + 1, 7); /* drops the cancel */
    assert_int_equal(expired, 7);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_CANCEL), 0);
    assert_int_equal(lx_inflight_capacity(f), 4);

    /* Frame 4 was sent at 5 * EXPIRE: too young, so the ring grows. */
    add(f, &expired, LX_INFLIGHT_PING, 0, 5 * EXPIRE + 1, 8);
    assert_int_equal(lx_inflight_capacity(f), 8);
    assert_int_equal(expired, 7);
    assert_non_null(lx_inflight_find(f, 4));
    assert_int_equal(lx_inflight_open(f, 0), 5);
    assert_int_equal(lx_inflight_open(f, LX_INFLIGHT_PING), 4);
    assert_int_equal(lx_inflight_unanswered_orders(f), 11);
    lx_inflight_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflight_new_args),
        cmocka_unit_test(test_inflight_add_find_close),
        cmocka_unit_test(test_inflight_unanswered_orders),
        cmocka_unit_test(test_inflight_grows),
        cmocka_unit_test(test_inflight_reuses_closed_slots),
        cmocka_unit_test(test_inflight_expires_oldest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
