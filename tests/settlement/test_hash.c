/* Known answers for SHA-256 (one-shot and incremental), RIPEMD-160 and
 * hash160. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

static void to_hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void check_sha256(const char *msg, const char *want)
{
    uint8_t h[LX_SHA256_LEN];
    char hex[2 * LX_SHA256_LEN + 1];
    assert_int_equal(lx_sha256(h, msg, strlen(msg)), LX_OK);
    to_hex(hex, h, sizeof h);
    assert_string_equal(hex, want);
}

static void check_ripemd160(const char *msg, const char *want)
{
    uint8_t h[LX_RIPEMD160_LEN];
    char hex[2 * LX_RIPEMD160_LEN + 1];
    assert_int_equal(lx_ripemd160(h, msg, strlen(msg)), LX_OK);
    to_hex(hex, h, sizeof h);
    assert_string_equal(hex, want);
}

static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char two_blocks_sha[] =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

static void test_sha256_vectors(void **state)
{
    (void)state;
    check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha256(two_blocks, two_blocks_sha);
    uint8_t h[LX_SHA256_LEN];
    assert_int_equal(lx_sha256(h, NULL, 0), LX_OK);
    assert_int_equal(lx_sha256(h, NULL, 1), LX_EINVAL);
    assert_int_equal(lx_sha256(NULL, "a", 1), LX_EINVAL);
}

static void test_sha256_million_a(void **state)
{
    (void)state;
    static char buf[1000000];
    memset(buf, 'a', sizeof buf);
    uint8_t h[LX_SHA256_LEN];
    char hex[2 * LX_SHA256_LEN + 1];
    assert_int_equal(lx_sha256(h, buf, sizeof buf), LX_OK);
    to_hex(hex, h, sizeof h);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_incremental(void **state)
{
    (void)state;
    lx_sha256_ctx *ctx = NULL;
    assert_int_equal(lx_sha256_new(&ctx), LX_OK);
    size_t n = strlen(two_blocks);
    char hex[2 * LX_SHA256_LEN + 1];
    /* Every split point, and the context reused after each final. */
    for (size_t cut = 0; cut <= n; cut++) {
        uint8_t h[LX_SHA256_LEN];
        assert_int_equal(lx_sha256_update(ctx, two_blocks, cut), LX_OK);
        assert_int_equal(lx_sha256_update(ctx, two_blocks + cut, n - cut), LX_OK);
        assert_int_equal(lx_sha256_final(ctx, h), LX_OK);
        to_hex(hex, h, sizeof h);
        assert_string_equal(hex, two_blocks_sha);
    }
    uint8_t h[LX_SHA256_LEN];
    assert_int_equal(lx_sha256_final(ctx, h), LX_OK);
    to_hex(hex, h, sizeof h);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(lx_sha256_update(ctx, NULL, 3), LX_EINVAL);
    assert_int_equal(lx_sha256_update(NULL, "a", 1), LX_EINVAL);
    lx_sha256_free(&ctx);
    assert_null(ctx);
    lx_sha256_free(&ctx);
    lx_sha256_free(NULL);
    assert_int_equal(lx_sha256_new(NULL), LX_EINVAL);
}

static void test_ripemd160_vectors(void **state)
{
    (void)state;
    check_ripemd160("", "9c1185a5c5e9fc54612808977ee8f548b2258d31");
    check_ripemd160("a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe");
    check_ripemd160("abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc");
    check_ripemd160("message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36");
    check_ripemd160("abcdefghijklmnopqrstuvwxyz", "f71c27109c692c1b56bbdceb5b9d2865b3708dbc");
    check_ripemd160(
        "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        "9b752e45573d4b39f4dbd3323cab82bf63326bfb");
}

static void test_hash160(void **state)
{
    (void)state;
    /* The X-Chain reference key's compressed pubkey and its address. */
    static const uint8_t pub[33] = {0x03, 0x27, 0x44, 0x8e, 0x78, 0xff, 0xa8, 0xcd, 0xb2,
                                    0x4c, 0xf1, 0x9b, 0xe0, 0x20, 0x4a, 0xd9, 0x54, 0xb1,
                                    0xbd, 0xb4, 0xdb, 0x8c, 0x51, 0x18, 0x35, 0x34, 0xc1,
                                    0xee, 0xcf, 0x2e, 0xbd, 0x09, 0x4e};
    uint8_t h[LX_HASH160_LEN];
    char hex[2 * LX_HASH160_LEN + 1];
    assert_int_equal(lx_hash160(h, pub, sizeof pub), LX_OK);
    to_hex(hex, h, sizeof h);
    assert_string_equal(hex, "3cb7d3842e8cee6a0ebd09f1fe884f6861e1b29c");
    assert_int_equal(lx_hash160(NULL, pub, sizeof pub), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_sha256_incremental),
        cmocka_unit_test(test_ripemd160_vectors),
        cmocka_unit_test(test_hash160),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
