/* The OpenSSL libcrypto adapter: SHA-256 (one-shot, incremental and many
 * small messages at once), RIPEMD-160 and hash160. No other file includes an
 * OpenSSL header. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* SHA-256 goes through libcrypto's direct SHA256_* functions where the
 * library has them. They run the same block code as EVP, but EVP adds about
 * 30 ns of provider dispatch and context bookkeeping to every message, a
 * quarter of the cost of a 65-byte Merkle node, and settlement hashes
 * hundreds of thousands of such messages per batch. OpenSSL 3 marks these
 * functions deprecated in favour of EVP; a build without them falls back to
 * EVP with the same results. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/opensslconf.h>
#include <openssl/sha.h>

#include "lx/settlement.h"

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#define LX_SHA256_VIA_EVP 1
#else
#define LX_SHA256_VIA_EVP 0
#endif

/* Fetching an algorithm by name walks the provider tables; do it once and
 * reuse the result, which OpenSSL allows from any thread. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;
static EVP_MD *md_ripemd160;

static void md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_ripemd160 = EVP_MD_fetch(NULL, "RIPEMD160", NULL);
}

static const EVP_MD *md_get(int which)
{
    if (pthread_once(&md_once, md_init) != 0)
        return NULL;
    return which == 0 ? md_sha256 : md_ripemd160;
}

static const uint8_t empty[1] = {0};

static lx_err evp_digest(int which, uint8_t *out, const void *data, size_t len)
{
    const EVP_MD *md = md_get(which);
    if (md == NULL)
        return LX_ECRYPTO;
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1)
        return LX_ECRYPTO;
    LX_ASSERT(n == (which == 0 ? LX_SHA256_LEN : LX_RIPEMD160_LEN));
    return LX_OK;
}

#if LX_SHA256_VIA_EVP

struct lx_sha256_ctx {
    EVP_MD_CTX *md;
};

static lx_err sha256_once(uint8_t out[LX_SHA256_LEN], const void *data, size_t len)
{
    return evp_digest(0, out, data, len);
}

static lx_err ctx_init(lx_sha256_ctx *c)
{
    const EVP_MD *md = md_get(0);
    if (md == NULL)
        return LX_ECRYPTO;
    if (c->md == NULL && (c->md = EVP_MD_CTX_new()) == NULL)
        return LX_ENOMEM;
    return EVP_DigestInit_ex2(c->md, md, NULL) == 1 ? LX_OK : LX_ECRYPTO;
}

static lx_err ctx_update(lx_sha256_ctx *c, const void *data, size_t len)
{
    return EVP_DigestUpdate(c->md, data, len) == 1 ? LX_OK : LX_ECRYPTO;
}

static lx_err ctx_final(lx_sha256_ctx *c, uint8_t out[LX_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(c->md, out, &n) != 1)
        return LX_ECRYPTO;
    LX_ASSERT(n == LX_SHA256_LEN);
    return LX_OK;
}

static void ctx_release(lx_sha256_ctx *c)
{
    EVP_MD_CTX_free(c->md);
}

#else

struct lx_sha256_ctx {
    SHA256_CTX s;
};

static lx_err sha256_once(uint8_t out[LX_SHA256_LEN], const void *data, size_t len)
{
    SHA256_CTX s;
    if (SHA256_Init(&s) != 1 || SHA256_Update(&s, data, len) != 1 || SHA256_Final(out, &s) != 1)
        return LX_ECRYPTO;
    return LX_OK;
}

static lx_err ctx_init(lx_sha256_ctx *c)
{
    return SHA256_Init(&c->s) == 1 ? LX_OK : LX_ECRYPTO;
}

static lx_err ctx_update(lx_sha256_ctx *c, const void *data, size_t len)
{
    return SHA256_Update(&c->s, data, len) == 1 ? LX_OK : LX_ECRYPTO;
}

static lx_err ctx_final(lx_sha256_ctx *c, uint8_t out[LX_SHA256_LEN])
{
    return SHA256_Final(out, &c->s) == 1 ? LX_OK : LX_ECRYPTO;
}

static void ctx_release(lx_sha256_ctx *c)
{
    (void)c;
}

#endif

lx_err lx_sha256(uint8_t out[LX_SHA256_LEN], const void *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0))
        return LX_EINVAL;
    return sha256_once(out, data ? data : empty, len);
}

lx_err lx_sha256_many(uint8_t *out, const uint8_t *prefix, size_t prefix_len, const uint8_t *data,
                      size_t len, size_t stride, size_t n)
{
    if (n == 0)
        return LX_OK;
    if (out == NULL || (prefix == NULL && prefix_len > 0) || (data == NULL && len > 0) ||
        prefix_len + len > LX_SHA256_MANY_MAX || (n > 1 && stride < len))
        return LX_EINVAL;
    /* One contiguous message per digest: the per-call cost of the digest is
     * what dominates at these sizes, so feed it once. */
    uint8_t buf[LX_SHA256_MANY_MAX];
    if (prefix_len > 0)
        memcpy(buf, prefix, prefix_len);
    for (size_t i = 0; i < n; i++) {
        if (len > 0)
            memmove(buf + prefix_len, data + i * stride, len);
        lx_err err = sha256_once(out + i * LX_SHA256_LEN, buf, prefix_len + len);
        if (err != LX_OK)
            return err;
    }
    return LX_OK;
}

lx_err lx_ripemd160(uint8_t out[LX_RIPEMD160_LEN], const void *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0))
        return LX_EINVAL;
    return evp_digest(1, out, data ? data : empty, len);
}

lx_err lx_hash160(uint8_t out[LX_HASH160_LEN], const void *data, size_t len)
{
    uint8_t h[LX_SHA256_LEN];
    lx_err err = lx_sha256(h, data, len);
    if (err == LX_OK)
        err = lx_ripemd160(out, h, sizeof h);
    return err;
}

lx_err lx_sha256_new(lx_sha256_ctx **ctx)
{
    if (ctx == NULL)
        return LX_EINVAL;
    *ctx = NULL;
    lx_sha256_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return LX_ENOMEM;
    lx_err err = ctx_init(c);
    if (err != LX_OK) {
        ctx_release(c);
        free(c);
        return err;
    }
    *ctx = c;
    return LX_OK;
}

lx_err lx_sha256_update(lx_sha256_ctx *ctx, const void *data, size_t len)
{
    if (ctx == NULL || (data == NULL && len > 0))
        return LX_EINVAL;
    if (len == 0)
        return LX_OK;
    return ctx_update(ctx, data, len);
}

lx_err lx_sha256_final(lx_sha256_ctx *ctx, uint8_t out[LX_SHA256_LEN])
{
    if (ctx == NULL || out == NULL)
        return LX_EINVAL;
    lx_err err = ctx_final(ctx, out);
    /* Reset so the context can hash the next message. */
    lx_err reset = ctx_init(ctx);
    return err != LX_OK ? err : reset;
}

void lx_sha256_free(lx_sha256_ctx **ctx)
{
    if (ctx == NULL || *ctx == NULL)
        return;
    ctx_release(*ctx);
    free(*ctx);
    *ctx = NULL;
}
