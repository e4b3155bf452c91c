/* Settlement signatures and quorum certificates: a node signs the settlement
 * tx hash; the leader counts distinct owner signatures up to the threshold. */
#include <stdlib.h>
#include <string.h>

#include "settlement_int.h"

#define ENTRY_LEN (LX_XADDR_LEN + LX_SIG_LEN)
#define CERT_HEAD_LEN (1 + 2 * LX_SHA256_LEN + 4)

struct lx_cert {
    size_t nowners;
    uint8_t owners[LX_OWNERS_MAX][LX_XADDR_LEN]; /* sorted */
    uint32_t threshold;
    uint8_t batch_hash[LX_SHA256_LEN], tx_hash[LX_SHA256_LEN];
    uint8_t have[LX_OWNERS_MAX]; /* owner i's signature is counted */
    uint8_t sig[LX_OWNERS_MAX][LX_SIG_LEN];
    size_t count;
};

uint32_t lx_quorum_threshold(size_t n)
{
    if (n == 0)
        return 0;
    if (n > UINT32_MAX / 2)
        n = UINT32_MAX / 2;
    return (uint32_t)((2 * n + 2) / 3);
}

lx_err lx_settle_sign(const lx_key *key, uint8_t signer[LX_XADDR_LEN], uint8_t sig[LX_SIG_LEN],
                      const uint8_t tx_hash[LX_SHA256_LEN])
{
    if (!key || !signer || !sig || !tx_hash)
        return LX_EINVAL;
    uint8_t pub[LX_PUBKEY_LEN];
    lx_err err = lx_key_sign(key, sig, tx_hash);
    if (err == LX_OK)
        err = lx_key_pubkey(key, pub);
    if (err == LX_OK)
        err = lx_hash160(signer, pub, sizeof pub);
    return err;
}

lx_err lx_cert_new(lx_cert **c, const lx_channel *ch, const uint8_t batch_hash[LX_SHA256_LEN],
                   const uint8_t tx_hash[LX_SHA256_LEN])
{
    if (!c)
        return LX_EINVAL;
    *c = NULL;
    if (!batch_hash || !tx_hash)
        return LX_EINVAL;
    lx_err err = lx__channel_check(ch);
    if (err != LX_OK)
        return err;
    lx_cert *ce = calloc(1, sizeof *ce);
    if (!ce)
        return LX_ENOMEM;
    ce->nowners = ch->nowners;
    memcpy(ce->owners, ch->owners, ch->nowners * LX_XADDR_LEN);
    ce->threshold = ch->threshold;
    memcpy(ce->batch_hash, batch_hash, LX_SHA256_LEN);
    memcpy(ce->tx_hash, tx_hash, LX_SHA256_LEN);
    *c = ce;
    return LX_OK;
}

void lx_cert_free(lx_cert **c)
{
    if (!c || !*c)
        return;
    free(*c);
    *c = NULL;
}

static int owner_index(const lx_cert *c, const uint8_t addr[LX_XADDR_LEN])
{
    size_t lo = 0, hi = c->nowners;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = memcmp(c->owners[mid], addr, LX_XADDR_LEN);
        if (r == 0)
            return (int)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

lx_err lx_cert_add(lx_cert *c, uint8_t signer[LX_XADDR_LEN], const uint8_t sig[LX_SIG_LEN],
                   const uint8_t claimed[LX_XADDR_LEN])
{
    if (!c || !sig)
        return LX_EINVAL;
    uint8_t pub[LX_PUBKEY_LEN], addr[LX_XADDR_LEN];
    lx_err err = lx_sig_recover(pub, c->tx_hash, sig);
    if (err == LX_OK)
        err = lx_hash160(addr, pub, sizeof pub);
    if (err != LX_OK)
        return err;
    if (signer)
        memcpy(signer, addr, LX_XADDR_LEN);
    if (claimed && memcmp(claimed, addr, LX_XADDR_LEN) != 0)
        return LX_ECRYPTO;
    int i = owner_index(c, addr);
    if (i < 0)
        return LX_EPERM;
    if (c->have[i])
        return LX_EEXIST;
    c->have[i] = 1;
    memcpy(c->sig[i], sig, LX_SIG_LEN);
    c->count++;
    return LX_OK;
}

size_t lx_cert_count(const lx_cert *c)
{
    return c ? c->count : 0;
}

bool lx_cert_complete(const lx_cert *c)
{
    return c && c->count >= c->threshold;
}

lx_err lx_cert_pick(const lx_cert *c, uint32_t *sig_index, uint8_t (*sigs)[LX_SIG_LEN], size_t cap)
{
    if (!c || !sig_index || !sigs)
        return LX_EINVAL;
    if (!lx_cert_complete(c))
        return LX_ESTATE;
    if (cap < c->threshold)
        return LX_EINVAL;
    size_t k = 0;
    for (size_t i = 0; i < c->nowners && k < c->threshold; i++) {
        if (!c->have[i])
            continue;
        sig_index[k] = (uint32_t)i;
        memcpy(sigs[k++], c->sig[i], LX_SIG_LEN);
    }
    LX_ASSERT(k == c->threshold);
    return LX_OK;
}

lx_err lx_cert_hashes(const lx_cert *c, uint8_t batch_hash[LX_SHA256_LEN],
                      uint8_t tx_hash[LX_SHA256_LEN])
{
    if (!c || !batch_hash || !tx_hash)
        return LX_EINVAL;
    memcpy(batch_hash, c->batch_hash, LX_SHA256_LEN);
    memcpy(tx_hash, c->tx_hash, LX_SHA256_LEN);
    return LX_OK;
}

size_t lx_cert_encoded_len(const lx_cert *c)
{
    return c ? CERT_HEAD_LEN + c->count * ENTRY_LEN : 0;
}

lx_err lx_cert_encode(const lx_cert *c, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (!c || !out || !out_len)
        return LX_EINVAL;
    size_t len = lx_cert_encoded_len(c);
    if (out_cap < len)
        return LX_EINVAL;
    uint8_t *p = out;
    *p++ = LX_CERT_VERSION;
    memcpy(p, c->batch_hash, LX_SHA256_LEN), p += LX_SHA256_LEN;
    memcpy(p, c->tx_hash, LX_SHA256_LEN), p += LX_SHA256_LEN;
    lx__put_u32(p, (uint32_t)c->count), p += 4;
    /* Owners are sorted, so owner order is signer order. */
    for (size_t i = 0; i < c->nowners; i++) {
        if (!c->have[i])
            continue;
        memcpy(p, c->owners[i], LX_XADDR_LEN), p += LX_XADDR_LEN;
        memcpy(p, c->sig[i], LX_SIG_LEN), p += LX_SIG_LEN;
    }
    *out_len = len;
    return LX_OK;
}

lx_err lx_cert_decode(lx_cert **c, const lx_channel *ch, const uint8_t *buf, size_t len)
{
    if (!c)
        return LX_EINVAL;
    *c = NULL;
    if (!buf && len)
        return LX_EINVAL;
    lx_err err = lx__channel_check(ch);
    if (err != LX_OK)
        return err;
    if (len < CERT_HEAD_LEN || buf[0] != LX_CERT_VERSION)
        return LX_EFORMAT;
    uint32_t count = lx__get_u32(buf + 1 + 2 * LX_SHA256_LEN);
    if (count > LX_OWNERS_MAX)
        return LX_ETOOBIG;
    if (len != CERT_HEAD_LEN + (size_t)count * ENTRY_LEN)
        return LX_EFORMAT;
    const uint8_t *e = buf + CERT_HEAD_LEN;
    for (uint32_t i = 1; i < count; i++)
        if (memcmp(e + (i - 1) * ENTRY_LEN, e + i * ENTRY_LEN, LX_XADDR_LEN) >= 0)
            return LX_ECANONICAL;
    lx_cert *ce = NULL;
    err = lx_cert_new(&ce, ch, buf + 1, buf + 1 + LX_SHA256_LEN);
    for (uint32_t i = 0; err == LX_OK && i < count; i++) {
        const uint8_t *entry = e + (size_t)i * ENTRY_LEN;
        err = lx_cert_add(ce, NULL, entry + LX_XADDR_LEN, entry);
    }
    if (err != LX_OK) {
        lx_cert_free(&ce);
        return err;
    }
    *c = ce;
    return LX_OK;
}
