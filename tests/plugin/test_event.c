/* Tests for event lists, the canonical event encoding and reason names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/plugin.h"

static void test_reason_names(void **state)
{
    (void)state;
    assert_string_equal(lx_reason_str(LX_R_INSUFFICIENT_BALANCE), "insufficient_balance");
    assert_string_equal(lx_reason_str(LX_R_POST_ONLY_WOULD_CROSS), "post_only_would_cross");
    assert_string_equal(lx_reason_str(LX_R_BAD_MARKET), "bad_market");
    assert_string_equal(lx_reason_str(LX_R_REPLACE), "replace");
    assert_string_equal(lx_reason_str(LX_R_COUNT), "unknown");
    assert_string_equal(lx_reason_str((lx_reason)-1), "unknown");
    for (int i = 0; i < LX_R_COUNT; i++) {
        const char *s = lx_reason_str((lx_reason)i);
        assert_string_not_equal(s, "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, lx_reason_str((lx_reason)j));
    }
}

static void test_list(void **state)
{
    (void)state;
    lx_events ev;
    lx_events_init(&ev);
    assert_null(ev.v);
    assert_int_equal(ev.n, 0);
    lx_engine_config cfg = {0};
    lx_engine *e;
    assert_int_equal(lx_engine_new(&e, &cfg), LX_OK);
    lx_cmd c;
    memset(&c, 0, sizeof c);
    c.type = LX_CMD_CANCEL;
    c.u.cancel.id = 5;
    for (int i = 0; i < 100; i++)
        assert_int_equal(lx_engine_apply(e, &ev, &c), LX_OK);
    assert_int_equal(ev.n, 100); /* the engine appends */
    assert_true(ev.cap >= 100);
    size_t cap = ev.cap;
    lx_events_clear(&ev);
    assert_int_equal(ev.n, 0);
    assert_int_equal(ev.cap, cap);
    lx_events_free(&ev);
    assert_null(ev.v);
    assert_int_equal(ev.cap, 0);
    lx_engine_free(&e);
}

static void test_encode(void **state)
{
    (void)state;
    lx_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = LX_EV_FILL;
    ev.cmd = LX_CMD_ORDER;
    ev.side = LX_SELL;
    ev.market = 0x01020304;
    ev.id = 0x1122334455667788ull;
    ev.account = 9;
    ev.u.fill.maker = 1;
    ev.u.fill.maker_account = 2;
    ev.u.fill.price = 3;
    ev.u.fill.qty = 4;
    ev.u.fill.maker_fee = 5;
    ev.u.fill.taker_fee = 0xffu << 8;
    uint8_t buf[LX_EVENT_ENC_MAX];
    assert_int_equal(lx_event_encode(buf, sizeof buf, &ev), 72);
    const uint8_t head[] = {LX_EV_FILL, LX_CMD_ORDER, LX_SELL, 0,    1,    2,    3,    4,
                            0x11,       0x22,         0x33,    0x44, 0x55, 0x66, 0x77, 0x88};
    assert_memory_equal(buf, head, sizeof head);
    assert_int_equal(buf[23], 9);
    assert_int_equal(buf[31], 1);
    assert_int_equal(buf[70], 0xff);
    assert_int_equal(buf[71], 0);
    assert_int_equal(lx_event_encode(buf, 71, &ev), 0); /* too small */

    size_t want[7] = {40, 24, 72, 32, 40, 48, 24}; /* per lx_event_type */
    for (uint8_t t = 0; t < 7; t++) {
        ev.type = t;
        assert_int_equal(lx_event_encode(buf, sizeof buf, &ev), want[t]);
        assert_true(want[t] <= LX_EVENT_ENC_MAX);
    }
    ev.type = 7;
    assert_int_equal(lx_event_encode(buf, sizeof buf, &ev), 0);
    assert_int_equal(lx_event_encode(NULL, 80, &ev), 0);
    /* Different payloads give different bytes. */
    uint8_t other[LX_EVENT_ENC_MAX];
    ev.type = LX_EV_CANCELLED;
    ev.u.cancel.remaining = 1;
    lx_event_encode(buf, sizeof buf, &ev);
    ev.u.cancel.remaining = 2;
    lx_event_encode(other, sizeof other, &ev);
    assert_memory_not_equal(buf, other, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
