/* Tests for CRC32C (node/crc32c.c): the check value and the RFC 3720
 * vectors, continuation, and the instruction path against the software one
 * over every length and alignment up to 300 bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../node/logio.h"

static void test_vectors(void **state)
{
    (void)state;
    uint8_t b[32];
    assert_int_equal(lx__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(lx__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    memset(b, 0, sizeof b);
    assert_int_equal(lx__crc32c(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof b);
    assert_int_equal(lx__crc32c(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    assert_int_equal(lx__crc32c(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    assert_int_equal(lx__crc32c(0, b, 32), 0x113FDB5Cu);
    assert_int_equal(lx__crc32c(0, b, 0), 0);
    assert_int_equal(lx__crc32c(0x12345678u, b, 0), 0x12345678u);
}

static void test_paths_agree(void **state)
{
    (void)state;
    uint8_t buf[320];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 300; len++) {
            uint32_t want = lx__crc32c_sw(0, buf + off, len);
            assert_int_equal(lx__crc32c(0, buf + off, len), want);
            /* In two pieces, split anywhere. */
            size_t cut = len / 3;
            assert_int_equal(lx__crc32c(lx__crc32c(0, buf + off, cut), buf + off + cut, len - cut),
                             want);
        }
    /* Say which path ran, so a log shows it. */
    print_message("crc32c: %s\n", lx__crc32c_hw() ? "SSE4.2 instruction" : "software only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
