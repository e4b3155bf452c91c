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

/* Hashes n short messages: out[32i..32i+32) = sha256(prefix ||
 * data[i*stride .. i*stride+len)), for i < n. prefix_len + len is at most
 * LX_SHA256_MANY_MAX. Each message is copied before its digest is written,
 * so out may be data when stride >= 32 (a Merkle level hashed in place).
 * The digests are those of lx_sha256 over the same bytes. LX_OK (also for
 * n = 0), LX_EINVAL, LX_ECRYPTO. */
#define LX_SHA256_MANY_MAX 128
lx_err lx_sha256_many(uint8_t *out, const uint8_t *prefix, size_t prefix_len, const uint8_t *data,
                      size_t len, size_t stride, size_t n);

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

/* ---- settlement batches (settlement/merkle.c, netting.c, batch.c, memo.c,
 *      select.c, quorum.c; see docs/settlement.md) ----
 *
 * Pure functions of their inputs: no clock, no randomness, no I/O. Every
 * multi-byte integer in an encoding is big-endian. */

#define LX_MERKLE_DEPTH_MAX 64 /* siblings in a proof; enough for 2^64 leaves */
#define LX_CHANNEL_ID_LEN 32   /* a channel ID */
#define LX_ASSET_ID_LEN 32     /* an X-Chain asset ID */
#define LX_XADDR_LEN 20        /* an X-Chain address: hash160 of a public key */
#define LX_OWNERS_MAX 64       /* owners of a channel */

/* -- Merkle trees (settlement/merkle.c) --
 * Leaf hash = sha256(0x00 || leaf bytes); inner node = sha256(0x01 || left ||
 * right). Levels are built pairwise from the left; a last node without a
 * partner moves up unchanged (never duplicated). This is the Merkle Tree Hash
 * of RFC 6962 section 2.1; the root of zero leaves is sha256(""). */

/* Writes sha256(0x00 || data[0..len)) to out. LX_EINVAL, LX_ECRYPTO. */
lx_err lx_merkle_leaf_hash(uint8_t out[LX_SHA256_LEN], const void *data, size_t len);

/* Writes sha256(0x01 || left || right) to out. LX_EINVAL, LX_ECRYPTO. */
lx_err lx_merkle_node_hash(uint8_t out[LX_SHA256_LEN], const uint8_t left[LX_SHA256_LEN],
                           const uint8_t right[LX_SHA256_LEN]);

/* Writes the root over n leaf hashes (leaves holds n * 32 bytes; may be NULL
 * when n is 0). LX_EINVAL, LX_ENOMEM, LX_ECRYPTO. */
lx_err lx_merkle_root(uint8_t root[LX_SHA256_LEN], const uint8_t *leaves, size_t n);

/* The path from one leaf to the root. Sibling k is the partner met at level
 * k that was not promoted past; bit k of bits is 1 when that sibling is on
 * the left. depth, bits and the number of siblings follow from (index,
 * count); verification recomputes them and refuses a proof that disagrees.
 * The root alone does not fix the count: check it against the count the
 * root was published with (a batch's fill_count). */
typedef struct lx_merkle_proof {
    uint64_t index; /* the leaf's position, < count */
    uint64_t count; /* leaves in the tree */
    uint64_t bits;  /* bit k set: sibling[k] is the left input */
    uint32_t depth; /* siblings used */
    uint8_t sibling[LX_MERKLE_DEPTH_MAX][LX_SHA256_LEN];
} lx_merkle_proof;

/* Proof encoding: u64 index | u64 count | u8 depth | depth * 32 siblings
 * (the bits follow from index and count). */
#define LX_MERKLE_PROOF_ENC_MAX (17 + LX_MERKLE_DEPTH_MAX * LX_SHA256_LEN)

/* A tree kept whole so that proofs cost O(log n) (opaque, owned by the
 * caller). lx_merkle_tree_new() copies the n leaf hashes and hashes every
 * level: LX_EINVAL, LX_ENOMEM, LX_ECRYPTO. lx_merkle_tree_free() frees it and
 * sets *t to NULL (NULL-safe). */
typedef struct lx_merkle_tree lx_merkle_tree;
lx_err lx_merkle_tree_new(lx_merkle_tree **t, const uint8_t *leaves, size_t n);
void lx_merkle_tree_free(lx_merkle_tree **t);
size_t lx_merkle_tree_count(const lx_merkle_tree *t);
lx_err lx_merkle_tree_root(const lx_merkle_tree *t, uint8_t root[LX_SHA256_LEN]);

/* Writes the proof of leaf index to proof. LX_EINVAL when index >= count. */
lx_err lx_merkle_tree_proof(const lx_merkle_tree *t, lx_merkle_proof *proof, uint64_t index);

/* LX_OK when proof leads from leaf (a leaf hash) to root. LX_EFORMAT when
 * index >= count or depth or bits are not those of (index, count);
 * LX_ECRYPTO when the hashes do not lead to root; LX_EINVAL for NULLs. */
lx_err lx_merkle_proof_verify(const uint8_t root[LX_SHA256_LEN], const uint8_t leaf[LX_SHA256_LEN],
                              const lx_merkle_proof *proof);

/* Encodes proof into out[0..out_cap) (*out_len bytes). LX_EINVAL when it
 * does not fit or proof's depth is over the maximum. */
lx_err lx_merkle_proof_encode(const lx_merkle_proof *proof, uint8_t *out, size_t out_cap,
                              size_t *out_len);

/* Decodes a proof and fills in its bits. LX_EFORMAT for a wrong length, a
 * depth that is not the one of (index, count), or index >= count. */
lx_err lx_merkle_proof_decode(lx_merkle_proof *proof, const uint8_t *buf, size_t len);

/* -- fill leaves (settlement/batch.c) --
 * One fill as committed, 85 bytes: u64 fill_seq | u64 log_seq | u32 market |
 * u64 maker_order | u64 maker_account | u64 taker_order | u64 taker_account |
 * u64 price | u64 qty | u8 taker_side | u64 maker_fee | u64 taker_fee. */

#define LX_FILL_LEAF_LEN 85

typedef struct lx_fill_leaf {
    uint64_t fill_seq; /* global fill index: 0 for the first fill ever */
    uint64_t log_seq;  /* sequence of the log block that made the fill */
    uint32_t market;
    uint64_t maker_order, maker_account;
    uint64_t taker_order, taker_account;
    uint64_t price, qty; /* quote units per lot, lots */
    uint8_t taker_side;  /* lx_side */
    uint64_t maker_fee, taker_fee;
} lx_fill_leaf;

/* Fills leaf from an LX_EV_FILL event. LX_EINVAL for another event type or a
 * side that is not LX_BUY or LX_SELL. */
lx_err lx_fill_leaf_from_event(lx_fill_leaf *leaf, uint64_t fill_seq, uint64_t log_seq,
                               const lx_event *ev);

/* Writes the 85 leaf bytes. LX_EINVAL for NULLs or a bad side. */
lx_err lx_fill_leaf_encode(uint8_t out[LX_FILL_LEAF_LEN], const lx_fill_leaf *leaf);

/* Reads leaf bytes: LX_EFORMAT for a length other than 85 or a bad side. */
lx_err lx_fill_leaf_decode(lx_fill_leaf *leaf, const uint8_t *buf, size_t len);

/* Writes the Merkle leaf hash of the fill: sha256(0x00 || 85 bytes). */
lx_err lx_fill_leaf_hash(uint8_t out[LX_SHA256_LEN], const lx_fill_leaf *leaf);

/* -- net changes (settlement/netting.c) --
 * The net change of one account in one asset over a batch, 48 bytes:
 * u64 account | 32 asset_id | i64 delta (two's complement). A list is
 * canonical when sorted by (account, asset_id), unique, and every delta is
 * nonzero. */

#define LX_NET_LEAF_LEN 48

typedef struct lx_net_change {
    uint64_t account;
    uint8_t asset_id[LX_ASSET_ID_LEN];
    int64_t delta; /* nonzero */
} lx_net_change;

/* A deposit credited to, or a withdrawal paid out of, the channel. dest is
 * the X-Chain address paid (withdrawals only; zeros for deposits). */
typedef struct lx_transfer {
    uint64_t seq; /* log block that credited or debited it */
    uint64_t account;
    uint8_t asset_id[LX_ASSET_ID_LEN];
    uint64_t amount; /* nonzero */
    uint8_t dest[LX_XADDR_LEN];
} lx_transfer;

/* Writes the 48 leaf bytes of c. LX_EINVAL. */
lx_err lx_net_change_encode(uint8_t out[LX_NET_LEAF_LEN], const lx_net_change *c);

/* Writes the root over the leaf hashes of the n changes (which must be
 * canonical: LX_ECANONICAL otherwise). LX_EINVAL, LX_ENOMEM, LX_ECRYPTO. */
lx_err lx_net_root(uint8_t root[LX_SHA256_LEN], const lx_net_change *changes, size_t n);

/* Checks that changes are canonical (LX_ECANONICAL) and conserve value: for
 * every asset the deltas sum to the deposits minus the withdrawals in it.
 * Fees are credited to the fee account, which is in the list, so they cancel.
 * LX_ECORRUPT when some asset does not balance (its ID goes to bad_asset,
 * which may be NULL); LX_EINVAL, LX_ENOMEM. */
lx_err lx_net_check(uint8_t bad_asset[LX_ASSET_ID_LEN], const lx_net_change *changes, size_t n,
                    const lx_transfer *deposits, size_t ndeposits, const lx_transfer *withdrawals,
                    size_t nwithdrawals);

/* -- batches (settlement/batch.c) --
 * A batch covers the log blocks [first_seq, last_seq] of one channel. Its
 * hash is sha256 of its encoding, and batch n + 1 names the hash of batch n.
 * Encoding (213 bytes, then the lists):
 *   u8 version (1) | 32 channel_id | u64 number | 32 prev_hash |
 *   u64 first_seq | u64 last_seq | u64 first_fill | u64 fill_count |
 *   32 fills_root | u32 net_count | 32 net_root | 32 fee_asset | u64 tx_fee |
 *   u32 #deposits    { u64 seq | u64 account | 32 asset_id | u64 amount }
 *   u32 #withdrawals { u64 seq | u64 account | 32 asset_id | u64 amount |
 *                      20 dest }
 * Canonical: number >= 1; prev_hash is zero exactly when number is 1;
 * first_seq <= last_seq; an empty list has the empty root; transfers have
 * nonzero amounts and seqs in the range, in log order (non-decreasing). */

#define LX_BATCH_VERSION 1
#define LX_BATCH_HEADER_LEN 213
#define LX_BATCH_DEPOSITS_MAX 65536  /* deposits per batch */
#define LX_BATCH_WITHDRAWALS_MAX 256 /* withdrawals per batch: one output each */
#define LX_BATCH_ENC_MAX                                                                           \
    (LX_BATCH_HEADER_LEN + 8 + (size_t)LX_BATCH_DEPOSITS_MAX * 56 +                                \
     (size_t)LX_BATCH_WITHDRAWALS_MAX * 76)

/* The fixed fields of a batch. */
typedef struct lx_batch_info {
    uint8_t channel_id[LX_CHANNEL_ID_LEN];
    uint64_t number;
    uint8_t prev_hash[LX_SHA256_LEN];
    uint64_t first_seq, last_seq;
    uint64_t first_fill, fill_count;
    uint8_t fills_root[LX_SHA256_LEN];
    uint32_t net_count;
    uint8_t net_root[LX_SHA256_LEN];
    uint8_t fee_asset[LX_ASSET_ID_LEN];
    uint64_t tx_fee; /* the X-Chain fee the settlement tx pays, in fee_asset */
} lx_batch_info;

/* A batch (opaque, owned by the caller). A built batch also holds its fills
 * and net changes, so it answers proofs; a decoded one holds only what the
 * encoding carries. lx_batch_free() frees it and sets *b to NULL. */
typedef struct lx_batch lx_batch;
void lx_batch_free(lx_batch **b);

lx_err lx_batch_info_get(const lx_batch *b, lx_batch_info *out);
lx_err lx_batch_hash(const lx_batch *b, uint8_t out[LX_SHA256_LEN]);

/* Borrowed views, valid until lx_batch_free(); *n receives the count. Net
 * changes and fills are empty for a decoded batch. */
const lx_transfer *lx_batch_deposits(const lx_batch *b, size_t *n);
const lx_transfer *lx_batch_withdrawals(const lx_batch *b, size_t *n);
const lx_net_change *lx_batch_net_changes(const lx_batch *b, size_t *n);
const lx_fill_leaf *lx_batch_fills(const lx_batch *b, size_t *n);

/* The proof of fill i of the batch (0 <= i < fill_count) against fills_root.
 * LX_ESTATE for a decoded batch, LX_EINVAL for i out of range. */
lx_err lx_batch_fill_proof(const lx_batch *b, lx_merkle_proof *proof, uint64_t i);

/* Checks a fill against a batch: leaf.fill_seq is first_fill + proof.index,
 * proof.count is fill_count, and the proof leads from the leaf to fills_root.
 * LX_OK, LX_EFORMAT for a proof that does not fit the batch, LX_ECRYPTO for
 * a wrong leaf or proof, LX_EINVAL. */
lx_err lx_batch_verify_fill(const lx_batch *b, const lx_fill_leaf *leaf,
                            const lx_merkle_proof *proof);

/* Checks that next directly follows prev: same channel, number + 1,
 * prev_hash = hash(prev), first_seq = prev last_seq + 1 and first_fill =
 * prev first_fill + fill_count. LX_OK or LX_ESTATE. */
lx_err lx_batch_follows(const lx_batch *next, const lx_batch *prev);

/* The encoding: lx_batch_encoded_len() bytes written to out[0..out_cap).
 * LX_EINVAL when out_cap is too small. */
size_t lx_batch_encoded_len(const lx_batch *b);
lx_err lx_batch_encode(const lx_batch *b, uint8_t *out, size_t out_cap, size_t *out_len);

/* Decodes and validates batch bytes into a new batch owned by the caller.
 * LX_EFORMAT for truncation, trailing bytes, counts that do not match the
 * length, or a bad version; LX_ETOOBIG for lists over their caps;
 * LX_ECANONICAL for a batch that breaks a canonical rule above. */
lx_err lx_batch_decode(lx_batch **b, const uint8_t *buf, size_t len);

/* Rebuilds a built batch, one that holds its fills and net changes and
 * answers proofs, from its encoding, its fill leaves in fill order and its
 * net changes in canonical order (a .batch file's parts; fills and net are
 * copied). The errors of lx_batch_decode; LX_ECORRUPT when the counts, the
 * leaves' indices, the fills root or the net root are not the encoding's, or
 * the net changes do not conserve value with its transfers; LX_ENOMEM. */
lx_err lx_batch_rebuild(lx_batch **b, const uint8_t *enc, size_t enc_len, const lx_fill_leaf *fills,
                        size_t nfills, const lx_net_change *net, size_t nnet);

/* What the settlement tx must pay per asset: the withdrawals summed per
 * asset, plus tx_fee in fee_asset, sorted by asset ID, zeros left out.
 * *needs is malloc'd (the caller frees it; NULL when *n is 0). LX_EOVERFLOW
 * when a sum passes 2^64 - 1. */
typedef struct lx_asset_amount {
    uint8_t asset_id[LX_ASSET_ID_LEN];
    uint64_t amount;
} lx_asset_amount;
lx_err lx_batch_needs(const lx_batch *b, lx_asset_amount **needs, size_t *n);

/* -- the batch builder (settlement/batch.c) --
 * Accumulates the fills, deposits and withdrawals of the log blocks a node
 * applies, in log order, and closes a batch when the node decides (interval
 * or fill count). Closing chains the next batch to the one just closed. */

typedef struct lx_batch_config {
    uint8_t channel_id[LX_CHANNEL_ID_LEN];
    uint64_t fee_account; /* the engine's fee account */
    uint8_t fee_asset[LX_ASSET_ID_LEN];
    uint64_t tx_fee;
    uint64_t next_number;             /* number of the next batch, >= 1 */
    uint8_t prev_hash[LX_SHA256_LEN]; /* hash of batch next_number - 1; zeros for 1 */
    uint64_t next_seq;                /* first log block of the next batch */
    uint64_t next_fill;               /* global index of the next fill */
    /* Threads lx_batch_builder_close hashes on: 2 uses the caller's and one
     * helper thread; 0 or 1 the caller's only. The bytes are the same. */
    uint32_t threads;
} lx_batch_config;

typedef struct lx_batch_builder lx_batch_builder;

/* Creates a builder (owned by the caller; free with lx_batch_builder_free,
 * which sets *b to NULL). LX_EINVAL for next_number 0, or a prev_hash that is
 * zero when next_number > 1 or nonzero when it is 1. */
lx_err lx_batch_builder_new(lx_batch_builder **b, const lx_batch_config *cfg);
void lx_batch_builder_free(lx_batch_builder **b);

/* Registers an engine asset's X-Chain asset ID, and a market's assets and
 * lot (as lx_engine_market_info and lx_engine_asset_find report them). A
 * registration may repeat with the same values; LX_EEXIST when it differs,
 * or when another engine asset already has that asset ID. */
lx_err lx_batch_builder_add_asset(lx_batch_builder *b, uint32_t asset,
                                  const uint8_t asset_id[LX_ASSET_ID_LEN]);
lx_err lx_batch_builder_add_market(lx_batch_builder *b, uint32_t market, uint32_t base,
                                   uint32_t quote, uint64_t lot);

/* Adds one fill (an LX_EV_FILL event) of log block seq; it gets the next
 * global fill index. Deposits and withdrawals (engine asset ids) likewise.
 * seq must be >= the current batch's first seq and >= every seq added since
 * (LX_EINVAL). LX_ENOTFOUND for an unregistered market or asset; LX_ETOOBIG
 * past the deposit or withdrawal cap (close the batch first). On error
 * nothing was added. */
lx_err lx_batch_builder_add_fill(lx_batch_builder *b, uint64_t seq, const lx_event *ev);
lx_err lx_batch_builder_add_deposit(lx_batch_builder *b, uint64_t seq, uint64_t account,
                                    uint32_t asset, uint64_t amount);
lx_err lx_batch_builder_add_withdrawal(lx_batch_builder *b, uint64_t seq, uint64_t account,
                                       uint32_t asset, uint64_t amount,
                                       const uint8_t dest[LX_XADDR_LEN]);

/* Where a withdrawal is paid: writes the X-Chain address for (account,
 * asset) to dest and returns LX_OK, or an error that is passed on. */
typedef lx_err (*lx_dest_fn)(void *arg, uint8_t dest[LX_XADDR_LEN], uint64_t account,
                             uint32_t asset);

/* Adds the events of one applied log block: FILL events, and BALANCE events
 * of deposits and withdrawals (dest names each withdrawal's address; NULL
 * makes a withdrawal LX_EINVAL). Other events are ignored. All or nothing:
 * on error none of the block's events was added. */
lx_err lx_batch_builder_add_events(lx_batch_builder *b, uint64_t seq, const lx_event *evs, size_t n,
                                   lx_dest_fn dest, void *arg);

/* What the open batch holds so far. */
uint64_t lx_batch_builder_fill_count(const lx_batch_builder *b);
size_t lx_batch_builder_withdrawal_count(const lx_batch_builder *b);
/* Its configuration, whose next_* describe the open batch, and the last
 * block added to it (0: none yet). */
void lx_batch_builder_state(const lx_batch_builder *b, lx_batch_config *cfg, uint64_t *last_seq);

/* Closes the open batch over [first_seq, last_seq]: hashes the fills into
 * the Merkle root, nets the balances, checks conservation, and writes the
 * new batch (owned by the caller) to *out. The builder then opens batch
 * number + 1 at last_seq + 1, chained to this one. LX_EINVAL when last_seq is
 * below the first seq or a seq already added; LX_EOVERFLOW when a net change
 * does not fit in 63 bits (the builder is unchanged and can add more). */
lx_err lx_batch_builder_close(lx_batch_builder *b, lx_batch **out, uint64_t last_seq);

/* -- the builder's state (settlement/builder_codec.c) --
 * What a node stores beside an engine snapshot, so that a restart need not
 * replay the log to rebuild the open batch: the configuration, the
 * registered assets and markets and the open batch's lists. Encoding:
 *   u8 version (1) | 32 channel_id | u64 fee_account | 32 fee_asset |
 *   u64 tx_fee | u64 next_number | 32 prev_hash | u64 next_seq |
 *   u64 next_fill | u64 last_seq (the last block added) |
 *   u32 #assets  { u32 asset | 32 asset_id }        asset strictly increasing
 *   u32 #markets { u32 market | u32 base | u32 quote | u64 lot }
 *                                                   market strictly increasing
 *   u64 #fills   { 85 fill leaf }                   in fill order
 *   u32 #deposits    { u64 seq | u64 account | 32 asset_id | u64 amount }
 *   u32 #withdrawals { u64 seq | u64 account | 32 asset_id | u64 amount |
 *                      20 dest }
 * The net changes are not stored: decoding adds every fill and transfer
 * again, in block order, which recomputes them. threads is not stored. */

#define LX_BATCH_BUILDER_STATE_VERSION 1

/* Encodes b's state into *out (malloc'd, the caller frees it), *out_len
 * bytes. Equal states give equal bytes. LX_EINVAL, LX_ENOMEM. */
lx_err lx_batch_builder_encode(const lx_batch_builder *b, uint8_t **out, size_t *out_len);

/* Makes a builder (owned by the caller) from lx_batch_builder_encode's
 * bytes, with threads as in lx_batch_config; it closes the same batches as
 * the one encoded. Never reads past len. LX_EFORMAT for truncation,
 * trailing bytes, another version, or contents no builder holds (a
 * next_number and prev_hash that disagree, asset or market indices not
 * increasing or over 65535, an asset ID given twice, a fill whose index,
 * block or market does not fit, a transfer of an unregistered asset, blocks
 * out of order or after last_seq); LX_ETOOBIG for lists over their caps;
 * LX_ENOMEM. */
lx_err lx_batch_builder_decode(lx_batch_builder **b, const uint8_t *buf, size_t len,
                               uint32_t threads);

/* -- the settlement tx memo (settlement/memo.c) --
 * ASCII "lxdex/settle/v1 <number> <hash>": the batch number in decimal
 * without leading zeros (>= 1) and the batch hash in 64 lower-case hex
 * digits, single spaces, no terminator. At most 101 bytes. */

#define LX_SETTLE_MEMO_TAG "lxdex/settle/v1"
#define LX_SETTLE_MEMO_MAX 101

/* Writes the memo to out[0..out_cap) and its length to *out_len (no NUL).
 * LX_EINVAL for number 0 or a small buffer. */
lx_err lx_settle_memo_encode(uint8_t *out, size_t out_cap, size_t *out_len, uint64_t number,
                             const uint8_t hash[LX_SHA256_LEN]);

/* Parses a memo exactly as lx_settle_memo_encode writes it: LX_EFORMAT for
 * any other bytes (other tag, leading zeros, upper-case hex, extra bytes). */
lx_err lx_settle_memo_parse(uint64_t *number, uint8_t hash[LX_SHA256_LEN], const uint8_t *memo,
                            size_t len);

/* -- the channel and its inputs (settlement/select.c) -- */

/* A channel: its owners (n * 20 bytes, sorted, unique, 1 <= n <=
 * LX_OWNERS_MAX; borrowed) and the signatures needed to spend. */
typedef struct lx_channel {
    size_t nowners;
    const uint8_t *owners;
    uint32_t threshold; /* 1 <= threshold <= nowners */
} lx_channel;

/* The default threshold for n owners: ceil(2n / 3) (1 for n = 1), 0 for 0. */
uint32_t lx_quorum_threshold(size_t n);

/* Checks a channel (LX_EINVAL for unsorted or repeated owners, a bad count
 * or threshold) and writes its ID: sha256("lxdex/channel/v1" ||
 * u32 network_id || 32 blockchain_id || u32 threshold || u32 n || owners). */
lx_err lx_channel_id(uint8_t out[LX_CHANNEL_ID_LEN], const lx_channel *ch, uint32_t network_id,
                     const uint8_t blockchain_id[32]);

/* A UTXO on the channel's chain (a plain view: owners are borrowed). */
typedef struct lx_channel_utxo {
    uint8_t tx_id[32];
    uint32_t index;
    uint8_t asset_id[LX_ASSET_ID_LEN];
    uint64_t amount;
    uint64_t locktime;
    uint32_t threshold;
    size_t nowners;
    const uint8_t *owners; /* nowners * 20 bytes */
} lx_channel_utxo;

typedef struct lx_select_options {
    size_t max_inputs; /* 0: LX_SELECT_INPUTS_MAX */
    size_t sweep;      /* extra UTXOs to fold into the change, see below */
    uint64_t now;      /* unix seconds from the log, for locktimes */
} lx_select_options;

#define LX_SELECT_INPUTS_MAX 256

/* The chosen inputs (sorted by (tx_id, index); owners borrowed from the
 * caller's UTXOs) and the change per asset: what the inputs hold beyond the
 * needs, sorted by asset ID, zeros left out. Free with lx_selection_free. */
typedef struct lx_selection {
    size_t ninputs;
    lx_channel_utxo *inputs;
    size_t nchange;
    lx_asset_amount *change;
} lx_selection;
void lx_selection_free(lx_selection *s);

/* Chooses the settlement tx's inputs. The rule: (1) every output of prev
 * (the previous settlement tx's change) is an input; (2) the channel's
 * spendable UTXOs (owners and threshold exactly the channel's, locktime <=
 * now, not already in) are ranked by amount, largest first, then by
 * (tx_id, index); going down that list, a UTXO is taken while its asset is
 * not yet covered; (3) then up to sweep more of the rest, in (tx_id, index)
 * order; all within max_inputs. The order of utxos does not matter, and a
 * UTXO listed twice counts once. needs lists each asset once. LX_EINVAL for
 * a prev output the channel cannot spend or a UTXO listed twice with
 * different contents; LX_ESTATE when the funds do not cover needs;
 * LX_ETOOBIG past max_inputs; LX_EOVERFLOW when an asset's inputs pass
 * 2^64 - 1; LX_ENOMEM. */
lx_err lx_channel_select(lx_selection *out, const lx_channel *ch, const lx_select_options *opt,
                         const lx_channel_utxo *prev, size_t nprev, const lx_channel_utxo *utxos,
                         size_t nutxos, const lx_asset_amount *needs, size_t nneeds);

/* -- signatures and quorum certificates (settlement/quorum.c) --
 * Each node signs the 32-byte hash of the unsigned settlement tx. A
 * certificate gathers the signatures of distinct owners over that hash.
 * Encoding: u8 version (1) | 32 batch_hash | 32 tx_hash | u32 count |
 * count * { 20 signer | 65 signature }, signers strictly increasing. */

#define LX_CERT_VERSION 1
#define LX_CERT_ENC_MAX (69 + LX_OWNERS_MAX * (LX_XADDR_LEN + LX_SIG_LEN))

/* Signs tx_hash with key; writes the signature and the signer's address.
 * LX_EINVAL, LX_ESTATE (a wiped key), LX_ECRYPTO. */
lx_err lx_settle_sign(const lx_key *key, uint8_t signer[LX_XADDR_LEN], uint8_t sig[LX_SIG_LEN],
                      const uint8_t tx_hash[LX_SHA256_LEN]);

/* A certificate being collected or read (opaque, owned by the caller). */
typedef struct lx_cert lx_cert;

/* Starts an empty certificate for the channel's owners (copied) and the two
 * hashes. LX_EINVAL for a bad channel (see lx_channel_id), LX_ENOMEM. */
lx_err lx_cert_new(lx_cert **c, const lx_channel *ch, const uint8_t batch_hash[LX_SHA256_LEN],
                   const uint8_t tx_hash[LX_SHA256_LEN]);
void lx_cert_free(lx_cert **c);

/* Verifies sig over the tx hash and counts its signer. claimed, when not
 * NULL, is the address the sender says signed: it must be the one recovered.
 * The recovered signer goes to signer (may be NULL). LX_OK when counted;
 * LX_EEXIST when that signer was counted already (not counted twice);
 * LX_EPERM when the signer is not an owner (also what a signature over a
 * different hash gives); LX_ECRYPTO for a malformed signature or a claim that
 * does not match. */
lx_err lx_cert_add(lx_cert *c, uint8_t signer[LX_XADDR_LEN], const uint8_t sig[LX_SIG_LEN],
                   const uint8_t claimed[LX_XADDR_LEN]);

/* Distinct owners counted, and whether they reach the threshold. */
size_t lx_cert_count(const lx_cert *c);
bool lx_cert_complete(const lx_cert *c);

/* The first threshold signatures in owner order, for the tx credential:
 * sig_index[k] (strictly increasing) is the signer's position among the
 * owners and sigs[k] its signature, k < threshold. LX_ESTATE when the
 * certificate is not complete. */
lx_err lx_cert_pick(const lx_cert *c, uint32_t *sig_index, uint8_t (*sigs)[LX_SIG_LEN], size_t cap);

size_t lx_cert_encoded_len(const lx_cert *c);
lx_err lx_cert_encode(const lx_cert *c, uint8_t *out, size_t out_cap, size_t *out_len);

/* Decodes a certificate and verifies every signature against the channel:
 * LX_EFORMAT (bad version, truncation, counts, trailing bytes), LX_ETOOBIG
 * (more than LX_OWNERS_MAX), LX_ECANONICAL (signers not strictly
 * increasing), LX_ECRYPTO (a signature that does not recover to its signer),
 * LX_EPERM (a signer that is not an owner). An incomplete certificate decodes;
 * check lx_cert_complete(). */
lx_err lx_cert_decode(lx_cert **c, const lx_channel *ch, const uint8_t *buf, size_t len);

/* Reads back the hashes a certificate covers. */
lx_err lx_cert_hashes(const lx_cert *c, uint8_t batch_hash[LX_SHA256_LEN],
                      uint8_t tx_hash[LX_SHA256_LEN]);

#ifdef __cplusplus
}
#endif
#endif /* LX_SETTLEMENT_H */
