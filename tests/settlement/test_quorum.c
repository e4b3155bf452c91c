/* Settlement signatures and quorum certificates: thresholds, who counts,
 * the t - 1 / t boundary for several channel sizes, the certificate bytes
 * and the decoder's checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lx/settlement.h"

#define MAXN 10

typedef struct node {
    lx_key *key;
    uint8_t addr[20];
} node;

static int node_cmp(const void *a, const void *b)
{
    return memcmp(((const node *)a)->addr, ((const node *)b)->addr, 20);
}

/* n keys from fixed secrets, sorted by address, and the channel of them. */
static void make_nodes(node *v, size_t n, uint8_t salt, uint8_t *owners, lx_channel *ch)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t seed[3] = {'k', salt, (uint8_t)i}, sec[32], sig[65], tx[32] = {0};
        assert_int_equal(lx_sha256(sec, seed, sizeof seed), LX_OK);
        assert_int_equal(lx_key_import(&v[i].key, sec), LX_OK);
        lx_wipe(sec, sizeof sec);
        assert_int_equal(lx_settle_sign(v[i].key, v[i].addr, sig, tx), LX_OK);
    }
    qsort(v, n, sizeof *v, node_cmp);
    for (size_t i = 0; i < n; i++)
        memcpy(owners + 20 * i, v[i].addr, 20);
    *ch = (lx_channel){n, owners, lx_quorum_threshold(n)};
}

static void free_nodes(node *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lx_key_free(&v[i].key);
}

static void test_threshold(void **state)
{
    (void)state;
    static const uint32_t want[] = {0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7};
    for (size_t n = 0; n <= 10; n++)
        assert_int_equal(lx_quorum_threshold(n), want[n]);
    assert_int_equal(lx_quorum_threshold(64), 43);
    assert_int_equal(lx_quorum_threshold(99), 66);
}

static void test_sign(void **state)
{
    (void)state;
    node v[1];
    uint8_t owners[20], tx[32], sig[65], addr[20], pub[33], want[20];
    lx_channel ch;
    make_nodes(v, 1, 1, owners, &ch);
    memset(tx, 0x3c, sizeof tx);
    assert_int_equal(lx_settle_sign(v[0].key, addr, sig, tx), LX_OK);
    assert_int_equal(lx_key_pubkey(v[0].key, pub), LX_OK);
    assert_int_equal(lx_hash160(want, pub, sizeof pub), LX_OK);
    assert_memory_equal(addr, want, 20);
    assert_int_equal(lx_sig_verify(pub, tx, sig), LX_OK);
    assert_int_equal(lx_settle_sign(NULL, addr, sig, tx), LX_EINVAL);
    lx_key_clear(v[0].key);
    assert_int_equal(lx_settle_sign(v[0].key, addr, sig, tx), LX_ESTATE);
    free_nodes(v, 1);
}

static void boundary(size_t n)
{
    node v[MAXN], other[1];
    uint8_t owners[20 * MAXN], other_owner[20];
    lx_channel ch, och;
    make_nodes(v, n, (uint8_t)(10 + n), owners, &ch);
    make_nodes(other, 1, 99, other_owner, &och);
    uint32_t t = ch.threshold;
    assert_int_equal(t, lx_quorum_threshold(n));
    uint8_t batch[32], tx[32], other_tx[32];
    memset(batch, 0xba, 32);
    memset(tx, (int)n, 32);
    memset(other_tx, 0x77, 32);
    lx_cert *c = NULL;
    assert_int_equal(lx_cert_new(&c, &ch, batch, tx), LX_OK);
    uint8_t sig[65], signer[20], bad[65];

    /* Noise first: a stranger, a signature over another hash, a malformed
     * one, a claim that is not the signer. None counts. */
    assert_int_equal(lx_settle_sign(other[0].key, signer, sig, tx), LX_OK);
    assert_int_equal(lx_cert_add(c, NULL, sig, NULL), LX_EPERM);
    assert_int_equal(lx_settle_sign(v[0].key, signer, sig, other_tx), LX_OK);
    assert_int_equal(lx_cert_add(c, NULL, sig, NULL), LX_EPERM);
    assert_int_equal(lx_cert_add(c, NULL, sig, v[0].addr), LX_ECRYPTO);
    assert_int_equal(lx_settle_sign(v[0].key, signer, sig, tx), LX_OK);
    memcpy(bad, sig, 65);
    bad[64] = 7;
    assert_int_equal(lx_cert_add(c, NULL, bad, NULL), LX_ECRYPTO);
    if (n > 1)
        assert_int_equal(lx_cert_add(c, NULL, sig, v[1].addr), LX_ECRYPTO);
    assert_int_equal(lx_cert_count(c), 0);

    /* t - 1 distinct owners (signing from the top, and each twice): not
     * enough. */
    for (uint32_t k = 0; k + 1 < t; k++) {
        size_t i = n - 1 - k;
        assert_int_equal(lx_settle_sign(v[i].key, signer, sig, tx), LX_OK);
        assert_int_equal(lx_cert_add(c, signer, sig, v[i].addr), LX_OK);
        assert_memory_equal(signer, v[i].addr, 20);
        assert_int_equal(lx_cert_add(c, NULL, sig, NULL), LX_EEXIST);
    }
    assert_int_equal(lx_cert_count(c), t - 1);
    assert_false(lx_cert_complete(c));
    uint32_t idx[MAXN];
    uint8_t sigs[MAXN][65];
    assert_int_equal(lx_cert_pick(c, idx, sigs, MAXN), LX_ESTATE);

    /* An incomplete certificate still encodes and decodes as incomplete. */
    uint8_t enc[LX_CERT_ENC_MAX + 1];
    size_t len;
    lx_cert *d = NULL;
    assert_int_equal(lx_cert_encode(c, enc, sizeof enc, &len), LX_OK);
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_OK);
    assert_false(lx_cert_complete(d));
    lx_cert_free(&d);

    /* The t-th owner: complete. */
    size_t last = n - t; /* the next one down */
    assert_int_equal(lx_settle_sign(v[last].key, signer, sig, tx), LX_OK);
    assert_int_equal(lx_cert_add(c, NULL, sig, NULL), LX_OK);
    assert_int_equal(lx_cert_count(c), t);
    assert_true(lx_cert_complete(c));
    assert_int_equal(lx_cert_pick(c, idx, sigs, t - 1), LX_EINVAL);
    assert_int_equal(lx_cert_pick(c, idx, sigs, MAXN), LX_OK);
    for (uint32_t k = 0; k < t; k++) {
        if (k)
            assert_true(idx[k] > idx[k - 1]);
        uint8_t pub[33], addr[20];
        assert_int_equal(lx_sig_recover(pub, tx, sigs[k]), LX_OK);
        assert_int_equal(lx_hash160(addr, pub, sizeof pub), LX_OK);
        assert_memory_equal(addr, owners + 20 * idx[k], 20);
    }

    /* The encoding: header, then signers in increasing order. */
    assert_int_equal(lx_cert_encode(c, enc, sizeof enc, &len), LX_OK);
    assert_int_equal(len, lx_cert_encoded_len(c));
    assert_int_equal(len, 69 + 85 * (size_t)t);
    assert_int_equal(enc[0], LX_CERT_VERSION);
    assert_memory_equal(enc + 1, batch, 32);
    assert_memory_equal(enc + 33, tx, 32);
    assert_int_equal(enc[68], t);
    for (uint32_t k = 1; k < t; k++)
        assert_true(memcmp(enc + 69 + 85 * (k - 1), enc + 69 + 85 * k, 20) < 0);
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_OK);
    assert_true(lx_cert_complete(d));
    uint8_t enc2[LX_CERT_ENC_MAX], hb[32], ht[32];
    size_t len2;
    assert_int_equal(lx_cert_encode(d, enc2, sizeof enc2, &len2), LX_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(enc2, enc, len);
    assert_int_equal(lx_cert_hashes(d, hb, ht), LX_OK);
    assert_memory_equal(hb, batch, 32);
    assert_memory_equal(ht, tx, 32);
    lx_cert_free(&d);
    assert_null(d);

    /* Decoder rejections. */
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len - 1), LX_EFORMAT);
    enc[len] = 0;
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len + 1), LX_EFORMAT);
    enc[0] = 2;
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_EFORMAT);
    enc[0] = LX_CERT_VERSION;
    enc[66] = 1; /* count 65536 + t */
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_ETOOBIG);
    enc[66] = 0;
    enc[33] ^= 1; /* another tx hash: the signatures recover other keys */
    assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_ECRYPTO);
    enc[33] ^= 1;
    assert_int_equal(lx_cert_decode(&d, &och, enc, len), LX_EPERM); /* other owners */
    if (t >= 2) {
        uint8_t tmp[85];
        memcpy(tmp, enc + 69, 85);
        memcpy(enc + 69, enc + 69 + 85, 85);
        memcpy(enc + 69 + 85, tmp, 85);
        assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_ECANONICAL);
        memcpy(enc + 69 + 85, enc + 69, 85); /* the same signer twice */
        assert_int_equal(lx_cert_decode(&d, &ch, enc, len), LX_ECANONICAL);
    }
    assert_null(d);
    lx_cert_free(&c);
    free_nodes(v, n);
    free_nodes(other, 1);
}

static void test_boundaries(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 3, 4, 5, 10};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        boundary(sizes[i]);
}

static void test_custom_threshold(void **state)
{
    (void)state;
    /* t is the channel's, not always the default: 4 owners, t = 4. */
    node v[4];
    uint8_t owners[80], tx[32] = {9}, batch[32] = {8}, sig[65], signer[20];
    lx_channel ch;
    make_nodes(v, 4, 42, owners, &ch);
    ch.threshold = 4;
    lx_cert *c = NULL;
    assert_int_equal(lx_cert_new(&c, &ch, batch, tx), LX_OK);
    for (size_t i = 0; i < 4; i++) {
        assert_false(lx_cert_complete(c));
        assert_int_equal(lx_settle_sign(v[i].key, signer, sig, tx), LX_OK);
        assert_int_equal(lx_cert_add(c, NULL, sig, signer), LX_OK);
    }
    assert_true(lx_cert_complete(c));
    lx_cert_free(&c);
    ch.threshold = 5;
    assert_int_equal(lx_cert_new(&c, &ch, batch, tx), LX_EINVAL);
    ch.threshold = 0;
    assert_int_equal(lx_cert_new(&c, &ch, batch, tx), LX_EINVAL);
    ch.threshold = 2;
    assert_int_equal(lx_cert_new(&c, &ch, NULL, tx), LX_EINVAL);
    assert_int_equal(lx_cert_add(NULL, NULL, sig, NULL), LX_EINVAL);
    assert_false(lx_cert_complete(NULL));
    free_nodes(v, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_custom_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
