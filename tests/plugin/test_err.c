/* Tests for the shared error enum: every code has its own description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/plugin.h"

static void test_every_code_described(void **state)
{
    (void)state;
    for (int i = 0; i < LX_ERR_COUNT; i++) {
        const char *s = lx_strerror((lx_err)i);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown error");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, lx_strerror((lx_err)j));
    }
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(lx_strerror(LX_ERR_COUNT), "unknown error");
    assert_string_equal(lx_strerror((lx_err)-1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_described),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
