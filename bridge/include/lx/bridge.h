/* lxdex bridge: the X-Chain AVM codec, addresses and encodings, the JSON-RPC
 * client and the idempotent submitter. */
#ifndef LX_BRIDGE_H
#define LX_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lx/settlement.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- encodings: hex with checksum, cb58, bech32 (bridge/encoding.c) ---- */

/* Every encoder writes a NUL-terminated string into out[0..out_cap) and
 * returns LX_EINVAL when it does not fit (the *_len helpers give the size to
 * allocate, NUL included). Every decoder writes at most out_cap bytes, sets
 * *out_len, and returns LX_EFORMAT for bad characters or lengths, LX_ECORRUPT
 * for a checksum mismatch, LX_EINVAL for NULL arguments or a too-small out. */

#define LX_ID_LEN 32          /* tx, asset and chain IDs */
#define LX_ADDR_LEN 20        /* an address: hash160 of a compressed pubkey */
#define LX_CHECKSUM_LEN 4     /* the last 4 bytes of sha256(bytes) */
#define LX_CB58_ID_MAX 64     /* room for a cb58 ID, NUL included */
#define LX_ADDR_STR_MAX 96    /* room for "X-<hrp>1…" (bech32 caps at 90) */
#define LX_PRIVKEY_STR_MAX 80 /* room for "PrivateKey-<cb58>" */

/* Plain lower-case hex, no prefix, no checksum. Decoding accepts either case
 * and an optional "0x". */
size_t lx_hex_len(size_t len);
lx_err lx_hex_encode(char *out, size_t out_cap, const uint8_t *data, size_t len);
lx_err lx_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str);

/* The API's "hex" encoding: "0x" + hex(data || checksum). Decoding requires
 * the "0x" and checks the checksum; *out_len excludes the checksum. */
size_t lx_hexcs_len(size_t len);
lx_err lx_hexcs_encode(char *out, size_t out_cap, const uint8_t *data, size_t len);
lx_err lx_hexcs_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str);

/* Base58 with the Bitcoin alphabet; leading zero bytes become '1'. Inputs are
 * capped at 1024 bytes / 1400 characters (LX_ETOOBIG). */
size_t lx_base58_len(size_t len);
lx_err lx_base58_encode(char *out, size_t out_cap, const uint8_t *data, size_t len);
lx_err lx_base58_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str);

/* cb58: base58(data || checksum). Decoding checks and strips the checksum. */
size_t lx_cb58_len(size_t len);
lx_err lx_cb58_encode(char *out, size_t out_cap, const uint8_t *data, size_t len);
lx_err lx_cb58_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *str);

/* A 32-byte ID in cb58, e.g. a txID. The decoder requires exactly 32 bytes. */
lx_err lx_id_to_cb58(char out[LX_CB58_ID_MAX], const uint8_t id[LX_ID_LEN]);
lx_err lx_id_from_cb58(uint8_t id[LX_ID_LEN], const char *str);

/* BIP-173 bech32 (not bech32m) over 5-bit groups: data5 values are 0..31.
 * The encoder lower-cases hrp; the decoder accepts one case only, writes the
 * lower-case hrp to hrp_out, and returns LX_ETOOBIG over 90 characters. */
lx_err lx_bech32_encode5(char *out, size_t out_cap, const char *hrp, const uint8_t *data5,
                         size_t len);
lx_err lx_bech32_decode5(char *hrp_out, size_t hrp_cap, uint8_t *data5, size_t data5_cap,
                         size_t *data5_len, const char *str);

/* bech32 over bytes (regrouped 8 -> 5 bits with zero padding, and back; the
 * decoder rejects nonzero or over-long padding with LX_EFORMAT). */
lx_err lx_bech32_encode(char *out, size_t out_cap, const char *hrp, const uint8_t *data,
                        size_t len);
lx_err lx_bech32_decode(char *hrp_out, size_t hrp_cap, uint8_t *out, size_t out_cap,
                        size_t *out_len, const char *str);

/* Address text "<chain>-<hrp>1…", e.g. "X-local1…". chain NULL writes no
 * prefix. */
lx_err lx_address_encode(char *out, size_t out_cap, const char *chain, const char *hrp,
                         const uint8_t addr[LX_ADDR_LEN]);

/* Parses address text. chain non-NULL requires the "<chain>-" prefix; NULL
 * requires that there is none (LX_EFORMAT otherwise). hrp non-NULL requires
 * that HRP (LX_EFORMAT otherwise); NULL accepts any. The payload must be 20
 * bytes. */
lx_err lx_address_decode(uint8_t addr[LX_ADDR_LEN], const char *chain, const char *hrp,
                         const char *str);

/* Address of a compressed public key: hash160(pub). */
lx_err lx_address_from_pubkey(uint8_t addr[LX_ADDR_LEN], const uint8_t pub[LX_PUBKEY_LEN]);

/* ---- keys and key files (bridge/keys.c) ---- */

/* Address of a key: hash160 of its compressed public key. */
lx_err lx_key_address(const lx_key *key, uint8_t addr[LX_ADDR_LEN]);

/* "PrivateKey-" + cb58(secret), the form wallets and the node's API use.
 * The string holds the secret: wipe it with lx_wipe() after use. */
lx_err lx_privkey_encode(const lx_key *key, char *out, size_t out_cap);

/* Parses "PrivateKey-<cb58>" into a new key owned by the caller. LX_EFORMAT
 * without the prefix, LX_ECORRUPT on a checksum mismatch, LX_ECRYPTO for a
 * scalar that is not a valid secret. */
lx_err lx_privkey_decode(lx_key **key, const char *str);

/* Writes a key file: one line "PrivateKey-<cb58>\n", mode 0600. The file is
 * written to a temporary name in the same directory, synced, then linked to
 * path, so path either does not exist or holds the whole key. Never replaces
 * an existing file: LX_EEXIST. LX_EIO for other file errors. */
lx_err lx_keyfile_write(const lx_key *key, const char *path);

/* Creates path, mode 0600, holding the len bytes of text, the way
 * lx_keyfile_write does: a synced temporary file linked into place, never
 * replacing an existing file (LX_EEXIST); LX_EIO for other file errors. For
 * any secret a tool writes. */
lx_err lx_secret_file_create(const char *path, const char *text, size_t len);

/* Reads a key file into a new key owned by the caller. The file must be a
 * regular file with no group or other permission bits (mode & 077 == 0),
 * otherwise LX_EPERM. It holds "PrivateKey-<cb58>" or 64 hex digits
 * (optionally "0x"), with surrounding whitespace ignored; anything else is
 * LX_EFORMAT, over 4096 bytes LX_ETOOBIG, a missing file LX_ENOTFOUND. */
lx_err lx_keyfile_read(lx_key **key, const char *path);

/* ---- AVM codec: transactions and UTXOs (bridge/codec.c) ---- */

/* Byte-exact, canonical X-Chain (AVM) encoding of BaseTx, ImportTx, ExportTx,
 * their SECP256K1 credentials, and UTXOs; see docs/xchain-codec.md.
 *
 * The plain structs below are views: their pointers are borrowed. To build,
 * the caller fills them with its own memory and the codec copies it. Objects
 * returned by the codec (lx_tx, lx_utxo) own their memory; the views they hand
 * out point into it and stay valid until the object is freed.
 *
 * Decoders return LX_EFORMAT for truncated or malformed bytes (bad lengths,
 * unknown type IDs or codec version, zero amounts, bad thresholds, a #sigs
 * that does not match the input, trailing bytes), LX_ECANONICAL for order and
 * uniqueness violations, LX_ETOOBIG for a tx over 64 KiB or a memo over 256
 * bytes, LX_EUNSUPPORTED for CreateAssetTx, OperationTx and MintOutput. When
 * why is not NULL it receives a short static reason, also on success ("ok"). */

#define LX_MEMO_MAX 256      /* memo bytes */
#define LX_TX_MAX 65536      /* signed tx bytes accepted by the mempool */
#define LX_XFER_OUT_TYPE 7   /* SECP256K1TransferOutput */
#define LX_XFER_IN_TYPE 5    /* SECP256K1TransferInput */
#define LX_CREDENTIAL_TYPE 9 /* SECP256K1Credential */

/* A transfer output (TransferableOutput with a SECP256K1TransferOutput). */
typedef struct lx_xout {
    uint8_t asset_id[LX_ID_LEN];
    uint64_t amount;    /* nonzero */
    uint64_t locktime;  /* unix seconds; 0 = none */
    uint32_t threshold; /* <= naddrs; 0 only when naddrs == 0 */
    size_t naddrs;
    const uint8_t *addrs; /* naddrs * LX_ADDR_LEN bytes */
} lx_xout;

/* A transfer input: spends UTXO (tx_id, output_index). sig_indices index the
 * spent output's (sorted) addresses, strictly increasing; one signature per
 * index, in that order. */
typedef struct lx_xin {
    uint8_t tx_id[LX_ID_LEN];
    uint32_t output_index;
    uint8_t asset_id[LX_ID_LEN];
    uint64_t amount; /* nonzero; equals the UTXO's amount */
    size_t nsigs;
    const uint32_t *sig_indices;
} lx_xin;

/* A UTXO as getUTXOs returns it: codec 0, txID, index, asset, output. */
typedef struct lx_xutxo {
    uint8_t tx_id[LX_ID_LEN];
    uint32_t output_index;
    lx_xout out;
} lx_xutxo;

typedef enum lx_tx_kind {
    LX_TX_BASE = 0,   /* BaseTx */
    LX_TX_IMPORT = 3, /* ImportTx */
    LX_TX_EXPORT = 4  /* ExportTx */
} lx_tx_kind;

/* The fields of a tx. other_chain is the destination chain of an ExportTx or
 * the source chain of an ImportTx (ignored for BaseTx); xouts are an ExportTx's
 * exported outputs, xins an ImportTx's imported inputs (must be empty
 * otherwise). */
typedef struct lx_tx_spec {
    lx_tx_kind kind;
    uint32_t network_id;
    uint8_t blockchain_id[LX_ID_LEN];
    size_t nouts;
    const lx_xout *outs;
    size_t nins;
    const lx_xin *ins;
    size_t memo_len;
    const uint8_t *memo;
    uint8_t other_chain[LX_ID_LEN];
    size_t nxouts;
    const lx_xout *xouts;
    size_t nxins;
    const lx_xin *xins;
} lx_tx_spec;

/* A transaction (opaque): its fields in canonical order, its unsigned bytes,
 * and one signature slot per sig index of each input. Inputs are numbered
 * 0..n-1 in credential order: the base inputs, then the imported inputs, each
 * in their canonical order (as lx_tx_view() shows them). */
typedef struct lx_tx lx_tx;

/* Builds a tx from spec, sorting it canonically: outputs by (asset, bytes),
 * inputs by (txID, index), each output's addresses. Does not sort sig_indices.
 * Returns LX_EINVAL for a bad spec (zero amount, bad threshold, duplicate
 * address or input, sig_indices not strictly increasing, a kind that is not
 * one of the three), LX_ETOOBIG for a memo over 256 bytes or a signed size
 * over 64 KiB, LX_ENOMEM. On success *tx is the caller's; all signature slots
 * are empty. */
lx_err lx_tx_build(lx_tx **tx, const lx_tx_spec *spec);

/* Decodes signed tx bytes (with credentials, as issueTx takes them). On
 * success *tx is the caller's with every signature slot filled. */
lx_err lx_tx_decode(lx_tx **tx, const char **why, const uint8_t *buf, size_t len);

/* Decodes unsigned tx bytes (no credentials); the slots are empty. */
lx_err lx_tx_decode_unsigned(lx_tx **tx, const char **why, const uint8_t *buf, size_t len);

void lx_tx_free(lx_tx **tx);

/* The tx's fields, canonical order; borrowed, valid until lx_tx_free(). */
const lx_tx_spec *lx_tx_view(const lx_tx *tx);

/* Number of inputs (base + imported) and of signature slots of input i. */
size_t lx_tx_input_count(const lx_tx *tx);
size_t lx_tx_sig_count(const lx_tx *tx, size_t input);

/* Sizes of the unsigned bytes and of the signed bytes (all slots counted). */
size_t lx_tx_unsigned_len(const lx_tx *tx);
size_t lx_tx_signed_len(const lx_tx *tx);

/* Copies the unsigned bytes to out. LX_EINVAL when out_cap is too small. */
lx_err lx_tx_encode_unsigned(const lx_tx *tx, uint8_t *out, size_t out_cap, size_t *out_len);

/* Writes sha256(unsigned bytes): the hash every signature covers. */
lx_err lx_tx_hash(const lx_tx *tx, uint8_t hash[LX_SHA256_LEN]);

/* Writes the signed bytes. LX_ESTATE when a signature slot is empty. */
lx_err lx_tx_encode(const lx_tx *tx, uint8_t *out, size_t out_cap, size_t *out_len);

/* Writes the txID, sha256(signed bytes). LX_ESTATE when a slot is empty. */
lx_err lx_tx_id(const lx_tx *tx, uint8_t id[LX_ID_LEN]);

/* True when every signature slot is filled. */
bool lx_tx_is_signed(const lx_tx *tx);

/* Signs with explicit keys: keys[0..nkeys) hold, for input 0, one key per sig
 * index in order, then input 1, and so on (nkeys = total slots, else
 * LX_EINVAL). Fills every slot. */
lx_err lx_tx_sign_keys(lx_tx *tx, const lx_key *const *keys, size_t nkeys);

/* Returns the caller's key for addr, or NULL when it has none. */
typedef const lx_key *(*lx_key_lookup_fn)(void *arg, const uint8_t addr[LX_ADDR_LEN]);

/* Signs by owner: for each input, finds its UTXO in utxos (by txID and index;
 * LX_ENOTFOUND if absent), checks asset and amount match (LX_EINVAL), and asks
 * lookup for the key of each address its sig indices name (LX_EINVAL for an
 * index past the addresses, LX_ENOTFOUND when lookup returns NULL, LX_ECRYPTO
 * when the key's address is not the owner). Fills every slot; on error no
 * slot changes. One key signs the hash once however many slots it fills. */
lx_err lx_tx_sign_lookup(lx_tx *tx, lx_key_lookup_fn lookup, void *arg, const lx_xutxo *utxos,
                         size_t nutxos);

/* External signers. lx_tx_set_sig() puts sig into slot (input, slot) without
 * checking it (LX_EINVAL for a bad position). lx_tx_add_sig() recovers the
 * signer of sig over lx_tx_hash() and puts sig into every slot whose owner (in
 * utxos) is that signer; *filled (may be NULL) receives the number of slots.
 * LX_ECRYPTO for a bad signature, LX_ENOTFOUND when it fills no slot. */
lx_err lx_tx_set_sig(lx_tx *tx, size_t input, size_t slot, const uint8_t sig[LX_SIG_LEN]);
lx_err lx_tx_add_sig(lx_tx *tx, size_t *filled, const lx_xutxo *utxos, size_t nutxos,
                     const uint8_t sig[LX_SIG_LEN]);

/* Copies the signature of slot (input, slot) to sig. LX_EINVAL for a bad
 * position, LX_ENOTFOUND when the slot is empty. */
lx_err lx_tx_get_sig(const lx_tx *tx, uint8_t sig[LX_SIG_LEN], size_t input, size_t slot);

/* Checks the tx against the UTXOs it spends, as a node does (except locktime
 * and fee): each input's UTXO is in utxos (LX_ENOTFOUND), asset and amount
 * match (LX_EINVAL), #sigs equals the threshold and every sig index is below
 * #addresses (LX_EINVAL), and each signature recovers to the address its sig
 * index names (LX_ECRYPTO). LX_ESTATE when a slot is empty. why as above. */
lx_err lx_tx_verify(const lx_tx *tx, const char **why, const lx_xutxo *utxos, size_t nutxos);

/* Checks value flow per asset: inputs (base + imported) >= outputs (base +
 * exported), and for fee_asset inputs >= outputs + fee. LX_EINVAL when not,
 * LX_EOVERFLOW when a sum does not fit 64 bits. */
lx_err lx_tx_check_fee(const lx_tx *tx, const uint8_t fee_asset[LX_ID_LEN], uint64_t fee);

/* A UTXO (opaque, owned by the caller). */
typedef struct lx_utxo lx_utxo;

/* Creates a UTXO from a view (copied; addresses sorted). LX_EINVAL for a zero
 * amount, a bad threshold or duplicate addresses. */
lx_err lx_utxo_new(lx_utxo **utxo, const lx_xutxo *view);

/* Decodes UTXO bytes (the getUTXOs form, checksum already stripped). */
lx_err lx_utxo_decode(lx_utxo **utxo, const char **why, const uint8_t *buf, size_t len);

void lx_utxo_free(lx_utxo **utxo);

/* The UTXO's fields; borrowed, valid until lx_utxo_free(). */
const lx_xutxo *lx_utxo_view(const lx_utxo *utxo);

size_t lx_utxo_encoded_len(const lx_utxo *utxo);
lx_err lx_utxo_encode(const lx_utxo *utxo, uint8_t *out, size_t out_cap, size_t *out_len);

/* ---- JSON-RPC client (bridge/rpc.c) and submitter (bridge/submit.c) ---- */

/* A JSON-RPC 2.0 client for one node's X-Chain API (docs/xchain-rpc.md).
 * It POSTs to <base>/ext/bc/<chain>, <base>/ext/info and <base>/ext/bc/P over
 * one reused keep-alive connection. Transport failures, timeouts, HTTP 5xx and
 * 429 are retried with exponential backoff plus jitter until max_retries or
 * the retry deadline; a JSON-RPC error answer is never retried. A handle is
 * not thread-safe: use one per thread. */
typedef struct lx_rpc lx_rpc;

/* The method prefix of the chain API: luxd serves xvm.*, avalanchego avm.*. */
typedef enum lx_rpc_prefix {
    LX_RPC_PREFIX_AUTO = 0, /* probe with xvm.getHeight, fall back to avm. */
    LX_RPC_PREFIX_XVM = 1,
    LX_RPC_PREFIX_AVM = 2
} lx_rpc_prefix;

typedef struct lx_rpc_options {
    uint32_t connect_timeout_ms; /* TCP connect, per attempt (default 2000) */
    uint32_t timeout_ms;         /* one whole attempt (default 10000) */
    uint32_t retry_deadline_ms;  /* no attempt starts this long after a call
                                    began (default 30000) */
    uint32_t max_retries;        /* attempts after the first (default 8) */
    uint32_t backoff_initial_ms; /* first retry delay, doubling (default 50) */
    uint32_t backoff_max_ms;     /* cap of the delay (default 2000) */
    size_t max_response_bytes;   /* larger bodies give LX_ETOOBIG (default 8 MiB) */
    size_t max_utxos;            /* getUTXOs total cap, LX_ETOOBIG (default 1 << 20) */
    uint32_t utxo_page_limit;    /* getUTXOs "limit", 1..1024 (default 1024) */
    uint64_t jitter_seed;        /* backoff jitter PRNG seed; 0 picks one */
    lx_rpc_prefix prefix;        /* default LX_RPC_PREFIX_AUTO */
    const char *chain;           /* chain alias or ID in /ext/bc/<chain>
                                    (default "X"); copied by lx_rpc_new */
} lx_rpc_options;

/* Fills *o with the defaults above. */
void lx_rpc_options_init(lx_rpc_options *o);

/* Creates a client for base_url ("http://127.0.0.1:9630", no trailing path).
 * opts may be NULL for the defaults; it is copied. *out is owned by the
 * caller: free it with lx_rpc_free. LX_EINVAL for a bad URL or option. */
lx_err lx_rpc_new(lx_rpc **out, const char *base_url, const lx_rpc_options *opts);

/* Closes the connection, frees *c (NULL is fine) and sets *c to NULL. */
void lx_rpc_free(lx_rpc **c);

/* The last call's failure. Returns its message: the server's text for a
 * JSON-RPC error, otherwise a description of the transport, HTTP or format
 * failure; "" after a success. The string is owned by c and valid until the
 * next call on c. Writes the JSON-RPC error code (0 if the failure was not a
 * JSON-RPC error) to *rpc_code and the last HTTP status (0 if no response) to
 * *http_status; either pointer may be NULL. */
const char *lx_rpc_last_error(const lx_rpc *c, int64_t *rpc_code, int *http_status);

/* HTTP attempts made by the last call (1 when it was not retried; a call
 * that first probed the prefix counts the probe too). */
uint32_t lx_rpc_last_attempts(const lx_rpc *c);

/* Milliseconds on the monotonic clock that lx_rpc_set_deadline uses. */
uint64_t lx_rpc_now_ms(void);

/* Sets an absolute deadline (lx_rpc_now_ms() time; 0 clears it) that every
 * later call honours on top of its own retry deadline: no attempt starts
 * after it and no attempt runs past it. Calls that find it passed return
 * LX_ETIMEDOUT without sending. */
void lx_rpc_set_deadline(lx_rpc *c, uint64_t at_ms);

/* The deadline set by lx_rpc_set_deadline, 0 if none. */
uint64_t lx_rpc_deadline(const lx_rpc *c);

/* Determines the chain method prefix now (xvm.getHeight, then avm.) unless it
 * is known already. Calls do this on their own the first time it is needed. */
lx_err lx_rpc_probe(lx_rpc *c);

/* The chain method prefix in use: "xvm", "avm", or NULL before a probe. */
const char *lx_rpc_prefix_name(const lx_rpc *c);

/* Where a raw call goes. */
typedef enum lx_rpc_endpoint {
    LX_RPC_CHAIN = 0,   /* /ext/bc/<chain> */
    LX_RPC_INFO = 1,    /* /ext/info */
    LX_RPC_PLATFORM = 2 /* /ext/bc/P */
} lx_rpc_endpoint;

/* Calls method (in full, e.g. "xvm.getHeight") on endpoint with params_json
 * (a JSON object as text; NULL sends {}). On success *result_json is the
 * "result" member as compact JSON text, malloc'd, freed by the caller with
 * free(). Same retry and error rules as every call. */
lx_err lx_rpc_call_raw(lx_rpc *c, char **result_json, lx_rpc_endpoint endpoint, const char *method,
                       const char *params_json);

/* A byte string owned by its holder; free with lx_rpc_blob_free. */
typedef struct lx_rpc_blob {
    uint8_t *bytes;
    size_t len;
} lx_rpc_blob;
void lx_rpc_blob_free(lx_rpc_blob *b); /* frees bytes, zeroes *b */

typedef enum lx_tx_status {
    LX_TX_UNKNOWN = 0,    /* the node does not know the tx */
    LX_TX_PROCESSING = 1, /* issued, not decided */
    LX_TX_ACCEPTED = 2,
    LX_TX_REJECTED = 3
} lx_tx_status;

/* "Unknown", "Processing", "Accepted", "Rejected"; "?" for other values. */
const char *lx_tx_status_str(lx_tx_status s);

/* <prefix>.issueTx: sends the signed tx bytes (hex encoding) and writes the
 * node's txID to tx_id (may be NULL). LX_EEXIST if the node says it has the
 * tx already (duplicate / already issued); LX_EREJECTED for any other -32000
 * answer (the tx failed verification; lx_rpc_last_error has the reason). */
lx_err lx_rpc_issue_tx(lx_rpc *c, uint8_t tx_id[32], const uint8_t *tx, size_t tx_len);

/* <prefix>.getTxStatus. An unexpected status string gives LX_EFORMAT. */
lx_err lx_rpc_get_tx_status(lx_rpc *c, lx_tx_status *status, const uint8_t tx_id[32]);

/* <prefix>.getTx (hex): the tx's signed bytes, checksum verified, into *tx
 * (owned by the caller). LX_ERPC if the node does not have it accepted. */
lx_err lx_rpc_get_tx(lx_rpc *c, lx_rpc_blob *tx, const uint8_t tx_id[32]);

typedef struct lx_rpc_utxos {
    lx_rpc_blob *v; /* each is one UTXO's bytes (codec version first) */
    size_t n;
} lx_rpc_utxos;
void lx_rpc_utxos_free(lx_rpc_utxos *u); /* frees all, zeroes *u */

/* <prefix>.getUTXOs (hex) of the addresses ("X-lux1…" text), following
 * endIndex page by page until a page comes back short. More than 1024
 * addresses are asked in groups of 1024 and the union is returned without
 * duplicates (then ordered by bytes). source_chain (NULL for none) asks for
 * UTXOs exported to this chain from that chain. *out is owned by the caller.
 * LX_ETOOBIG past max_utxos. */
lx_err lx_rpc_get_utxos(lx_rpc *c, lx_rpc_utxos *out, const char *const *addresses,
                        size_t n_addresses, const char *source_chain);

typedef struct lx_rpc_utxo_id {
    uint8_t tx_id[32];
    uint32_t output_index;
} lx_rpc_utxo_id;

typedef struct lx_rpc_balance {
    uint64_t balance;
    lx_rpc_utxo_id *utxo_ids;
    size_t n_utxo_ids;
} lx_rpc_balance;
void lx_rpc_balance_free(lx_rpc_balance *b); /* frees utxo_ids, zeroes *b */

/* <prefix>.getBalance of one address in one asset. *out owned by the caller. */
lx_err lx_rpc_get_balance(lx_rpc *c, lx_rpc_balance *out, const char *address,
                          const uint8_t asset_id[32]);

#define LX_RPC_ASSET_NAME_MAX 129 /* 128 bytes and the NUL */
#define LX_RPC_ASSET_SYMBOL_MAX 5 /* 4 bytes and the NUL */
typedef struct lx_rpc_asset {
    uint8_t asset_id[32];
    char name[LX_RPC_ASSET_NAME_MAX];
    char symbol[LX_RPC_ASSET_SYMBOL_MAX];
    uint8_t denomination; /* 0..32 */
} lx_rpc_asset;

/* <prefix>.getAssetDescription. Longer names or symbols give LX_EFORMAT. */
lx_err lx_rpc_get_asset_description(lx_rpc *c, lx_rpc_asset *out, const uint8_t asset_id[32]);

/* <prefix>.getHeight: the last accepted height. */
lx_err lx_rpc_get_height(lx_rpc *c, uint64_t *height);

/* info.getNetworkID. */
lx_err lx_rpc_get_network_id(lx_rpc *c, uint32_t *network_id);

/* info.getBlockchainID of alias ("X", "P", ...). */
lx_err lx_rpc_get_blockchain_id(lx_rpc *c, uint8_t blockchain_id[32], const char *alias);

typedef struct lx_rpc_tx_fee {
    uint64_t tx_fee;
    uint64_t create_asset_tx_fee;
} lx_rpc_tx_fee;

/* info.getTxFee. */
lx_err lx_rpc_get_tx_fee(lx_rpc *c, lx_rpc_tx_fee *out);

#define LX_RPC_NODE_ID_MAX 64
typedef struct lx_rpc_validator {
    char node_id[LX_RPC_NODE_ID_MAX]; /* "NodeID-…" */
    uint64_t weight;                  /* "weight" (or older "stakeAmount") */
    uint64_t start_time, end_time;    /* Unix seconds */
    bool connected;                   /* false when absent */
} lx_rpc_validator;

typedef struct lx_rpc_validators {
    lx_rpc_validator *v;
    size_t n;
} lx_rpc_validators;
void lx_rpc_validators_free(lx_rpc_validators *vs); /* frees v, zeroes *vs */

/* platform.getCurrentValidators of the primary network (subnet_id NULL) or of
 * a subnet (its ID as text). *out owned by the caller. */
lx_err lx_rpc_get_current_validators(lx_rpc *c, lx_rpc_validators *out, const char *subnet_id);

/* For benchmarks only: POSTs body (Content-Type: application/json) to url
 * count times over one fresh keep-alive libcurl handle with no retries, caps
 * or parsing, after one untimed warm-up POST, and writes the time of the
 * count timed POSTs in nanoseconds. The baseline the client is measured
 * against (node/tools/lx-bench-rpc.c). LX_EHTTP unless every status is 200. */
lx_err lx_rpc_bench_bare_posts(uint64_t *elapsed_ns, const char *url, const char *body,
                               uint32_t count);

/* The idempotent submitter. */
typedef struct lx_submit_options {
    uint32_t deadline_ms;        /* the whole submission (default 60000) */
    uint32_t poll_interval_ms;   /* between getTxStatus polls (default 250) */
    uint32_t resend_interval_ms; /* re-send the same bytes while the node says
                                    Unknown this long after the last send
                                    (default 2000) */
} lx_submit_options;

/* Fills *o with the defaults above. */
void lx_submit_options_init(lx_submit_options *o);

typedef struct lx_submit_report {
    lx_tx_status status; /* the last status the node reported; ACCEPTED
                            only if the node said Accepted */
    uint32_t sends;      /* issueTx calls, all with the same bytes */
    uint32_t polls;      /* getTxStatus calls */
    uint32_t attempts;   /* HTTP attempts of all those calls, retries too */
    uint64_t elapsed_ms;
    lx_err last_err;   /* the last failed call's error, LX_OK if none */
    char message[256]; /* that failure's message (lx_rpc_last_error) */
} lx_submit_report;

/* Issues the signed tx (tx_id = sha256(tx), computed by the caller and
 * checked here) and
 * tracks it until the node reports Accepted or Rejected, or the deadline.
 * After an uncertain outcome (timeout, dropped reply, 5xx) it asks
 * getTxStatus and re-sends the same bytes; "already issued" counts as
 * issued, and a refusal is checked against getTxStatus before it is
 * believed, so a tx issued by an earlier attempt (or another submitter) is
 * seen as Accepted. Returns LX_OK only when the node said Accepted;
 * LX_EREJECTED if it said Rejected or refused the tx; LX_ETIMEDOUT at the
 * deadline; LX_EINVAL for bad arguments or when the node names a different
 * txID; LX_ERPC/LX_EHTTP for a persistent API failure. Writes *report
 * (may be NULL) in every case. opts may be NULL for the defaults. */
lx_err lx_submit_tx(lx_rpc *c, lx_submit_report *report, const uint8_t *tx, size_t tx_len,
                    const uint8_t tx_id[32], const lx_submit_options *opts);

/* ---- wallet: UTXO selection and tx assembly (bridge/wallet.c) ---- */

/* A wallet serves one party on one chain: it holds that party's keys
 * (borrowed) and the UTXOs they may spend or import (copied), chooses inputs
 * for a set of outputs plus the fee, and builds and signs a BaseTx, ExportTx
 * or ImportTx that returns the rest as change. Only lx_wallet_fetch,
 * lx_wallet_fetch_own, lx_wallet_chain_query and lx_wallet_asset_lookup talk
 * to the node. Not thread-safe. See docs/xchain.md. */

#define LX_WALLET_DEFAULT_FEE 1000000u /* the X-Chain txFee: 1 milliLUX in nLUX */
#define LX_WALLET_KEYS_MAX 64          /* keys per wallet */
#define LX_WALLET_INPUTS_MAX 256       /* base inputs per tx */
#define LX_WALLET_IMPORT_MAX 256       /* imported inputs per ImportTx */
#define LX_WALLET_OUTPUTS_MAX 256      /* paid outputs per tx */

/* The chain a wallet builds for, and its fee (in fee_asset; 0 pays none). */
typedef struct lx_wallet_chain {
    uint32_t network_id;
    uint8_t blockchain_id[LX_ID_LEN];
    uint8_t fee_asset[LX_ID_LEN];
    uint64_t fee;
} lx_wallet_chain;

typedef struct lx_wallet lx_wallet;

/* Creates an empty wallet for chain (copied). *w is the caller's; free it
 * with lx_wallet_free. LX_EINVAL, LX_ENOMEM. */
lx_err lx_wallet_new(lx_wallet **w, const lx_wallet_chain *chain);

/* Frees *w and its UTXOs (not the keys), sets *w to NULL. NULL-safe. */
void lx_wallet_free(lx_wallet **w);

/* Adds a key. The wallet keeps the pointer: the key must outlive it. The
 * first key's address receives change by default. LX_EEXIST for a second key
 * of the same address, LX_ETOOBIG past LX_WALLET_KEYS_MAX. */
lx_err lx_wallet_add_key(lx_wallet *w, const lx_key *key);

/* Number of keys, and the address of key i (LX_EINVAL past the end). */
size_t lx_wallet_key_count(const lx_wallet *w);
lx_err lx_wallet_key_address(const lx_wallet *w, uint8_t addr[LX_ADDR_LEN], size_t i);

/* Adds a copy of utxo: one of this chain's (atomic false) or one exported to
 * this chain by another and waiting in shared memory (atomic true, spent only
 * by an ImportTx). A UTXO already held is ignored. LX_EINVAL for a bad
 * output (see lx_utxo_new), LX_ENOMEM. */
lx_err lx_wallet_add_utxo(lx_wallet *w, const lx_xutxo *utxo, bool atomic);

/* getUTXOs of addresses ("X-<hrp>1...") on c's chain, every page, each UTXO
 * added as by lx_wallet_add_utxo: this chain's own when source_chain is NULL,
 * otherwise the atomic UTXOs exported to it from source_chain. UTXOs the codec
 * does not support (e.g. mint outputs) are skipped and counted in *skipped
 * (may be NULL). Errors of lx_rpc_get_utxos and lx_utxo_decode. */
lx_err lx_wallet_fetch(lx_wallet *w, size_t *skipped, lx_rpc *c, const char *const *addresses,
                       size_t n, const char *source_chain);

/* lx_wallet_fetch of the addresses of every key, as "<alias>-<hrp>1...". */
lx_err lx_wallet_fetch_own(lx_wallet *w, size_t *skipped, lx_rpc *c, const char *alias,
                           const char *hrp, const char *source_chain);

/* Fills *out from the node (c's chain): info.getNetworkID, info.getBlockchainID
 * of alias, the fee asset named fee_asset (lx_wallet_asset_lookup, e.g.
 * "LUX"), and info.getTxFee's txFee, or LX_WALLET_DEFAULT_FEE when the node
 * has no such method (a JSON-RPC error). Errors of the client. */
lx_err lx_wallet_chain_query(lx_rpc *c, lx_wallet_chain *out, const char *alias,
                             const char *fee_asset);

/* The UTXOs held, in the order added: a borrowed view of UTXO i (NULL past
 * the end) valid until lx_wallet_free, and in *atomic (may be NULL) whether it
 * is an atomic one. */
size_t lx_wallet_utxo_count(const lx_wallet *w);
const lx_xutxo *lx_wallet_utxo_at(const lx_wallet *w, size_t i, bool *atomic);

/* True when the keys can spend u at unix time now: its locktime has passed
 * and the wallet holds keys for at least threshold of its owners. */
bool lx_wallet_can_spend(const lx_wallet *w, const lx_xutxo *u, uint64_t now);

/* What to pay and how. Pointers are borrowed for the call. */
typedef struct lx_wallet_spend {
    lx_tx_kind kind; /* LX_TX_BASE, LX_TX_EXPORT or LX_TX_IMPORT */
    /* The outputs to pay: a BaseTx's or ImportTx's outputs, or an ExportTx's
     * exported outputs (at least one). */
    size_t npay;
    const lx_xout *pay;
    size_t memo_len;
    const uint8_t *memo;
    uint8_t other_chain[LX_ID_LEN]; /* ExportTx destination, ImportTx source */
    /* nuse > 0: spend exactly these UTXOs of this chain, all of them. */
    size_t nuse;
    const lx_rpc_utxo_id *use;
    /* nfrom > 0: spend and import only UTXOs whose owner set is exactly these
     * nfrom addresses (nfrom * LX_ADDR_LEN bytes). */
    size_t nfrom;
    const uint8_t *from;
    /* The owners of the change (nchange * LX_ADDR_LEN bytes) and their
     * threshold (0 means 1). nchange 0: the from set with the highest
     * threshold among the spent UTXOs, or without one the first key. */
    size_t nchange;
    const uint8_t *change;
    uint32_t change_threshold;
    uint64_t now; /* unix seconds, for locktimes */
} lx_wallet_spend;

/* Builds and signs the tx of s. Inputs: for an ImportTx every atomic UTXO the
 * keys can spend (up to LX_WALLET_IMPORT_MAX); then, per asset, the named
 * UTXOs, or else the largest spendable UTXOs of the asset until the paid
 * outputs plus the fee (in the fee asset) are covered. Whatever the inputs
 * hold beyond that goes back as one change output per asset. Each input is
 * signed by the first threshold owners the wallet has keys for. On success
 * *tx is the caller's, fully signed, and passes lx_tx_check_fee. Errors, with
 * a reason in why (may be NULL): LX_EINVAL for a bad request, LX_ENOTFOUND
 * for a named UTXO the wallet does not hold or an ImportTx with nothing to
 * import, LX_EPERM when the funds are there but locked or need keys that were
 * not given, LX_ESTATE for insufficient funds, LX_ETOOBIG past the input or
 * output caps, LX_EOVERFLOW, and the errors of lx_tx_build. */
lx_err lx_wallet_build(lx_wallet *w, lx_tx **tx, char *why, size_t why_cap,
                       const lx_wallet_spend *s);

/* Per-asset sums over the wallet's own (not atomic) UTXOs, in order of first
 * appearance: total; alone, the UTXOs with one owner and no pending locktime
 * (what getBalance reports for that owner); spendable, those the keys can
 * spend at now (lx_wallet_can_spend). Writes up to cap entries to out and
 * their number to *n; LX_ETOOBIG when there are more assets, LX_EOVERFLOW. */
typedef struct lx_wallet_sum {
    uint8_t asset_id[LX_ID_LEN];
    uint64_t total, alone, spendable;
    size_t utxos;
} lx_wallet_sum;
lx_err lx_wallet_sums(const lx_wallet *w, lx_wallet_sum *out, size_t cap, size_t *n, uint64_t now);

/* Describes the asset name names: a cb58 asset ID, or a symbol or alias the
 * node resolves (getAssetDescription takes either). Errors of the client;
 * LX_EFORMAT when the answer names no valid ID. */
lx_err lx_wallet_asset_lookup(lx_rpc *c, lx_rpc_asset *out, const char *name);

/* The bech32 HRP of a network ID: "lux" for 1 and 96369, "local" for 12345
 * and 31337, NULL for any other (luxd does not report its HRP). Static. */
const char *lx_wallet_network_hrp(uint32_t network_id);

/* Parses an address of chain alias in hrp: "<alias>-<hrp>1..." or, without
 * the prefix, "<hrp>1...". LX_EFORMAT for another chain's prefix or a bad
 * address, with a reason in why (may be NULL); LX_EINVAL for NULL arguments. */
lx_err lx_wallet_address_parse(uint8_t addr[LX_ADDR_LEN], char *why, size_t why_cap,
                               const char *text, const char *alias, const char *hrp);

/* Parses a comma-separated list of such addresses (empty items skipped)
 * into addrs (room for cap addresses, cap * LX_ADDR_LEN bytes) and their
 * number into *n (0 on error). LX_EFORMAT for a bad address or an empty list,
 * LX_ETOOBIG for more than cap addresses or cap * LX_ADDR_STR_MAX characters,
 * each with a reason in why (may be NULL); LX_EINVAL, LX_ENOMEM. */
lx_err lx_wallet_owners_parse(uint8_t *addrs, size_t cap, size_t *n, char *why, size_t why_cap,
                              const char *list, const char *alias, const char *hrp);

/* An output to pay as given on a command line (lx-xchain's --to, --owners,
 * --amount, --threshold, --locktime); each member is text or NULL. */
typedef struct lx_wallet_output_text {
    const char *to;        /* the one owner, or NULL */
    const char *owners;    /* or a comma-separated owner list (multisig) */
    const char *amount;    /* decimal, positive; required */
    const char *threshold; /* decimal 1..#owners; NULL: 1 for to, else all */
    const char *locktime;  /* decimal unix seconds; NULL: 0 */
} lx_wallet_output_text;

/* Fills *out from t, except asset_id (the caller's): owners parsed as
 * lx_wallet_owners_parse into addrs (room for cap addresses; out->addrs
 * points there), or default_owner (may be NULL) when t has neither to nor
 * owners. LX_EINVAL for a bad amount, threshold or locktime, no owner or
 * NULL arguments; the errors of lx_wallet_owners_parse for the owners. A
 * reason goes to why (may be NULL). */
lx_err lx_wallet_output_parse(lx_xout *out, uint8_t *addrs, size_t cap, char *why, size_t why_cap,
                              const lx_wallet_output_text *t, const char *alias, const char *hrp,
                              const uint8_t *default_owner);

/* Asset descriptions, each asked of the node once: a cache of up to
 * LX_ASSET_CACHE_MAX (past that, the newest one is replaced). It borrows the
 * client, which must outlive it. Not thread-safe. */
#define LX_ASSET_CACHE_MAX 16
typedef struct lx_asset_cache lx_asset_cache;

/* Creates an empty cache over c. *ac is the caller's; free it with
 * lx_asset_cache_free. LX_EINVAL, LX_ENOMEM. */
lx_err lx_asset_cache_new(lx_asset_cache **ac, lx_rpc *c);

/* Frees *ac and sets it to NULL. NULL-safe. */
void lx_asset_cache_free(lx_asset_cache **ac);

/* The asset name names (a cb58 asset ID, or a symbol the node resolves, as
 * lx_wallet_asset_lookup): from the cache, else from the node. *out points
 * into the cache, valid until the next call on ac. Errors of
 * lx_wallet_asset_lookup, with the client's lx_rpc_last_error. */
lx_err lx_asset_cache_find(lx_asset_cache *ac, const lx_rpc_asset **out, const char *name);

/* The symbol of asset_id, from the cache, else from getAssetDescription;
 * NULL when the node does not describe it. Owned by the cache, valid until
 * the next call on ac. */
const char *lx_asset_cache_symbol(lx_asset_cache *ac, const uint8_t asset_id[LX_ID_LEN]);

/* ---- tx to JSON, tx from text (bridge/txjson.c) ---- */

/* Txs and UTXOs as JSON text, as lx-xchain decode and utxos print them
 * (docs/xchain.md): IDs in cb58, amounts and locktimes as decimal strings,
 * addresses "<alias>-<hrp>1..." (alias NULL: no prefix). Each sets *json to
 * compact JSON text with its members in a fixed order, freed by the caller
 * with free(). LX_EINVAL for NULL arguments, LX_ENOMEM. */

/* Every field of tx: type, signed (is_signed), codec, typeID, bytes,
 * unsignedHash (what the signatures cover), networkID, blockchainID, outputs,
 * inputs (each with sigIndices and, when is_signed, every signature and the
 * "signer" address it recovers to, null when it does not recover), memoHex,
 * memo (null unless UTF-8); then destinationChain and exportedOutputs (no
 * chain prefix) of an ExportTx, or sourceChain and importedInputs of an
 * ImportTx; then, when is_signed, the txID. is_signed says whether tx came
 * with its credentials (lx_tx_decode) or without (lx_tx_decode_unsigned):
 * "bytes" is the size of that form. */
lx_err lx_tx_to_json(char **json, const lx_tx *tx, const char *alias, const char *hrp,
                     bool is_signed);

/* One UTXO: assetID, symbol (null when symbol is NULL), amount, locktime,
 * threshold, addresses, utxoID ("TXID:INDEX"), txID, outputIndex. */
lx_err lx_utxo_to_json(char **json, const lx_xutxo *u, const char *alias, const char *hrp,
                       const char *symbol);

/* Tx bytes from text: the API's hex ("0x" + hex with checksum), else plain
 * hex (with or without "0x"). On success *buf is malloc'd, the caller's, with
 * *len bytes, and *checksummed says which form it was. The errors of
 * lx_hex_decode for text that is neither, LX_ETOOBIG over LX_TX_MAX bytes,
 * LX_EINVAL, LX_ENOMEM. */
lx_err lx_tx_hex_decode(uint8_t **buf, size_t *len, bool *checksummed, const char *text);

/* ---- settlement transactions (bridge/settle_tx.c) ---- */

/* The X-Chain BaseTx that settles one batch (docs/settlement.md, "The
 * settlement transaction"). Every honest node that gives the same batch,
 * channel, signer set and UTXO view gets byte-identical unsigned bytes and
 * so the same tx hash, which the nodes then sign (lx_settle_sign).
 *
 * Inputs: the channel UTXOs lx_channel_select chooses (the previous
 * settlement's change always among them), each with sig indices = the
 * signer set. Outputs: one per withdrawal (amount, threshold 1, the
 * withdrawal's dest, locktime 0), and one change output per asset with what
 * the inputs hold beyond the withdrawals and the fee, owned by the channel's
 * owners with its threshold. Fee: the batch's tx_fee in its fee_asset,
 * exactly. Memo: lx_settle_memo_encode(batch number, batch hash).
 *
 * The sig indices are part of the signed bytes, so the owners who will sign
 * are fixed before anyone signs: the signer set, threshold owner positions
 * strictly increasing, by default the first threshold owners. */

typedef struct lx_settle_params {
    uint32_t network_id;
    uint8_t blockchain_id[LX_ID_LEN];
    const lx_channel *channel; /* borrowed for the call; copied */
    /* Owner positions that sign, strictly increasing, exactly the channel's
     * threshold of them; nsigners 0 means 0, 1, ..., threshold - 1. */
    size_t nsigners;
    const uint32_t *signers;
    lx_select_options select; /* max_inputs, sweep, now (from the log) */
} lx_settle_params;

/* A settlement tx and what it was built from (opaque, owned by the caller;
 * lx_settle_tx_free frees it and sets *st to NULL, NULL-safe). */
typedef struct lx_settle_tx lx_settle_tx;

/* Builds the unsigned settlement tx of batch. prev are the previous
 * settlement's change outputs (none for the channel's first settlement),
 * utxos the channel's UTXOs as the node sees them, in any order and with
 * repeats (lx_channel_select). On success *st is the caller's, unsigned.
 * LX_EINVAL for bad arguments, a bad channel or signer set, or a withdrawal
 * whose output would look like channel change (a one-owner, threshold-one
 * channel paying its owner); LX_ESTATE when the funds do not cover the
 * withdrawals and the fee, or nothing would be spent; the errors of
 * lx_batch_needs, lx_channel_select and lx_tx_build. */
lx_err lx_settle_tx_build(lx_settle_tx **st, const lx_settle_params *p, const lx_batch *batch,
                          const lx_channel_utxo *prev, size_t nprev, const lx_channel_utxo *utxos,
                          size_t nutxos);
void lx_settle_tx_free(lx_settle_tx **st);

/* The tx (borrowed, valid until lx_settle_tx_free): lx_tx_hash is what the
 * owners sign, lx_tx_encode_unsigned its bytes; once signed, lx_tx_encode
 * and lx_tx_id give the bytes to issue and the txID. */
const lx_tx *lx_settle_tx_get(const lx_settle_tx *st);

/* The UTXOs the tx spends, in input order, as lx_tx_verify takes them
 * (borrowed, valid until lx_settle_tx_free); *n receives the count. */
const lx_xutxo *lx_settle_tx_spent(const lx_settle_tx *st, size_t *n);

/* Fills every signature slot from a quorum certificate over this tx: the
 * certificate's tx hash and batch hash must be this tx's (LX_EINVAL
 * otherwise), it must be complete (lx_cert_complete) and hold a signature
 * of each owner of the signer set (LX_ESTATE otherwise). Input k's
 * credential gets the signer set's signatures in sig-index order, the same
 * for every input. The result is checked with lx_tx_verify against the
 * spent UTXOs (LX_ECRYPTO if it fails). On error no slot changes. */
lx_err lx_settle_tx_sign_cert(lx_settle_tx *st, const lx_cert *cert);

/* The signed bytes and the txID: *tx_bytes is malloc'd (the caller frees
 * it) with *len bytes. LX_ESTATE while unsigned, LX_ENOMEM. */
lx_err lx_settle_tx_encode(const lx_settle_tx *st, uint8_t **tx_bytes, size_t *len,
                           uint8_t tx_id[LX_ID_LEN]);

/* The change outputs of a signed settlement tx (tx from lx_settle_tx_get or
 * lx_tx_decode), which the next settlement must spend: every output owned by
 * exactly ch's owners with its threshold, as (txID, output index, asset,
 * amount), owners pointing at ch->owners. Writes up to cap entries to out
 * and their number to *n. LX_ESTATE when tx is not signed (no txID yet),
 * LX_ETOOBIG past cap, LX_EINVAL. */
lx_err lx_settle_change(lx_channel_utxo *out, size_t cap, size_t *n, const lx_tx *tx,
                        const lx_channel *ch);

/* lx_settle_change for a tx whose txID the caller knows (id), signed or
 * not: a node that built the unsigned tx learns the txID of the signed one
 * from the log. Same errors, except that an unsigned tx is fine. */
lx_err lx_settle_change_id(lx_channel_utxo *out, size_t cap, size_t *n, const lx_tx *tx,
                           const lx_channel *ch, const uint8_t id[LX_ID_LEN]);

/* A UTXO of the codec as the channel selection sees it (owners borrowed
 * from u). */
void lx_settle_utxo_from_x(lx_channel_utxo *out, const lx_xutxo *u);

/* The audit check of a signed settlement tx taken from the chain (bytes as
 * getTx gives them) against the batch it should settle: a BaseTx of this
 * network and chain; the memo is exactly the batch's (number and hash);
 * every withdrawal is paid by its own output of exactly its amount to its
 * dest (threshold 1, no locktime); every other output is change to the
 * channel (its owners, its threshold, no locktime), at most one per asset;
 * per asset the inputs equal the withdrawals plus the change, plus the
 * batch's tx_fee in the fee asset; and on every input exactly threshold
 * signatures, each recovering to the owner at its sig index, by at least
 * threshold distinct owners in all. Returns LX_OK, or with a reason in why
 * (may be NULL): the decoder's errors for bytes that are not a tx,
 * LX_EFORMAT for another tx kind, network or chain, LX_ECORRUPT for a wrong
 * memo, payment, change or fee, LX_EPERM when fewer than threshold distinct
 * owners signed or a signature is not by the owner its index names,
 * LX_ECRYPTO for a signature that recovers no key, LX_EINVAL. */
lx_err lx_settle_tx_audit(char *why, size_t why_cap, const uint8_t *tx_bytes, size_t len,
                          const lx_batch *batch, const lx_channel *ch, uint32_t network_id,
                          const uint8_t blockchain_id[LX_ID_LEN]);

/* The signature part of that check on a decoded, signed tx: every input
 * has exactly ch's threshold of signatures, each recovering to the owner at
 * its sig index, and at least threshold distinct owners signed in all.
 * LX_OK; LX_EPERM (too few, or a signature not by the owner its index
 * names, or an index past the owners); LX_ECRYPTO (a signature that
 * recovers no key); LX_ESTATE for an unsigned tx; LX_EINVAL. A reason goes
 * to why (may be NULL). */
lx_err lx_settle_tx_check_sigs(char *why, size_t why_cap, const lx_tx *tx, const lx_channel *ch);

/* ---- settlement audit (bridge/audit.c, audit_rpc.c, audit_store.c) ---- */

/* Checks a channel's settlements as the chain holds them (docs/settlement.md,
 * "lx-audit"). The audit object is pure: it is fed the accepted txs that
 * touched the channel, the channel's UTXOs now, and optionally the batches a
 * node stored, and lx_audit_run walks the chain of settlement txs (each
 * spends the previous one's change) and checks every link. lx_audit_fetch
 * feeds it from a node's API. Not thread-safe. */

#define LX_AUDIT_WHY_MAX 200

typedef struct lx_audit_config {
    uint32_t network_id;
    uint8_t blockchain_id[LX_ID_LEN];
    uint8_t fee_asset[LX_ID_LEN];
    const lx_channel *channel; /* copied by lx_audit_new */
    /* When set, the chain must start at this settlement tx; its memo's batch
     * number starts the count. Otherwise the first settlement is the one
     * that spends no other settlement's change, and it must be batch 1. */
    bool has_first;
    uint8_t first_tx[LX_ID_LEN];
    /* Every settlement must have its batch among those added (set when a
     * node's data dir is given). */
    bool require_batches;
} lx_audit_config;

typedef struct lx_audit lx_audit;

/* Creates an empty audit (the caller's; lx_audit_free frees it and sets *a
 * to NULL, NULL-safe). LX_EINVAL for a bad channel (see lx_channel_id). */
lx_err lx_audit_new(lx_audit **a, const lx_audit_config *cfg);
void lx_audit_free(lx_audit **a);

/* Adds an accepted tx (signed bytes as getTx gives them) that spent or
 * created a UTXO of the channel's owners; order does not matter and a
 * repeat is ignored. Bytes that do not decode are recorded as a
 * discrepancy and their decoder error returned. */
lx_err lx_audit_add_tx(lx_audit *a, const uint8_t *bytes, size_t len);

/* Sets the UTXOs the chain lists now for the channel's owners (getUTXOs);
 * only those owned by exactly the channel's owners with its threshold
 * count. Without this call the conservation check is skipped. Copied. */
lx_err lx_audit_set_utxos(lx_audit *a, const lx_xutxo *utxos, size_t n);

/* Adds a batch the node stored (copied), with the txID it recorded for its
 * settlement (may be NULL). LX_EEXIST for a second batch of one number. */
lx_err lx_audit_add_batch(lx_audit *a, const lx_batch *batch, const uint8_t tx_id[LX_ID_LEN]);

/* What a stored batch says about a settlement. */
typedef enum lx_audit_batch_state {
    LX_AUDIT_BATCH_NONE = 0, /* no batch of this number was added */
    LX_AUDIT_BATCH_MATCH,    /* same hash, and lx_settle_tx_audit passed */
    LX_AUDIT_BATCH_MISMATCH  /* another hash, or the tx does not settle it */
} lx_audit_batch_state;

/* One settlement tx of the chain, in chain order. */
typedef struct lx_audit_settlement {
    uint8_t tx_id[LX_ID_LEN];
    uint64_t number; /* the memo's batch number; 0 when there is none */
    uint8_t batch_hash[LX_SHA256_LEN];
    size_t ninputs, nwithdrawals;
    uint64_t fee; /* inputs - outputs in the fee asset */
    lx_audit_batch_state batch;
    lx_err err;                 /* LX_OK when every check passed */
    char why[LX_AUDIT_WHY_MAX]; /* the first failed check, or "ok" */
} lx_audit_settlement;

/* Conservation of one asset: deposits - withdrawals - fees = on_chain. */
typedef struct lx_audit_asset {
    uint8_t asset_id[LX_ID_LEN];
    uint64_t deposits;    /* channel outputs made by txs that are not settlements */
    uint64_t withdrawals; /* the settlements' outputs that are not change */
    uint64_t fees;        /* the settlements' inputs minus outputs */
    uint64_t on_chain;    /* the channel's UTXOs now */
    bool ok;
} lx_audit_asset;

/* One discrepancy; tx_id names the tx when has_tx. */
typedef struct lx_audit_problem {
    bool has_tx;
    uint8_t tx_id[LX_ID_LEN];
    lx_err err;
    char why[LX_AUDIT_WHY_MAX];
} lx_audit_problem;

typedef struct lx_audit_report {
    size_t ntxs; /* txs added */
    size_t nsettlements;
    const lx_audit_settlement *settlements;
    bool conservation_checked; /* lx_audit_set_utxos was called */
    size_t nassets;
    const lx_audit_asset *assets;
    size_t nproblems; /* every discrepancy, the settlements' own included */
    const lx_audit_problem *problems;
    size_t nbatches;         /* batches added */
    uint64_t unsettled_from; /* stored batches numbered from here on have */
    size_t nunsettled;       /* no settlement yet: not a discrepancy */
} lx_audit_report;

/* Runs every check and points *report at the result, owned by a and valid
 * until the next call on a. The audit passes when nproblems is 0. Per
 * settlement, in chain order, the first failed check is kept: a BaseTx of
 * this network and chain (LX_EFORMAT); a settlement memo (LX_ECORRUPT); the
 * batch number one more than the previous one (LX_ESTATE); every change
 * output of the previous settlement spent (LX_ESTATE); every input a
 * channel UTXO (LX_EPERM); lx_settle_tx_check_sigs; every output change
 * (at most one per asset) or a withdrawal-shaped payment (LX_ECORRUPT);
 * inputs = outputs per asset, inputs >= outputs in the fee asset
 * (LX_ECORRUPT); and with its batch, the same hash (LX_ECORRUPT) and
 * lx_settle_tx_audit. Also discrepancies: a tx that spends channel UTXOs
 * or carries a settlement memo but is not in the chain, a stored batch of
 * another channel or that does not follow its predecessor, a recorded txID
 * that is not the chain's, the last change spent by no known tx, and an
 * asset that does not conserve. LX_OK (also when problems were found),
 * LX_ENOMEM, LX_EINVAL. */
lx_err lx_audit_run(lx_audit *a, const lx_audit_report **report);

/* Feeds a from the node behind c: every tx getAddressTxs lists for the
 * channel's first owner in each asset the channel has held (starting with
 * the fee asset; getTx for each), and getUTXOs of the owners (hrp names
 * the addresses, e.g. "local"). luxd answers getAddressTxs only with its
 * tx index on (X-Chain config "index-transactions": true). The client's
 * errors, with a reason in why (may be NULL); LX_ERPC from a node without
 * getAddressTxs. */
lx_err lx_audit_fetch(lx_audit *a, char *why, size_t why_cap, lx_rpc *c, const char *hrp);

/* ---- a node's stored batches (bridge/audit_store.c) ---- */

/* The batch files of a node's data dir, as node/settle_store.c writes them
 * (docs/settlement.md, "What lx-audit and lx-proof read"):
 * DIR/settle/<number, 20 digits>.batch holds "LXSTLB01", u32 length, the
 * batch encoding, its fill leaves and its net changes;
 * DIR/settle/<number>.json the batch's record, whose "tx_id" (cb58 or null)
 * names its settlement tx. */

typedef struct lx_batch_record {
    lx_batch *batch; /* decoded (owned) */
    uint8_t hash[LX_SHA256_LEN];
    size_t nfills;       /* the batch's fill_count */
    lx_fill_leaf *fills; /* with LX_BATCH_READ_FILLS: the nfills leaves in
                            fill order (owned), else NULL */
    bool has_tx_id;      /* the record names the settlement tx */
    uint8_t tx_id[LX_ID_LEN];
} lx_batch_record;

/* Frees what r holds and zeroes it. NULL-safe. */
void lx_batch_record_free(lx_batch_record *r);

#define LX_BATCH_READ_FILLS 1u /* also decode the fill leaves */

/* Reads batch number from dir into *out (the caller frees it with
 * lx_batch_record_free; zeroed on error). Checks the file against itself:
 * the leaf counts, the fill leaves' root and the net changes' root are the
 * batch's, and the record (when there is one) names this number and hash.
 * LX_ENOTFOUND when there is no .batch file; LX_ECORRUPT for any mismatch
 * or a batch that does not decode; LX_ETOOBIG over 1 GiB; LX_EIO. */
lx_err lx_batch_store_read(lx_batch_record *out, const char *dir, uint64_t number, unsigned flags);

/* The bytes of a built batch's .batch file (docs/settlement.md, "Data
 * dir"): "LXSTLB01", the batch encoding's length (u32), the encoding, the
 * fill leaves, the net changes. *out is malloc'd. LX_ESTATE for a decoded
 * batch (its leaves are gone); LX_ETOOBIG over 1 GiB; LX_ENOMEM. */
lx_err lx_batch_file_encode(uint8_t **out, size_t *out_len, const lx_batch *batch);

/* Writes a built batch (one that holds its fills and net changes, from
 * lx_batch_builder_close) to dir as a node does: the .batch file once
 * (the same bytes again is LX_OK, other bytes LX_EEXIST), then its .json
 * record, status "accepted" with tx_id when tx_id is not NULL, else
 * "closed" with null. Both atomically (temporary file, fsync, rename).
 * LX_ESTATE for a decoded batch; LX_EIO. */
lx_err lx_batch_store_write(const char *dir, const lx_batch *batch, const uint8_t *tx_id);

/* The numbers of the batches stored in dir, ascending: *numbers is
 * malloc'd (the caller frees it; NULL when *n is 0). No settlement folder
 * is no batches. LX_EIO, LX_ENOMEM. */
lx_err lx_batch_store_list(uint64_t **numbers, size_t *n, const char *dir);

/* The number of the stored batch whose fills include fill_seq (a binary
 * search over the stored batches' fill ranges). LX_ENOTFOUND
 * when no stored batch holds it; the errors of lx_batch_store_read. */
lx_err lx_batch_store_find_fill(uint64_t *number, const char *dir, uint64_t fill_seq);

#ifdef __cplusplus
}
#endif
#endif /* LX_BRIDGE_H */
