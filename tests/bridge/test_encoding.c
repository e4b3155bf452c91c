/* Known answers for hex, hex with checksum, base58, cb58, bech32 (BIP-173)
 * and X-Chain addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lx/bridge.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = 0;
    assert_int_equal(lx_hex_decode(out, cap, &n, hex), LX_OK);
    return n;
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t b[8];
    char s[32];
    size_t n = 0;
    assert_int_equal(lx_hex_decode(b, sizeof b, &n, "0x00FFa5"), LX_OK);
    assert_int_equal(n, 3);
    assert_int_equal(lx_hex_encode(s, sizeof s, b, n), LX_OK);
    assert_string_equal(s, "00ffa5");
    assert_int_equal(lx_hex_len(3), 7);
    assert_int_equal(lx_hex_encode(s, 6, b, 3), LX_EINVAL);
    assert_int_equal(lx_hex_decode(b, sizeof b, &n, "abc"), LX_EFORMAT);
    assert_int_equal(lx_hex_decode(b, sizeof b, &n, "zz"), LX_EFORMAT);
    assert_int_equal(lx_hex_decode(b, 1, &n, "0000"), LX_EINVAL);
}

static void test_hex_checksum(void **state)
{
    (void)state;
    /* The txID of the reference tx ends with the checksum of the signed bytes,
     * since both are the tail of sha256(signed). Here: the checksum of "abc"
     * is the last 4 bytes of its SHA-256, ...f20015ad. */
    char s[64];
    assert_int_equal(lx_hexcs_encode(s, sizeof s, (const uint8_t *)"abc", 3), LX_OK);
    assert_string_equal(s, "0x616263f20015ad");
    assert_int_equal(lx_hexcs_len(3), strlen(s) + 1);
    uint8_t b[16];
    size_t n = 0;
    assert_int_equal(lx_hexcs_decode(b, sizeof b, &n, s), LX_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(lx_hexcs_decode(b, sizeof b, &n, "0x616263f20015ae"), LX_ECORRUPT);
    assert_int_equal(lx_hexcs_decode(b, sizeof b, &n, "616263f20015ad"), LX_EFORMAT);
    assert_int_equal(lx_hexcs_decode(b, sizeof b, &n, "0x6162"), LX_EFORMAT);
    assert_int_equal(lx_hexcs_decode(b, sizeof b, &n, "0x616263f20015a"), LX_EFORMAT);
    assert_int_equal(lx_hexcs_decode(b, 2, &n, s), LX_EINVAL);
    assert_int_equal(lx_hexcs_encode(s, 10, (const uint8_t *)"abc", 3), LX_EINVAL);
    /* empty payload */
    assert_int_equal(lx_hexcs_encode(s, sizeof s, NULL, 0), LX_OK);
    assert_string_equal(s, "0x7852b855");
}

static void b58_case(const char *hex, const char *want)
{
    uint8_t b[128], back[128];
    size_t n = unhex(b, sizeof b, hex), m = 0;
    char s[256];
    assert_int_equal(lx_base58_encode(s, sizeof s, b, n), LX_OK);
    assert_string_equal(s, want);
    assert_true(strlen(s) + 1 <= lx_base58_len(n));
    assert_int_equal(lx_base58_decode(back, sizeof back, &m, want), LX_OK);
    assert_int_equal(m, n);
    assert_memory_equal(back, b, n);
}

static void test_base58(void **state)
{
    (void)state;
    b58_case("", "");
    b58_case("00", "1");
    b58_case("0000287fb4cd", "11233QC4");
    b58_case("48656c6c6f20576f726c6421", "2NEpo7TZRRrLZSi2U");
    b58_case("54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920"
             "646f67",
             "7DdiPPYtxLjCD3wA1po2rvZHTDYjkZYiEtazrfiwJcwnKCizhGFhBGHeRdx");
    b58_case("516b6fcd0f", "ABnLTmg");
    uint8_t b[8];
    size_t n = 0;
    assert_int_equal(lx_base58_decode(b, sizeof b, &n, "0OIl"), LX_EFORMAT);
    assert_int_equal(lx_base58_decode(b, 1, &n, "ABnLTmg"), LX_EINVAL);
    char s[4];
    assert_int_equal(lx_base58_encode(s, sizeof s, (const uint8_t *)"\x51\x6b\x6f", 3), LX_EINVAL);
}

static void test_cb58_ids(void **state)
{
    (void)state;
    uint8_t id[32], back[32];
    unhex(id, sizeof id, "452b3044751772742459621f1acc2b12f4ef8ef95f2de335f142825ad736b6cb");
    char s[LX_CB58_ID_MAX];
    assert_int_equal(lx_id_to_cb58(s, id), LX_OK);
    assert_string_equal(s, "XTpfLcopyefkRWbFpTSHr6Dyc89cvSq8Q1bsqHcrWVUmBHeSq");
    assert_int_equal(lx_id_from_cb58(back, s), LX_OK);
    assert_memory_equal(back, id, 32);
    /* one character changed: the checksum catches it */
    assert_int_equal(lx_id_from_cb58(back, "XTpfLcopyefkRWbFpTSHr6Dyc89cvSq8Q1bsqHcrWVUmBHeSr"),
                     LX_ECORRUPT);
    /* a valid cb58 string that is not 32 bytes */
    char small[LX_CB58_ID_MAX];
    assert_int_equal(lx_cb58_encode(small, sizeof small, id, 31), LX_OK);
    assert_int_equal(lx_id_from_cb58(back, small), LX_EFORMAT);
    assert_int_equal(lx_id_from_cb58(back, "1"), LX_EFORMAT);
    /* the zero ID */
    memset(id, 0, sizeof id);
    assert_int_equal(lx_id_to_cb58(s, id), LX_OK);
    assert_string_equal(s, "11111111111111111111111111111111LpoYY");
}

static void test_bech32_valid(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tg"
        "s",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11"
        "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
        "c8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char hrp[100], again[100];
        uint8_t d5[100];
        size_t n = 0;
        assert_int_equal(lx_bech32_decode5(hrp, sizeof hrp, d5, sizeof d5, &n, valid[i]), LX_OK);
        assert_int_equal(lx_bech32_encode5(again, sizeof again, hrp, d5, n), LX_OK);
        /* re-encoding gives the lower-case form */
        assert_int_equal(strlen(again), strlen(valid[i]));
        for (size_t k = 0; k < strlen(again); k++) {
            char c = valid[i][k];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            assert_int_equal(again[k], c);
        }
    }
    /* the charset in order: 32 values = 20 bytes */
    char hrp[16];
    uint8_t b[32];
    size_t n = 0;
    assert_int_equal(lx_bech32_decode(hrp, sizeof hrp, b, sizeof b, &n,
                                      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"),
                     LX_OK);
    assert_int_equal(n, 20);
    assert_string_equal(hrp, "abcdef");
    uint8_t want[20];
    unhex(want, sizeof want, "00443214c74254b635cf84653a56d7c675be77df");
    assert_memory_equal(b, want, 20);
}

static void test_bech32_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        lx_err err;
    } bad[] = {
        {"\x20"
         "1nwldj5",
         LX_EFORMAT},
        {"\x7f"
         "1axkwrx",
         LX_EFORMAT},
        {"\x80"
         "1eym55h",
         LX_EFORMAT},
        {"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569p"
         "vx",
         LX_ETOOBIG},
        {"pzry9x0s0muk", LX_EFORMAT},
        {"1pzry9x0s0muk", LX_EFORMAT},
        {"x1b4n0q5v", LX_EFORMAT},
        {"li1dgmt3", LX_EFORMAT},
        {"de1lg7wt\xff", LX_EFORMAT},
        {"A1G7SGD8", LX_ECORRUPT},
        {"10a06t8", LX_EFORMAT},
        {"1qzzfhee", LX_EFORMAT},
        {"a12UEL5L", LX_EFORMAT}, /* mixed case */
        {"a12uel5m", LX_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char hrp[100];
        uint8_t d5[100];
        size_t n = 0;
        assert_int_equal(lx_bech32_decode5(hrp, sizeof hrp, d5, sizeof d5, &n, bad[i].s),
                         bad[i].err);
    }
    /* valid checksum, but 8-bit regrouping leaves nonzero padding: "?1ezyfcl"
     * has no data; "a12uel5l" neither. Use a 1-value payload: 5 bits cannot
     * form a byte. */
    char s[32], hrp[8];
    uint8_t one = 31, b[8];
    size_t n = 0;
    assert_int_equal(lx_bech32_encode5(s, sizeof s, "a", &one, 1), LX_OK);
    assert_int_equal(lx_bech32_decode(hrp, sizeof hrp, b, sizeof b, &n, s), LX_EFORMAT);
}

static void test_address(void **state)
{
    (void)state;
    uint8_t pub[33], addr[20], want[20], back[20];
    unhex(pub, sizeof pub, "0327448e78ffa8cdb24cf19be0204ad954b1bdb4db8c51183534c1eecf2ebd094e");
    unhex(want, sizeof want, "3cb7d3842e8cee6a0ebd09f1fe884f6861e1b29c");
    assert_int_equal(lx_address_from_pubkey(addr, pub), LX_OK);
    assert_memory_equal(addr, want, 20);
    char s[LX_ADDR_STR_MAX];
    const char *text = "X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u";
    assert_int_equal(lx_address_encode(s, sizeof s, "X", "local", addr), LX_OK);
    assert_string_equal(s, text);
    assert_int_equal(lx_address_decode(back, "X", "local", text), LX_OK);
    assert_memory_equal(back, addr, 20);
    assert_int_equal(lx_address_decode(back, "X", NULL, text), LX_OK);
    assert_int_equal(lx_address_decode(back, NULL, "local", text + 2), LX_OK);
    assert_int_equal(lx_address_encode(s, sizeof s, NULL, "local", addr), LX_OK);
    assert_string_equal(s, text + 2);
    assert_int_equal(lx_address_decode(back, "X", "lux", text), LX_EFORMAT);
    assert_int_equal(lx_address_decode(back, "P", "local", text), LX_EFORMAT);
    assert_int_equal(lx_address_decode(back, "X", "local", text + 2), LX_EFORMAT);
    assert_int_equal(
        lx_address_decode(back, "X", "local", "X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96v"),
        LX_ECORRUPT);
    /* a valid bech32 string whose payload is not 20 bytes */
    assert_int_equal(lx_bech32_encode(s, sizeof s, "local", addr, 19), LX_OK);
    assert_int_equal(lx_address_decode(back, NULL, "local", s), LX_EFORMAT);
    assert_int_equal(lx_address_encode(s, 10, "X", "local", addr), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),          cmocka_unit_test(test_hex_checksum),
        cmocka_unit_test(test_base58),       cmocka_unit_test(test_cb58_ids),
        cmocka_unit_test(test_bech32_valid), cmocka_unit_test(test_bech32_invalid),
        cmocka_unit_test(test_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
