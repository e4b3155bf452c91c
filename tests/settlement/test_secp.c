/* secp256k1 keys: import, generate, the reference signature, recovery,
 * verification, high-S and bad-v rejection, and the wipe on clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

static void from_hex(uint8_t *out, size_t n, const char *hex)
{
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static const char ref_sec[] = "56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027";
static const char ref_pub[] = "0327448e78ffa8cdb24cf19be0204ad954b1bdb4db8c51183534c1eecf2ebd094e";
static const char ref_hash[] = "d082f2cfe087d3575be2de2af6db428537d33d9e7d04672442a1f5b5ed6a01f8";
static const char ref_sig[] = "e089e8d8a254e80f0f173ac49b8c5a16101d3fad8d6058e2940439e051c3528e"
                              "15b0c402f26543a51a73980e6b25a25492680c2277aa838d6bc748fd4c5c539000";
/* The group order n. */
static const char order_hex[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

static lx_key *ref_key(void)
{
    uint8_t sec[LX_SECKEY_LEN];
    from_hex(sec, sizeof sec, ref_sec);
    lx_key *key = NULL;
    assert_int_equal(lx_key_import(&key, sec), LX_OK);
    assert_non_null(key);
    return key;
}

static void test_import_and_pubkey(void **state)
{
    (void)state;
    lx_key *key = ref_key();
    uint8_t pub[LX_PUBKEY_LEN], want[LX_PUBKEY_LEN], sec[LX_SECKEY_LEN], want_sec[LX_SECKEY_LEN];
    from_hex(want, sizeof want, ref_pub);
    assert_int_equal(lx_key_pubkey(key, pub), LX_OK);
    assert_memory_equal(pub, want, sizeof pub);
    from_hex(want_sec, sizeof want_sec, ref_sec);
    assert_int_equal(lx_key_export(key, sec), LX_OK);
    assert_memory_equal(sec, want_sec, sizeof sec);
    lx_key_free(&key);
    assert_null(key);
    lx_key_free(&key);
    lx_key_free(NULL);
}

static void test_import_rejects_bad_scalars(void **state)
{
    (void)state;
    uint8_t sec[LX_SECKEY_LEN] = {0};
    lx_key *key = (lx_key *)&key; /* must be overwritten with NULL */
    assert_int_equal(lx_key_import(&key, sec), LX_ECRYPTO);
    assert_null(key);
    from_hex(sec, sizeof sec, order_hex);
    assert_int_equal(lx_key_import(&key, sec), LX_ECRYPTO);
    memset(sec, 0xff, sizeof sec);
    assert_int_equal(lx_key_import(&key, sec), LX_ECRYPTO);
    from_hex(sec, sizeof sec, order_hex);
    sec[31]--; /* n - 1 is the largest valid secret */
    assert_int_equal(lx_key_import(&key, sec), LX_OK);
    lx_key_free(&key);
    assert_int_equal(lx_key_import(NULL, sec), LX_EINVAL);
    assert_int_equal(lx_key_import(&key, NULL), LX_EINVAL);
}

static void test_reference_signature(void **state)
{
    (void)state;
    lx_key *key = ref_key();
    uint8_t hash[32], sig[LX_SIG_LEN], want[LX_SIG_LEN], pub[LX_PUBKEY_LEN], want_pub[33];
    from_hex(hash, sizeof hash, ref_hash);
    from_hex(want, sizeof want, ref_sig);
    from_hex(want_pub, sizeof want_pub, ref_pub);
    assert_int_equal(lx_key_sign(key, sig, hash), LX_OK);
    assert_memory_equal(sig, want, sizeof sig);
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_OK);
    assert_memory_equal(pub, want_pub, sizeof pub);
    assert_int_equal(lx_sig_verify(want_pub, hash, sig), LX_OK);
    lx_key_free(&key);
}

static void test_generate_sign_recover(void **state)
{
    (void)state;
    lx_key *a = NULL, *b = NULL;
    assert_int_equal(lx_key_generate(&a), LX_OK);
    assert_int_equal(lx_key_generate(&b), LX_OK);
    uint8_t pa[LX_PUBKEY_LEN], pb[LX_PUBKEY_LEN], got[LX_PUBKEY_LEN];
    assert_int_equal(lx_key_pubkey(a, pa), LX_OK);
    assert_int_equal(lx_key_pubkey(b, pb), LX_OK);
    assert_true(pa[0] == 2 || pa[0] == 3);
    assert_memory_not_equal(pa, pb, sizeof pa);
    for (int i = 0; i < 64; i++) {
        uint8_t hash[32], sig[LX_SIG_LEN], sig2[LX_SIG_LEN];
        memset(hash, i, sizeof hash);
        hash[0] = (uint8_t)(i * 7 + 1);
        assert_int_equal(lx_key_sign(a, sig, hash), LX_OK);
        assert_true(sig[64] <= 1);
        assert_int_equal(lx_key_sign(a, sig2, hash), LX_OK);
        assert_memory_equal(sig, sig2, sizeof sig); /* deterministic */
        assert_int_equal(lx_sig_recover(got, hash, sig), LX_OK);
        assert_memory_equal(got, pa, sizeof got);
        assert_int_equal(lx_sig_verify(pa, hash, sig), LX_OK);
        assert_int_equal(lx_sig_verify(pb, hash, sig), LX_ECRYPTO);
        hash[5] ^= 1;
        assert_int_equal(lx_sig_verify(pa, hash, sig), LX_ECRYPTO);
        hash[5] ^= 1;
        sig[64] ^= 1; /* the other recovery id gives another key */
        assert_int_equal(lx_sig_verify(pa, hash, sig), LX_ECRYPTO);
    }
    lx_key_free(&a);
    lx_key_free(&b);
}

/* s' = n - s over 32 big-endian bytes. */
static void negate_s(uint8_t s[32])
{
    uint8_t n[32];
    from_hex(n, sizeof n, order_hex);
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - s[i] - borrow;
        borrow = d < 0;
        s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

static void test_high_s_and_bad_v_rejected(void **state)
{
    (void)state;
    uint8_t hash[32], sig[LX_SIG_LEN], pub[LX_PUBKEY_LEN], want_pub[33];
    from_hex(hash, sizeof hash, ref_hash);
    from_hex(sig, sizeof sig, ref_sig);
    from_hex(want_pub, sizeof want_pub, ref_pub);
    /* (r, n - s) with the flipped recovery id is the same signature in its
     * high-S form: mathematically valid, and refused. */
    negate_s(sig + 32);
    sig[64] ^= 1;
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_ECRYPTO);
    assert_int_equal(lx_sig_verify(want_pub, hash, sig), LX_ECRYPTO);
    from_hex(sig, sizeof sig, ref_sig);
    sig[64] = 2;
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_ECRYPTO);
    sig[64] = 27;
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_ECRYPTO);
    from_hex(sig, sizeof sig, ref_sig);
    memset(sig, 0, 32); /* r = 0 */
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_ECRYPTO);
    from_hex(sig, sizeof sig, ref_sig);
    memset(sig + 32, 0xff, 32); /* s >= n */
    assert_int_equal(lx_sig_recover(pub, hash, sig), LX_ECRYPTO);
    assert_int_equal(lx_sig_recover(NULL, hash, sig), LX_EINVAL);
    assert_int_equal(lx_sig_verify(NULL, hash, sig), LX_EINVAL);
}

static void test_wipe(void **state)
{
    (void)state;
    uint8_t buf[77];
    memset(buf, 0xa5, sizeof buf);
    lx_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    lx_wipe(NULL, 5);

    lx_key *key = ref_key();
    uint8_t sec[LX_SECKEY_LEN], zero[LX_SECKEY_LEN] = {0}, hash[32] = {1}, sig[LX_SIG_LEN];
    uint8_t pub[LX_PUBKEY_LEN];
    lx_key_clear(key);
    memset(sec, 0x5a, sizeof sec);
    assert_int_equal(lx_key_export(key, sec), LX_ESTATE);
    assert_memory_equal(sec, zero, sizeof sec); /* the secret bytes are gone */
    assert_int_equal(lx_key_sign(key, sig, hash), LX_ESTATE);
    assert_int_equal(lx_key_pubkey(key, pub), LX_OK);
    lx_key_free(&key);
    lx_key_clear(NULL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lx_key *key = ref_key();
    uint8_t hash[32] = {0}, sig[LX_SIG_LEN];
    assert_int_equal(lx_key_sign(NULL, sig, hash), LX_EINVAL);
    assert_int_equal(lx_key_sign(key, NULL, hash), LX_EINVAL);
    assert_int_equal(lx_key_sign(key, sig, NULL), LX_EINVAL);
    assert_int_equal(lx_key_pubkey(NULL, sig), LX_EINVAL);
    assert_int_equal(lx_key_export(key, NULL), LX_EINVAL);
    assert_int_equal(lx_key_generate(NULL), LX_EINVAL);
    lx_key_free(&key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_and_pubkey),
        cmocka_unit_test(test_import_rejects_bad_scalars),
        cmocka_unit_test(test_reference_signature),
        cmocka_unit_test(test_generate_sign_recover),
        cmocka_unit_test(test_high_s_and_bad_v_rejected),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
