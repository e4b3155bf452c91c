/* Private interface of the node's settlement (node/settle*.c): its options,
 * the shared channel file, the data-dir files and the hooks the daemon calls.
 * See docs/settlement.md, "The node". */
#ifndef LX_SETTLE_INT_H
#define LX_SETTLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lx/bridge.h"
#include "node_int.h"

#define LX__SETTLE_ASSETS_MAX 64
#define LX__SETTLE_FUNDING_MAX 256

/* One channel UTXO named by the channel file (its owners and threshold are
 * the channel's). */
typedef struct lx__funding {
    uint8_t tx_id[32];
    uint32_t index;
    uint8_t asset_id[32];
    uint64_t amount;
    uint64_t locktime;
} lx__funding;

/* The channel file, parsed (docs/settlement.md, "The channel file"). Every
 * node of a cluster must load the same one. */
typedef struct lx__channel_cfg {
    uint32_t network_id;
    uint8_t blockchain_id[32];
    char hrp[16];
    size_t nowners;
    uint8_t owners[LX_OWNERS_MAX * LX_XADDR_LEN]; /* sorted, unique */
    uint32_t threshold;
    uint8_t fee_asset[32];
    uint64_t tx_fee;
    uint64_t fee_account;
    size_t max_inputs; /* 0: LX_SELECT_INPUTS_MAX */
    size_t nassets;
    struct {
        char symbol[LX_SYMBOL_MAX];
        uint8_t id[32];
    } assets[LX__SETTLE_ASSETS_MAX];
    size_t nfunding;
    lx__funding funding[LX__SETTLE_FUNDING_MAX];
} lx__channel_cfg;

/* Parses channel file text (JSON). LX_EINVAL with a one-line reason in err
 * for anything missing or wrong. Funding entries owned by other owners or
 * another threshold are skipped and counted in *skipped (may be NULL). */
lx_err lx__channel_parse(lx__channel_cfg *out, size_t *skipped, char *err, size_t errlen,
                         const char *text);
/* lx__channel_parse of a file's contents (at most 4 MiB). */
lx_err lx__channel_load(lx__channel_cfg *out, size_t *skipped, char *err, size_t errlen,
                        const char *path);
/* The lx_channel view of a parsed file (owners borrowed from cfg). */
void lx__channel_view(lx_channel *ch, const lx__channel_cfg *cfg);
/* The X-Chain asset ID of an engine asset symbol, or NULL. */
const uint8_t *lx__channel_asset(const lx__channel_cfg *cfg, const char *symbol);

/* ---- data-dir files (node/settle_store.c) ----
 * DATA_DIR/settle/<number, 20 digits>.batch  the batch, its fills and net
 *                                              changes (binary, below)
 * DATA_DIR/settle/<number>.json              number, range, hash, status, txID
 * DATA_DIR/settle/<number>.tx                leader: the signed tx, before it
 *                                              is first submitted
 * DATA_DIR/settle/<number>.times             the blocks with fills (text)
 * DATA_DIR/settle/fetch                      the next batch whose files are
 *                                              fetched (node/settle_fetch.c)
 * A .batch file: "LXSTLB01" | u32 batch_len | batch encoding |
 * fill_count * 85 fill leaves | net_count * 48 net changes. */

#define LX__SETTLE_FILE_MAGIC "LXSTLB01"

typedef enum lx__batch_status {
    LX__BATCH_CLOSED = 0,    /* in the log; not yet signed */
    LX__BATCH_SUBMITTED = 1, /* leader: signed and handed to the X-Chain */
    LX__BATCH_ACCEPTED = 2   /* its acceptance is in the log */
} lx__batch_status;

typedef struct lx__batch_record {
    uint64_t number;
    uint8_t channel_id[32];
    uint64_t first_seq, last_seq;
    uint64_t first_fill, fill_count;
    uint64_t deposits, withdrawals;
    uint8_t hash[32];
    lx__batch_status status;
    int has_tx;           /* tx_id is known */
    uint8_t tx_id[32];    /* submitted or accepted */
    uint64_t settled_seq; /* accepted: the block holding the acceptance */
    uint64_t settled_us;  /* accepted: that block's timestamp_us (every node alike) */
    uint64_t accepted_us; /* leader: wall clock (us) when the X-Chain said Accepted; 0
                             elsewhere (timing only, docs/settlement.md) */
} lx__batch_record;

/* Path of a batch file: dir/settle/<number as 20 digits><ext>. */
lx_err lx__settle_path(char *out, size_t cap, const char *data_dir, uint64_t number,
                       const char *ext);
/* Writes the .batch file of b (atomically: a temporary file, then a
 * rename; not fsynced, since the node rebuilds it from the log after a
 * crash). LX_EIO, LX_ENOMEM. */
lx_err lx__settle_write_batch(const char *path, const lx_batch *b);
/* A built batch (lx_batch_rebuild, owned by the caller) from the bytes of a
 * whole .batch file. LX_ECORRUPT for anything else, LX_ENOMEM. */
lx_err lx__settle_batch_from_file(lx_batch **b, const uint8_t *data, size_t len);
/* Reads a .batch file: the batch (decoded, owned by the caller), its fill
 * leaves and net changes (malloc'd, caller frees). Checks the counts and
 * that the leaves and changes give the batch's roots: LX_ECORRUPT otherwise,
 * LX_ENOTFOUND for a missing file, LX_EIO. */
lx_err lx__settle_read_batch(const char *path, lx_batch **b, lx_fill_leaf **fills, size_t *nfills,
                             lx_net_change **nets, size_t *nnets);
/* Writes the .json record (atomically, not fsynced, as above). */
lx_err lx__settle_write_record(const char *path, const lx__batch_record *r);
/* Reads a .json record. LX_ENOTFOUND, LX_EFORMAT, LX_EIO. */
lx_err lx__settle_read_record(const char *path, lx__batch_record *r);
/* Parses the bytes of a .json record (at most 4096). LX_EFORMAT. */
lx_err lx__settle_parse_record(lx__batch_record *r, const uint8_t *data, size_t len);
/* One log block's fills, for the fill-to-Accepted latency: the block's
 * seq, its timestamp_us (the leader's clock when it cut it) and how many
 * fills it made. */
typedef struct lx__fill_time {
    uint64_t seq, timestamp_us, fills;
} lx__fill_time;
/* Writes DATA_DIR/settle/<number>.times: one line "seq timestamp_us fills"
 * per block of the batch that made fills (atomically, not fsynced: derived
 * from the log). LX_EIO. */
lx_err lx__settle_write_times(const char *path, const lx__fill_time *v, size_t n);
/* Writes bytes to path atomically and durably (the file and its folder are
 * fsynced): the leader's signed tx. LX_EIO. */
lx_err lx__settle_write_file(const char *path, const uint8_t *data, size_t len);
/* Reads a whole file (at most cap bytes) into a malloc'd buffer. */
lx_err lx__settle_read_file(const char *path, uint8_t **data, size_t *len, size_t cap);

/* ---- deposits seen on the X-Chain (node/settle_watch.c) ---- */

/* A deposit's memo names the account to credit: "lxdex/deposit/v1 <account>",
 * the account in decimal without leading zeros, nothing else. */
#define LX__DEPOSIT_MEMO_TAG "lxdex/deposit/v1"
/* A deposit whose memo does not name an account is credited here. */
#define LX__SUSPENSE_ACCOUNT UINT64_MAX

/* Parses a deposit memo: LX_OK and *account, LX_EFORMAT for anything else. */
lx_err lx__deposit_memo_parse(uint64_t *account, const uint8_t *memo, size_t len);

/* A UTXO owned by exactly the channel, as the watcher saw it. */
typedef struct lx__chain_utxo {
    uint8_t tx_id[32];
    uint32_t index;
    uint8_t asset_id[32];
    uint64_t amount, locktime;
    int settlement;  /* its tx has a settlement memo: change, not a deposit */
    int has_account; /* its tx has a deposit memo naming account */
    uint64_t account;
} lx__chain_utxo;

/* The watcher thread (the leader's): every period_ms it lists the UTXOs of
 * the channel's first owner, keeps those owned by exactly the channel, and
 * reads each new tx's memo (getTx, cached). lx__watch_take hands over the
 * latest complete listing (malloc'd, the caller frees it) and returns 1, or
 * 0 when there is none since the last take. */
typedef struct lx__watch lx__watch;
lx_err lx__watch_start(lx__watch **w, const char *rpc_url, const lx__channel_cfg *ch,
                       uint32_t period_ms);
int lx__watch_take(lx__watch *w, lx__chain_utxo **v, size_t *n);
void lx__watch_stop(lx__watch **w);

/* ---- the node's hooks (node/settle.c) ---- */

typedef struct lx__settle lx__settle;

/* Sets settlement up when configured (n->settle stays NULL otherwise):
 * loads the key and the channel, and replays journal blocks 1..n->seq from
 * j so that batches, their txs and the chain of settlements are as before a
 * restart. LX_EINVAL (bad key, channel or options; logged), LX_ECORRUPT. */
lx_err lx__settle_init(lx__node *n, lx_journal *j);
void lx__settle_free(lx__node *n);
/* After every applied block (n->blk and n->evs hold it). */
void lx__settle_block(lx__node *n);
/* A SETTLE_REQ, SETTLE_SIG, BATCH_REQ or BATCH_PART from a peer (reached
 * on out slot `slot`). */
void lx__settle_peer(lx__node *n, const void *peer_msg, int slot);
/* Timers: the leader's batch close, signature rounds, submission; on any
 * node, the fetching of missing batch files. */
void lx__settle_tick(lx__node *n, uint64_t now_us);
/* Waits for a submission in flight (shutdown). */
void lx__settle_stop(lx__node *n);
/* For a snapshot after block n->seq: the settlement section into *sec
 * (malloc'd, the caller frees), and the batches [*files_from, *files_to]
 * whose files must be made durable before the snapshot is written (none
 * when from > to). LX_ESTATE while settlement is halted (no snapshot then),
 * LX_ENOMEM, or an encoding error (logged). */
lx_err lx__settle_snapshot(lx__node *n, uint8_t **sec, size_t *len, uint64_t *files_from,
                           uint64_t *files_to);
/* Checks a section a peer sent with its snapshot at seq (e: that
 * snapshot's engine, restored) against this node's channel: LX_OK, or
 * LX_ECORRUPT with why. */
lx_err lx__settle_check_section(const lx__settle *s, const uint8_t *buf, size_t len, uint64_t seq,
                                const lx_engine *e, char *why, size_t cap);

#endif /* LX_SETTLE_INT_H */
