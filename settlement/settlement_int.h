/* Internals shared by the settlement batch modules: big-endian byte helpers
 * (lx/bytes.h), hashing with a reused context, the netting accumulator and
 * the batch builder's state. */
#ifndef LX_SETTLEMENT_INT_H
#define LX_SETTLEMENT_INT_H

#include <stdint.h>
#include <string.h>

#include "lx/bytes.h"
#include "lx/settlement.h"

static inline int lx__is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* sha256(tag || data) with a caller's context: tag 0x00 makes a leaf hash,
 * 0x01 an inner node. data is at most 127 bytes. */
lx_err lx__merkle_hash(lx_sha256_ctx *ctx, uint8_t out[LX_SHA256_LEN], uint8_t tag,
                       const uint8_t *data, size_t len);

/* Hashes in a tree of n leaves, all levels together. */
size_t lx__merkle_tree_nodes(size_t n);

/* Writes entries [j0, j1) of the level above the level of width w at in to
 * out: pairs hashed, and the last entry copied up when w is odd. */
lx_err lx__merkle_pairs(lx_sha256_ctx *ctx, uint8_t *out, const uint8_t *in, size_t w, size_t j0,
                        size_t j1);

/* Wraps h, the lx__merkle_tree_nodes(n) hashes of every level, leaves
 * first, into a tree that owns h from then on (on success only). */
lx_err lx__merkle_tree_adopt(lx_merkle_tree **t, uint8_t *h, size_t n);

/* Builds a tree over n leaf hashes with the caller's context. */
lx_err lx__merkle_tree_build(lx_merkle_tree **t, lx_sha256_ctx *ctx, const uint8_t *leaves,
                             size_t n);

/* The root of zero leaves: sha256(""). */
extern const uint8_t lx__merkle_empty_root[LX_SHA256_LEN];

/* The net change accumulator: an open-addressing map from (account, engine
 * asset) to a 128-bit delta, so no sum of 64-bit amounts can overflow it. */
typedef struct lx__net_slot {
    __int128 delta;
    uint64_t account;
    uint32_t asset;
    uint32_t used;
} lx__net_slot;

typedef struct lx__netting {
    lx__net_slot *slot;
    size_t cap; /* a power of two, or 0 */
    size_t n;   /* used slots */
} lx__netting;

/* Makes room for `more` new keys, so the next `more` adds cannot fail. */
lx_err lx__netting_reserve(lx__netting *nt, size_t more);
/* Adds d to the delta of (account, asset); needs room reserved first. */
void lx__netting_add(lx__netting *nt, uint64_t account, uint32_t asset, __int128 d);
/* Adds da to (account, asset_a) and db to (account, asset_b), a != b, in one
 * walk of the table; needs room for two keys reserved first. */
void lx__netting_add2(lx__netting *nt, uint64_t account, uint32_t asset_a, __int128 da,
                      uint32_t asset_b, __int128 db);
void lx__netting_clear(lx__netting *nt); /* forgets every key, keeps memory */
void lx__netting_free(lx__netting *nt);

/* ---- the batch builder's state (settlement/builder.c; its encoding is
 * settlement/builder_codec.c) ---- */

#define LX__BUILDER_TABLE_MAX 65536u /* engine markets and assets the builder maps */

typedef struct lx__market_map {
    uint32_t base, quote;
    uint64_t lot;
    uint8_t set;
} lx__market_map;

typedef struct lx__asset_map {
    uint8_t id[LX_ASSET_ID_LEN];
    uint8_t set;
} lx__asset_map;

struct lx_batch_builder {
    lx_batch_config cfg; /* next_* describe the open batch */
    uint64_t last_seq;   /* highest seq added to the open batch */
    lx__market_map *markets;
    size_t nmarkets;
    lx__asset_map *assets;
    size_t nassets;
    lx_fill_leaf *fills;
    size_t nfills, capfills;
    size_t fill_hint; /* fills of the last batch: the next one starts that big */
    lx_transfer *deposits, *withdrawals;
    size_t ndeposits, capdeposits, nwithdrawals, capwithdrawals;
    lx__netting net;
    lx_sha256_ctx *ctx[2]; /* one per thread of lx_batch_builder_close */
};

/* Encodes a withdrawal or deposit list entry: 76 or 56 bytes. */
#define LX__DEPOSIT_ENC_LEN 56
#define LX__WITHDRAWAL_ENC_LEN 76

/* Makes a batch from its parts, checks the canonical rules and hashes it.
 * On success the batch owns the malloc'd arrays (fills, tree, net, deposits,
 * withdrawals; any may be NULL when empty); on error they stay the caller's. */
lx_err lx__batch_make(lx_batch **out, const lx_batch_info *info, lx_fill_leaf *fills,
                      lx_merkle_tree *tree, lx_net_change *net, lx_transfer *deposits,
                      size_t ndeposits, lx_transfer *withdrawals, size_t nwithdrawals);

/* LX_OK for a channel with 1..LX_OWNERS_MAX sorted, unique owners and
 * 1 <= threshold <= owners; LX_EINVAL otherwise. */
lx_err lx__channel_check(const lx_channel *ch);

/* Compares two net changes by (account, asset_id). */
int lx__net_cmp(const lx_net_change *a, const lx_net_change *b);

#endif /* LX_SETTLEMENT_INT_H */
