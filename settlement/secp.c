/* The libsecp256k1 adapter: secret keys, compressed public keys, recoverable
 * RFC 6979 signatures with low S. No other file includes a secp256k1 header. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "lx/settlement.h"

struct lx_key {
    uint8_t sec[LX_SECKEY_LEN];
    uint8_t pub[LX_PUBKEY_LEN];
    bool cleared;
};

/* memset through a volatile pointer: the compiler must assume the call has an
 * effect, so it cannot drop a wipe of memory that is freed right after. */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

void lx_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        wipe_memset(p, 0, n);
}

static lx_err fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return LX_EIO;
        }
        got += (size_t)n;
    }
    return LX_OK;
}

/* One context for the whole process. Created once; randomized once for side
 * channel blinding; afterwards only read, which libsecp256k1 allows from many
 * threads at once. Creating a context per call would cost as much as a
 * signature. */
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static secp256k1_context *ctx_shared;

static void ctx_init(void)
{
    secp256k1_context *c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (c == NULL)
        return;
    uint8_t seed[32];
    if (fill_random(seed, sizeof seed) != LX_OK || !secp256k1_context_randomize(c, seed)) {
        secp256k1_context_destroy(c);
        lx_wipe(seed, sizeof seed);
        return;
    }
    lx_wipe(seed, sizeof seed);
    ctx_shared = c;
}

static const secp256k1_context *ctx_get(void)
{
    if (pthread_once(&ctx_once, ctx_init) != 0)
        return NULL;
    return ctx_shared;
}

static lx_err key_from_secret(lx_key **key, const uint8_t sec[LX_SECKEY_LEN])
{
    const secp256k1_context *c = ctx_get();
    if (c == NULL)
        return LX_ECRYPTO;
    if (!secp256k1_ec_seckey_verify(c, sec))
        return LX_ECRYPTO;
    lx_key *k = malloc(sizeof *k);
    if (k == NULL)
        return LX_ENOMEM;
    memcpy(k->sec, sec, LX_SECKEY_LEN);
    k->cleared = false;
    secp256k1_pubkey pk;
    size_t plen = LX_PUBKEY_LEN;
    if (!secp256k1_ec_pubkey_create(c, &pk, k->sec) ||
        !secp256k1_ec_pubkey_serialize(c, k->pub, &plen, &pk, SECP256K1_EC_COMPRESSED)) {
        lx_key_free(&k);
        return LX_ECRYPTO;
    }
    LX_ASSERT(plen == LX_PUBKEY_LEN);
    *key = k;
    return LX_OK;
}

lx_err lx_key_generate(lx_key **key)
{
    if (key == NULL)
        return LX_EINVAL;
    *key = NULL;
    if (ctx_get() == NULL)
        return LX_ECRYPTO;
    uint8_t sec[LX_SECKEY_LEN];
    lx_err err;
    /* A random 32-byte string is a valid scalar except with probability
     * about 2^-128; draw again in that case. */
    for (;;) {
        err = fill_random(sec, sizeof sec);
        if (err != LX_OK)
            break;
        err = key_from_secret(key, sec);
        if (err != LX_ECRYPTO)
            break;
    }
    lx_wipe(sec, sizeof sec);
    return err;
}

lx_err lx_key_import(lx_key **key, const uint8_t sec[LX_SECKEY_LEN])
{
    if (key == NULL)
        return LX_EINVAL;
    *key = NULL;
    if (sec == NULL)
        return LX_EINVAL;
    return key_from_secret(key, sec);
}

lx_err lx_key_export(const lx_key *key, uint8_t sec[LX_SECKEY_LEN])
{
    if (key == NULL || sec == NULL)
        return LX_EINVAL;
    memcpy(sec, key->sec, LX_SECKEY_LEN);
    return key->cleared ? LX_ESTATE : LX_OK;
}

lx_err lx_key_pubkey(const lx_key *key, uint8_t pub[LX_PUBKEY_LEN])
{
    if (key == NULL || pub == NULL)
        return LX_EINVAL;
    memcpy(pub, key->pub, LX_PUBKEY_LEN);
    return LX_OK;
}

void lx_key_clear(lx_key *key)
{
    if (key == NULL)
        return;
    lx_wipe(key->sec, sizeof key->sec);
    key->cleared = true;
}

void lx_key_free(lx_key **key)
{
    if (key == NULL || *key == NULL)
        return;
    lx_key_clear(*key);
    lx_wipe(*key, sizeof **key);
    free(*key);
    *key = NULL;
}

lx_err lx_key_sign(const lx_key *key, uint8_t sig[LX_SIG_LEN], const uint8_t hash[LX_SHA256_LEN])
{
    if (key == NULL || sig == NULL || hash == NULL)
        return LX_EINVAL;
    if (key->cleared)
        return LX_ESTATE;
    const secp256k1_context *c = ctx_get();
    if (c == NULL)
        return LX_ECRYPTO;
    secp256k1_ecdsa_recoverable_signature rs;
    /* A NULL nonce function selects RFC 6979; the library always emits low S. */
    if (!secp256k1_ecdsa_sign_recoverable(c, &rs, hash, key->sec, NULL, NULL))
        return LX_ECRYPTO;
    int recid = 0;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(c, sig, &recid, &rs);
    LX_ASSERT(recid == 0 || recid == 1);
    sig[64] = (uint8_t)recid;
    return LX_OK;
}

lx_err lx_sig_recover(uint8_t pub[LX_PUBKEY_LEN], const uint8_t hash[LX_SHA256_LEN],
                      const uint8_t sig[LX_SIG_LEN])
{
    if (pub == NULL || hash == NULL || sig == NULL)
        return LX_EINVAL;
    const secp256k1_context *c = ctx_get();
    if (c == NULL)
        return LX_ECRYPTO;
    /* v 2 and 3 (r above the order) never come out of a signer. */
    if (sig[64] > 1)
        return LX_ECRYPTO;
    secp256k1_ecdsa_recoverable_signature rs;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(c, &rs, sig, sig[64]))
        return LX_ECRYPTO;
    /* Recovery itself accepts a high S; the chain does not, because (r, n-s)
     * would be a second valid encoding of the same signature. */
    secp256k1_ecdsa_signature plain;
    secp256k1_ecdsa_recoverable_signature_convert(c, &plain, &rs);
    if (secp256k1_ecdsa_signature_normalize(c, NULL, &plain))
        return LX_ECRYPTO;
    secp256k1_pubkey pk;
    if (!secp256k1_ecdsa_recover(c, &pk, &rs, hash))
        return LX_ECRYPTO;
    size_t plen = LX_PUBKEY_LEN;
    if (!secp256k1_ec_pubkey_serialize(c, pub, &plen, &pk, SECP256K1_EC_COMPRESSED))
        return LX_ECRYPTO;
    return LX_OK;
}

lx_err lx_sig_verify(const uint8_t pub[LX_PUBKEY_LEN], const uint8_t hash[LX_SHA256_LEN],
                     const uint8_t sig[LX_SIG_LEN])
{
    if (pub == NULL || hash == NULL || sig == NULL)
        return LX_EINVAL;
    uint8_t got[LX_PUBKEY_LEN];
    lx_err err = lx_sig_recover(got, hash, sig);
    if (err != LX_OK)
        return err;
    return memcmp(got, pub, LX_PUBKEY_LEN) == 0 ? LX_OK : LX_ECRYPTO;
}
