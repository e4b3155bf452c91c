/* Tests for the deposit side of settlement (node/settle_watch.c): the
 * deposit memo names an account in exactly one form, and anything else
 * (which the node credits to the suspense account) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../node/settle_int.h"

static lx_err parse(uint64_t *account, const char *memo)
{
    return lx__deposit_memo_parse(account, (const uint8_t *)memo, strlen(memo));
}

static void test_memo_ok(void **state)
{
    (void)state;
    uint64_t a = 1;
    assert_int_equal(parse(&a, "lxdex/deposit/v1 777"), LX_OK);
    assert_int_equal(a, 777);
    assert_int_equal(parse(&a, "lxdex/deposit/v1 0"), LX_OK);
    assert_int_equal(a, 0);
    assert_int_equal(parse(&a, "lxdex/deposit/v1 18446744073709551615"), LX_OK);
    assert_true(a == UINT64_MAX);
}

static void test_memo_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "lxdex/deposit/v1",
        "lxdex/deposit/v1 ",
        "lxdex/deposit/v1 007",                  /* leading zeros */
        "lxdex/deposit/v1 7 ",                   /* trailing space */
        "lxdex/deposit/v1  7",                   /* two spaces */
        "lxdex/deposit/v1 -7",                   /* a sign */
        "lxdex/deposit/v1 7a",                   /* not decimal */
        "lxdex/deposit/v1 18446744073709551616", /* 2^64 */
        "lxdex/deposit/v2 7",                    /* another version */
        "LXDEX/deposit/v1 7",                    /* another tag */
        "lxdex/settle/v1 7 00",                  /* a settlement memo */
        "for my account please",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint64_t a = 42;
        if (parse(&a, bad[i]) != LX_EFORMAT)
            fail_msg("memo \"%s\" was accepted", bad[i]);
        assert_int_equal(a, 42);
    }
    uint64_t a;
    /* a NUL inside is not a digit */
    assert_int_equal(lx__deposit_memo_parse(&a, (const uint8_t *)"lxdex/deposit/v1 7\0", 19),
                     LX_EFORMAT);
    assert_int_equal(lx__deposit_memo_parse(NULL, (const uint8_t *)"x", 1), LX_EINVAL);
    assert_int_equal(lx__deposit_memo_parse(&a, NULL, 3), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memo_ok),
        cmocka_unit_test(test_memo_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
