/* lxdex settlement: hashes and secp256k1 signatures (the adapters of OpenSSL
 * libcrypto and libsecp256k1), and fills to signed settlement batches. */
#ifndef LX_SETTLEMENT_H
#define LX_SETTLEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "lx/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hashes and keys (settlement/hash.c, settlement/secp.c) ---- */

#define LX_SHA256_LEN 32    /* a SHA-256 digest */
#define LX_RIPEMD160_LEN 20 /* a RIPEMD-160 digest */
#define LX_HASH160_LEN 20   /* ripemd160(sha256(x)) */
#define LX_SECKEY_LEN 32    /* a secp256k1 secret key */
#define LX_PUBKEY_LEN 33    /* a compressed secp256k1 public key */
#define LX_SIG_LEN 65       /* a recoverable signature r || s || v, v in {0, 1} */

/* Writes sha256(data[0..len)) to out. data may be NULL when len is 0.
 * Returns LX_OK, LX_EINVAL, or LX_ECRYPTO when libcrypto fails. */
lx_err lx_sha256(uint8_t out[LX_SHA256_LEN], const void *data, size_t len);

/* Writes ripemd160(data) to out. Same contract as lx_sha256. */
lx_err lx_ripemd160(uint8_t out[LX_RIPEMD160_LEN], const void *data, size_t len);

/* Writes ripemd160(sha256(data)) to out. Same contract as lx_sha256. */
lx_err lx_hash160(uint8_t out[LX_HASH160_LEN], const void *data, size_t len);

/* Incremental SHA-256. An opaque context owned by the caller:
 * lx_sha256_new() allocates it, lx_sha256_update() feeds bytes,
 * lx_sha256_final() writes the digest and resets the context for reuse,
 * lx_sha256_free() frees it and sets *ctx to NULL (NULL-safe). */
typedef struct lx_sha256_ctx lx_sha256_ctx;
lx_err lx_sha256_new(lx_sha256_ctx **ctx);
lx_err lx_sha256_update(lx_sha256_ctx *ctx, const void *data, size_t len);
lx_err lx_sha256_final(lx_sha256_ctx *ctx, uint8_t out[LX_SHA256_LEN]);
void lx_sha256_free(lx_sha256_ctx **ctx);

/* Overwrites n bytes at p with zeros in a way the compiler cannot remove.
 * Use it on every buffer that held secret key material. */
void lx_wipe(void *p, size_t n);

/* A secp256k1 secret key (opaque, owned by the caller). It holds the 32
 * secret bytes and the cached compressed public key; lx_key_free() wipes the
 * secret and sets *key to NULL (NULL-safe). Keys are read-only after creation,
 * so one key may sign from several threads at once. */
typedef struct lx_key lx_key;

/* Creates a fresh random key from getrandom(2), retrying until the bytes are a
 * valid secret. Returns LX_OK, LX_EINVAL, LX_ENOMEM, LX_EIO (no randomness) or
 * LX_ECRYPTO. On success *key is the caller's. */
lx_err lx_key_generate(lx_key **key);

/* Creates a key from 32 secret bytes (big-endian scalar). Returns LX_ECRYPTO
 * when sec is zero or not below the group order. The caller keeps sec and
 * should wipe it. */
lx_err lx_key_import(lx_key **key, const uint8_t sec[LX_SECKEY_LEN]);

/* Writes the 32 secret bytes of key to sec. The caller must wipe sec. */
lx_err lx_key_export(const lx_key *key, uint8_t sec[LX_SECKEY_LEN]);

/* Writes the compressed public key of key to pub. */
lx_err lx_key_pubkey(const lx_key *key, uint8_t pub[LX_PUBKEY_LEN]);

/* Wipes the secret of key in place. Afterwards lx_key_sign() and
 * lx_key_export() return LX_ESTATE (export writes zeros). NULL-safe. */
void lx_key_clear(lx_key *key);

/* Wipes the key (as lx_key_clear()), frees it, sets *key to NULL. */
void lx_key_free(lx_key **key);

/* Signs a 32-byte hash: writes r || s || v to sig, with the RFC 6979 nonce,
 * low S, and v the recovery id (0 or 1). Deterministic: the same key and hash
 * give the same bytes. Returns LX_OK, LX_EINVAL or LX_ECRYPTO. */
lx_err lx_key_sign(const lx_key *key, uint8_t sig[LX_SIG_LEN], const uint8_t hash[LX_SHA256_LEN]);

/* Recovers the compressed public key that made sig over hash and writes it
 * to pub. Returns LX_ECRYPTO for a malformed signature, v not 0 or 1, a high
 * S, or a signature that recovers no key. */
lx_err lx_sig_recover(uint8_t pub[LX_PUBKEY_LEN], const uint8_t hash[LX_SHA256_LEN],
                      const uint8_t sig[LX_SIG_LEN]);

/* Returns LX_OK when sig over hash was made by the key of pub (including the
 * right v), LX_ECRYPTO otherwise (with the same rejections as lx_sig_recover),
 * LX_EINVAL for NULL arguments. */
lx_err lx_sig_verify(const uint8_t pub[LX_PUBKEY_LEN], const uint8_t hash[LX_SHA256_LEN],
                     const uint8_t sig[LX_SIG_LEN]);

/* ---- settlement batches (the settlement issue) ---- */

#ifdef __cplusplus
}
#endif
#endif /* LX_SETTLEMENT_H */
