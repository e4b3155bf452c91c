/* lx-devnet private interfaces: the genesis, the two AVM chains with their
 * shared atomic memory, the block store, the JSON-RPC layer and the HTTP
 * adapter. Nothing outside bridge/devnet includes this header. */
#ifndef LX_DEVNET_H
#define LX_DEVNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lx/bridge.h"

#define LX__DN_ID 32
#define LX__DN_ADDR 20
#define LX__DN_CHAINS 2        /* X and Y */
#define LX__DN_TX_MAX 65536    /* the mempool refuses a tx over 64 KiB */
#define LX__DN_MEMO_MAX 256    /* bytes */
#define LX__DN_TX_FEE 1000000u /* of the fee asset, per tx */
#define LX__DN_PAGE_MAX 1024   /* addresses and UTXOs per getUTXOs page */
#define LX__DN_MSG 256         /* size of an error message buffer */

/* ---- a map from 32-byte ids to pointers (map.c) ---- */

/* Open addressing with linear probing; keys are hashes, so their first bytes
 * are the hash. Values are never NULL. The map does not own its values. */
typedef struct lx__dn_map {
    struct lx__dn_slot *slots;
    size_t cap, n;
} lx__dn_map;

void lx__dn_map_init(lx__dn_map *m);
void lx__dn_map_free(lx__dn_map *m);
/* LX_EEXIST if key is present (nothing changes), LX_ENOMEM. */
lx_err lx__dn_map_put(lx__dn_map *m, const uint8_t key[LX__DN_ID], void *val);
void *lx__dn_map_get(const lx__dn_map *m, const uint8_t key[LX__DN_ID]);
/* Removes key and returns its value, or NULL if absent. */
void *lx__dn_map_del(lx__dn_map *m, const uint8_t key[LX__DN_ID]);
/* Iterates: start with *pos = 0; returns the next value or NULL at the end. */
void *lx__dn_map_next(const lx__dn_map *m, size_t *pos);

/* ---- genesis (genesis.c) ---- */

typedef struct lx__dn_asset {
    char symbol[16];
    char name[64];
    uint8_t denomination;
    uint8_t id[LX__DN_ID];
} lx__dn_asset;

typedef struct lx__dn_alloc {
    uint8_t addr[LX__DN_ADDR];
    size_t asset;      /* index into assets */
    uint64_t amount;   /* per UTXO */
    uint64_t locktime; /* unix seconds; 0 = none */
    uint32_t utxos;    /* how many UTXOs of amount each */
    int chain;         /* 0 = X, 1 = Y */
} lx__dn_alloc;

typedef struct lx__dn_validator {
    char node_id[64];
    uint64_t weight;
} lx__dn_validator;

typedef struct lx__dn_genesis {
    uint32_t network_id;
    char hrp[16];
    lx__dn_asset *assets;
    size_t nassets;
    lx__dn_alloc *allocs;
    size_t nallocs;
    lx__dn_validator *validators;
    size_t nvalidators;
    uint8_t chain_id[LX__DN_CHAINS][LX__DN_ID];     /* X, Y */
    uint8_t genesis_txid[LX__DN_CHAINS][LX__DN_ID]; /* where allocations live */
    uint8_t digest[LX__DN_ID];                      /* identifies this genesis in the block store */
} lx__dn_genesis;

/* Parses a genesis JSON text (see docs/devnet.md). On failure writes a
 * message to msg. *out is owned by the caller: lx__dn_genesis_free. */
lx_err lx__dn_genesis_parse(lx__dn_genesis **out, char *msg, size_t msglen, const char *json,
                            size_t len);
/* The built-in genesis used without --genesis. */
lx_err lx__dn_genesis_default(lx__dn_genesis **out);
void lx__dn_genesis_free(lx__dn_genesis **g);
/* Index of the asset with this id, or -1. */
int lx__dn_genesis_asset(const lx__dn_genesis *g, const uint8_t id[LX__DN_ID]);

/* ---- transactions as the chain sees them (tx.c: the codec adapter) ---- */

/* A decoded signed tx with the signer of every signature slot. */
typedef struct lx__dn_tx {
    lx_tx *tx;
    const lx_tx_spec *spec; /* borrowed from tx */
    uint8_t id[LX__DN_ID];
    size_t ninputs;                  /* base then imported, credential order */
    size_t *first;                   /* ninputs + 1: slots of input i start at first[i] */
    uint8_t (*signers)[LX__DN_ADDR]; /* one per slot, recovered */
    uint8_t *bytes;                  /* the signed bytes */
    size_t len;
} lx__dn_tx;

/* The input i of tx in credential order (base inputs, then imported). */
const lx_xin *lx__dn_tx_input(const lx__dn_tx *tx, size_t i);

/* Decodes signed tx bytes, rejects non-canonical forms and recovers the
 * signer address of every signature. Pure: needs no chain state. On failure
 * returns LX_EFORMAT, LX_ECANONICAL, LX_ECRYPTO, LX_EUNSUPPORTED or LX_ETOOBIG
 * with a message. *out is owned by the caller: lx__dn_tx_free. */
lx_err lx__dn_tx_decode(lx__dn_tx **out, char *msg, size_t msglen, const uint8_t *buf, size_t len);
void lx__dn_tx_free(lx__dn_tx **tx);

/* UTXO id = sha256(u64 be outputIndex || txID), as avalanchego's ID.Prefix. */
void lx__dn_utxo_id(uint8_t out[LX__DN_ID], const uint8_t txid[LX__DN_ID], uint32_t index);
/* sha256 of buf. */
void lx__dn_sha256(uint8_t out[LX__DN_ID], const void *buf, size_t len);

/* ---- ids as text (tx.c) ---- */

/* cb58 of a 32-byte id into buf (at least 64 bytes). */
void lx__dn_id_str(char *buf, size_t buflen, const uint8_t id[LX__DN_ID]);
lx_err lx__dn_id_parse(uint8_t id[LX__DN_ID], const char *s);
/* "X-<hrp>1…" (or "Y-…") of a 20-byte address, into buf (at least 96). */
lx_err lx__dn_addr_str(char *buf, size_t buflen, char chain, const char *hrp,
                       const uint8_t addr[LX__DN_ADDR]);
/* Accepts "X-hrp1…", "Y-hrp1…" or "hrp1…" with the genesis's hrp. */
lx_err lx__dn_addr_parse(uint8_t addr[LX__DN_ADDR], const char *hrp, const char *s);
/* "0x" + hex(bytes || checksum). Returns a malloc'd string or NULL. */
char *lx__dn_hex_encode(const uint8_t *buf, size_t len);
/* Decodes "0x…" with checksum into a malloc'd buffer (caller frees). */
lx_err lx__dn_hex_decode(uint8_t **out, size_t *out_len, const char *s);

/* ---- the chains (chain.c) ---- */

typedef struct lx__dn lx__dn;

typedef enum lx__dn_status {
    LX__DN_UNKNOWN = 0,
    LX__DN_PROCESSING,
    LX__DN_ACCEPTED,
    LX__DN_REJECTED
} lx__dn_status;

/* A UTXO, on a chain or in shared memory waiting for import. */
typedef struct lx__dn_utxo {
    uint8_t id[LX__DN_ID]; /* utxo id, see lx__dn_utxo_id */
    uint8_t txid[LX__DN_ID];
    uint32_t index;
    int source; /* for shared memory: the exporting chain */
    lx_xout out;
} lx__dn_utxo;

/* Creates the devnet from g (it takes ownership of g). With data_dir non-NULL
 * replays the stored blocks first. log gets one line per accepted block. */
lx_err lx__dn_open(lx__dn **out, char *msg, size_t msglen, lx__dn_genesis *g, const char *data_dir,
                   FILE *log);
void lx__dn_close(lx__dn **d);
const lx__dn_genesis *lx__dn_genesis_of(const lx__dn *d);

/* Verifies tx against chain's state and mempool and queues it. Writes its id.
 * A tx that is already known (pending or accepted) gives LX_OK and its id.
 * Errors: LX_EREJECTED (with msg) and the decode errors. */
lx_err lx__dn_issue(lx__dn *d, uint8_t txid[LX__DN_ID], char *msg, size_t msglen, int chain,
                    const uint8_t *buf, size_t len);
lx__dn_status lx__dn_status_of(lx__dn *d, int chain, const uint8_t txid[LX__DN_ID]);
/* Copies an accepted tx's bytes into a malloc'd buffer. LX_ENOTFOUND. */
lx_err lx__dn_get_tx(lx__dn *d, uint8_t **out, size_t *out_len, int chain,
                     const uint8_t txid[LX__DN_ID]);
uint64_t lx__dn_height(lx__dn *d, int chain);

/* Cuts one block per chain from its mempool, with timestamp now (seconds).
 * Returns the number of txs accepted. Errors are store failures. */
lx_err lx__dn_build_blocks(lx__dn *d, size_t *accepted, uint64_t now);

/* A page of UTXOs owned by any of addrs (sorted, unique), ordered by
 * (address, utxo id), starting after (start_addr, start_utxo) when has_start.
 * source < 0: the chain's own UTXOs; else shared memory from source. Calls fn
 * for each (under the state lock: fn must not call back in). Writes the last
 * position to end_addr/end_utxo, unchanged if nothing was fetched. */
typedef void (*lx__dn_utxo_fn)(void *arg, const lx__dn_utxo *u);
size_t lx__dn_utxos(lx__dn *d, int chain, int source, const uint8_t (*addrs)[LX__DN_ADDR],
                    size_t naddrs, bool has_start, const uint8_t start_addr[LX__DN_ADDR],
                    const uint8_t start_utxo[LX__DN_ID], size_t limit,
                    uint8_t end_addr[LX__DN_ADDR], uint8_t end_utxo[LX__DN_ID], lx__dn_utxo_fn fn,
                    void *arg);
/* Sum of addr's UTXOs in asset, calling fn for each. Without partial only
 * UTXOs that addr alone owns and can spend now count. LX_EOVERFLOW. */
lx_err lx__dn_balance(lx__dn *d, uint64_t *total, int chain, const uint8_t addr[LX__DN_ADDR],
                      const uint8_t asset[LX__DN_ID], bool partial, lx__dn_utxo_fn fn, void *arg);

/* getAddressTxs: the accepted txs that spent or created a UTXO owned by
 * addr in asset (its own outputs; not exported ones), in acceptance order,
 * each once. Calls fn for up to limit of them from position cursor (under
 * the state lock) and returns how many. */
typedef void (*lx__dn_txid_fn)(void *arg, const uint8_t txid[LX__DN_ID]);
size_t lx__dn_address_txs(lx__dn *d, int chain, const uint8_t addr[LX__DN_ADDR],
                          const uint8_t asset[LX__DN_ID], uint64_t cursor, size_t limit,
                          lx__dn_txid_fn fn, void *arg);

/* Encodes a UTXO as getUTXOs returns it, into a malloc'd buffer. */
lx_err lx__dn_utxo_encode(uint8_t **out, size_t *out_len, const lx__dn_utxo *u);

/* ---- the block store (store.c) ---- */

typedef struct lx__dn_store lx__dn_store;

/* One stored block: the chain, its height and timestamp, and its txs. */
typedef struct lx__dn_block {
    int chain;
    uint64_t height, timestamp;
    size_t ntxs;
    const uint8_t **txs;
    const size_t *lens;
} lx__dn_block;

typedef lx_err (*lx__dn_block_fn)(void *arg, const lx__dn_block *b);

/* Opens (creating if needed) dir/blocks.log for genesis digest. Calls fn for
 * every stored block in order. A torn last record is cut off; a bad checksum
 * elsewhere or another genesis gives LX_ECORRUPT with a message. */
lx_err lx__dn_store_open(lx__dn_store **out, char *msg, size_t msglen, const char *dir,
                         const uint8_t digest[LX__DN_ID], lx__dn_block_fn fn, void *arg);
/* Appends a block and syncs it to disk. */
lx_err lx__dn_store_append(lx__dn_store *s, const lx__dn_block *b);
void lx__dn_store_close(lx__dn_store **s);

/* ---- JSON-RPC (api.c) ---- */

/* Handles one POST body for path. Returns a malloc'd JSON reply (caller
 * frees), never NULL unless out of memory; *status gets the HTTP status. */
char *lx__dn_rpc(lx__dn *d, int *status, const char *path, const char *body, size_t len);

/* ---- HTTP server (httpd.c, the only user of libmicrohttpd) ---- */

typedef struct lx__dn_httpd_cfg {
    const char *bind;
    uint16_t port;
    size_t max_body;
    unsigned threads;
    uint32_t fault_latency_ms;
    double fault_503_rate;
    double fault_drop_rate;
    uint64_t fault_seed;
} lx__dn_httpd_cfg;

typedef struct lx__dn_httpd lx__dn_httpd;

lx_err lx__dn_httpd_start(lx__dn_httpd **out, char *msg, size_t msglen, const lx__dn_httpd_cfg *cfg,
                          lx__dn *d);
/* The port it listens on (the chosen one when cfg->port was 0). */
uint16_t lx__dn_httpd_port(const lx__dn_httpd *h);
void lx__dn_httpd_stop(lx__dn_httpd **h);

#endif /* LX_DEVNET_H */
