/* The OpenSSL libcrypto adapter: SHA-256 (one-shot and incremental),
 * RIPEMD-160 and hash160. No other file includes an OpenSSL header. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lx/settlement.h"

struct lx_sha256_ctx {
    EVP_MD_CTX *md;
};

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

static lx_err digest(int which, uint8_t *out, const void *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0))
        return LX_EINVAL;
    const EVP_MD *md = md_get(which);
    if (md == NULL)
        return LX_ECRYPTO;
    static const uint8_t empty[1] = {0};
    if (data == NULL)
        data = empty;
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, md, NULL) != 1)
        return LX_ECRYPTO;
    LX_ASSERT(n == (which == 0 ? LX_SHA256_LEN : LX_RIPEMD160_LEN));
    return LX_OK;
}

lx_err lx_sha256(uint8_t out[LX_SHA256_LEN], const void *data, size_t len)
{
    return digest(0, out, data, len);
}

lx_err lx_ripemd160(uint8_t out[LX_RIPEMD160_LEN], const void *data, size_t len)
{
    return digest(1, out, data, len);
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
    const EVP_MD *md = md_get(0);
    if (md == NULL)
        return LX_ECRYPTO;
    lx_sha256_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return LX_ENOMEM;
    c->md = EVP_MD_CTX_new();
    if (c->md == NULL) {
        free(c);
        return LX_ENOMEM;
    }
    if (EVP_DigestInit_ex(c->md, md, NULL) != 1) {
        EVP_MD_CTX_free(c->md);
        free(c);
        return LX_ECRYPTO;
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
    return EVP_DigestUpdate(ctx->md, data, len) == 1 ? LX_OK : LX_ECRYPTO;
}

lx_err lx_sha256_final(lx_sha256_ctx *ctx, uint8_t out[LX_SHA256_LEN])
{
    if (ctx == NULL || out == NULL)
        return LX_EINVAL;
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1)
        return LX_ECRYPTO;
    LX_ASSERT(n == LX_SHA256_LEN);
    /* Reset so the context can hash the next message. */
    if (EVP_DigestInit_ex(ctx->md, md_get(0), NULL) != 1)
        return LX_ECRYPTO;
    return LX_OK;
}

void lx_sha256_free(lx_sha256_ctx **ctx)
{
    if (ctx == NULL || *ctx == NULL)
        return;
    EVP_MD_CTX_free((*ctx)->md);
    free(*ctx);
    *ctx = NULL;
}
