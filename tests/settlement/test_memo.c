/* The settlement memo: exact bytes, round trips, and every malformed form
 * the parser must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

static const char hex64[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static lx_err parse(const char *s, uint64_t *n, uint8_t h[32])
{
    return lx_settle_memo_parse(n, h, (const uint8_t *)s, strlen(s));
}

static void test_exact_bytes(void **state)
{
    (void)state;
    uint8_t hash[32], out[LX_SETTLE_MEMO_MAX + 8];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)i;
    size_t len = 0;
    assert_int_equal(lx_settle_memo_encode(out, sizeof out, &len, 1, hash), LX_OK);
    char want[128];
    snprintf(want, sizeof want, "lxdex/settle/v1 1 %s", hex64);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    assert_int_equal(lx_settle_memo_encode(out, sizeof out, &len, 1234567, hash), LX_OK);
    snprintf(want, sizeof want, "lxdex/settle/v1 1234567 %s", hex64);
    assert_memory_equal(out, want, len);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const uint64_t numbers[] = {1, 9, 10, 99, 100, 4294967296u, UINT64_MAX};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        uint8_t hash[32], got[32], out[LX_SETTLE_MEMO_MAX];
        for (int k = 0; k < 32; k++)
            hash[k] = (uint8_t)(0xf7u * (unsigned)k + i);
        size_t len = 0;
        assert_int_equal(lx_settle_memo_encode(out, sizeof out, &len, numbers[i], hash), LX_OK);
        assert_true(len <= LX_SETTLE_MEMO_MAX && len <= 256);
        uint64_t n = 0;
        assert_int_equal(lx_settle_memo_parse(&n, got, out, len), LX_OK);
        assert_int_equal(n, numbers[i]);
        assert_memory_equal(got, hash, 32);
        /* Any single dropped or added byte breaks it. */
        assert_int_equal(lx_settle_memo_parse(&n, got, out, len - 1), LX_EFORMAT);
        assert_int_equal(lx_settle_memo_parse(&n, got, out + 1, len - 1), LX_EFORMAT);
    }
    uint8_t out[LX_SETTLE_MEMO_MAX], hash[32] = {0};
    size_t len;
    assert_int_equal(lx_settle_memo_encode(out, sizeof out, &len, UINT64_MAX, hash), LX_OK);
    assert_int_equal(len, LX_SETTLE_MEMO_MAX);
    assert_int_equal(lx_settle_memo_encode(out, len - 1, &len, UINT64_MAX, hash), LX_EINVAL);
    assert_int_equal(lx_settle_memo_encode(out, sizeof out, &len, 0, hash), LX_EINVAL);
    assert_int_equal(lx_settle_memo_encode(out, sizeof out, &len, 1, NULL), LX_EINVAL);
}

static void test_rejects(void **state)
{
    (void)state;
    uint64_t n = 0;
    uint8_t h[32];
    char s[256];
    snprintf(s, sizeof s, "lxdex/settle/v1 42 %s", hex64);
    assert_int_equal(parse(s, &n, h), LX_OK);
    assert_int_equal(n, 42);
    static const char *const bad_heads[] = {
        "lxdex/settle/v2 42 ",  "lxdex/settle/v1 042 ",
        "lxdex/settle/v1 0 ",   "lxdex/settle/v1  42 ",
        "lxdex/settle/v1 4 2 ", "lxdex/settle/v1 +42 ",
        "lxdex/settle/v1 -1 ",  "lxdex/settle/v1 4x ",
        "LXDEX/settle/v1 42 ",  "lxdex/settle/v1 18446744073709551616 ",
        "lxdex/settle/v1 ",     "lxdex/settle/v142 ",
    };
    for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
        snprintf(s, sizeof s, "%s%s", bad_heads[i], hex64);
        assert_int_equal(parse(s, &n, h), LX_EFORMAT);
    }
    /* Upper case, a bad digit, a short or long hash, trailing bytes. */
    snprintf(s, sizeof s, "lxdex/settle/v1 42 %s", hex64);
    s[strlen(s) - 1] = 'F';
    assert_int_equal(parse(s, &n, h), LX_EFORMAT);
    s[strlen(s) - 1] = 'g';
    assert_int_equal(parse(s, &n, h), LX_EFORMAT);
    snprintf(s, sizeof s, "lxdex/settle/v1 42 %.62s", hex64);
    assert_int_equal(parse(s, &n, h), LX_EFORMAT);
    snprintf(s, sizeof s, "lxdex/settle/v1 42 %s00", hex64);
    assert_int_equal(parse(s, &n, h), LX_EFORMAT);
    snprintf(s, sizeof s, "lxdex/settle/v1 42 %s ", hex64);
    assert_int_equal(parse(s, &n, h), LX_EFORMAT);
    assert_int_equal(parse("", &n, h), LX_EFORMAT);
    assert_int_equal(parse("hello", &n, h), LX_EFORMAT);
    assert_int_equal(lx_settle_memo_parse(NULL, h, (const uint8_t *)s, 5), LX_EINVAL);
    assert_int_equal(lx_settle_memo_parse(&n, h, NULL, 5), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
