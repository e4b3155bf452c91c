/* lxdex node: the daemon's library and the shared pieces of its tools. */
#ifndef LX_NODE_H
#define LX_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* FILE: lx_client_fund_plan */

#include "lx/bridge.h"
#include "lx/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * JSON Lines commands and events (the lx-replay format, docs/replay.md).
 *
 * A parser context maps account names to engine account ids: the fee account
 * is named "fees" and has id 0; every other name gets the next id, from 1, in
 * order of first appearance. Market names are resolved through the engine, so
 * a market line must be applied before orders name it; an order naming an
 * unknown market parses to market id UINT32_MAX and the engine rejects it with
 * unknown_market.
 * ------------------------------------------------------------------------- */

typedef struct lx_cmdjson lx_cmdjson;

/* Creates a parser context; free it with lx_cmdjson_free. */
lx_err lx_cmdjson_new(lx_cmdjson **out);
void lx_cmdjson_free(lx_cmdjson **p);

typedef struct lx_parsed {
    int is_market;         /* 1: apply market with lx_engine_add_market */
    lx_market_spec market; /* when is_market */
    lx_cmd cmd;            /* otherwise */
} lx_parsed;

/* Parses one line (len bytes, no trailing newline needed). On LX_EFORMAT
 * writes a one-line reason ("missing field \"qty\"") to err (errlen bytes,
 * always NUL-terminated). e is read to resolve market names. */
lx_err lx_cmdjson_parse(lx_cmdjson *cj, lx_parsed *out, char *err, size_t errlen,
                        const lx_engine *e, const char *line, size_t len);

/* The name of account id, or NULL if the context never saw it. */
const char *lx_cmdjson_account_name(const lx_cmdjson *cj, uint64_t account);

/* Writes one event as a JSON line (with '\n') into buf: returns the length,
 * or 0 if buf is too small. */
size_t lx_cmdjson_format_event(const lx_cmdjson *cj, const lx_engine *e, char *buf, size_t len,
                               const lx_event *ev);

/* The longest line lx_cmdjson_parse accepts, in bytes; longer is LX_ETOOBIG. */
#define LX_CMDJSON_LINE_MAX ((size_t)1 << 20)
/* The longest account name in bytes, without the NUL. */
#define LX_ACCOUNT_NAME_MAX 63

/* Gives the fee account (id 0) the given name instead of "fees". Returns
 * LX_ESTATE once any other account has been named, LX_EINVAL for a name that
 * is not 1..63 bytes or holds a control character. */
lx_err lx_cmdjson_set_fee_name(lx_cmdjson *cj, const char *name);

/* Notes on lx_cmdjson_format_event. A REJECTED event of a market, deposit or
 * withdraw command carries no market name or asset symbol, so it takes them
 * from the last command cj parsed when that command has the event's type:
 * format the events of each command before parsing the next. An account,
 * market or asset the context or engine cannot name is written as its numeric
 * id. An event of unknown type writes nothing and returns 0. */

/* Writes one balance as a JSON line ({"ev":"balance",...}) into buf: returns
 * the length, or 0 if buf is too small. */
size_t lx_cmdjson_format_balance(const lx_cmdjson *cj, const lx_engine *e, char *buf, size_t len,
                                 const lx_balance *b);

/* Writes the depth of one market as a JSON line ({"ev":"book",...}) into buf:
 * returns the length, or 0 if buf is too small. The levels are written in the
 * order given, best first as lx_engine_depth returns them. */
size_t lx_cmdjson_format_book(const lx_engine *e, char *buf, size_t len, uint32_t market,
                              const lx_level *bids, size_t nbids, const lx_level *asks,
                              size_t nasks);

/* Writes {"ev":"error","line":N,"reason":...} with '\n' into buf: returns
 * the length, or 0 if buf is too small. */
size_t lx_cmdjson_format_error(char *buf, size_t len, uint64_t line, const char *reason);

/* ---------------------------------------------------------------------------
 * client wire protocol (node/proto.c, docs/protocol.md)
 *
 * A frame is one ZeroMQ message: an 18-byte big-endian header, then a body
 * whose fixed layout depends on the type. Market-data frames (TRADE, L2_DELTA,
 * published on PUB) are preceded by a 5-byte topic (channel byte, market id)
 * so that a SUB socket can filter on them.
 *
 * The codec is pure: no sockets, no allocation. Decoding validates the whole
 * frame (magic, version, type, flags, exact body length, counts, enum ranges,
 * strings) before it returns LX_OK, and never reads past len. Every frame that
 * decodes re-encodes to the same bytes.
 * ------------------------------------------------------------------------- */

#define LX_PROTO_MAGIC 0x4C58u /* "LX" */
#define LX_PROTO_VERSION 1u
#define LX_PROTO_HDR_LEN 18u      /* header bytes */
#define LX_PROTO_TOPIC_LEN 5u     /* market-data topic: channel u8, market u32 */
#define LX_PROTO_FRAME_MAX 32768u /* whole frame, topic included; over it: LX_ETOOBIG */
#define LX_PROTO_BATCH_MAX 256u   /* orders in one NEW_ORDER_BATCH, cancels in one CANCEL_BATCH */
#define LX_PROTO_DEPTH_MAX 256u   /* levels per side in QUERY_BOOK and BOOK */
#define LX_PROTO_LIST_MAX 256u    /* entries in BALANCES and MARKETS */
#define LX_PROTO_ADDR_MAX 64u     /* WITHDRAW destination address bytes */
#define LX_PROTO_TEXT_MAX 96u     /* ERROR text bytes */

/* Message types (the header's type byte). Requests go DEALER -> ROUTER
 * (base port + 2); replies come back on the same DEALER; market data is
 * published on PUB (base port + 0). */
typedef enum lx_proto_type {
    /* requests */
    LX_PROTO_NEW_ORDER = 0x01,
    LX_PROTO_NEW_ORDER_BATCH = 0x02,
    LX_PROTO_CANCEL = 0x03,
    LX_PROTO_REPLACE = 0x04,
    LX_PROTO_DEPOSIT = 0x05,
    LX_PROTO_WITHDRAW = 0x06,
    LX_PROTO_QUERY_BOOK = 0x07,
    LX_PROTO_QUERY_ORDER = 0x08,
    LX_PROTO_QUERY_BALANCES = 0x09,
    LX_PROTO_QUERY_MARKETS = 0x0A,
    LX_PROTO_PING = 0x0B,
    LX_PROTO_CANCEL_BATCH = 0x0C,
    /* replies */
    LX_PROTO_ACK = 0x81,
    LX_PROTO_REJECT = 0x82,
    LX_PROTO_FILL = 0x83,
    LX_PROTO_CANCELLED = 0x84,
    LX_PROTO_REPLACED = 0x85,
    LX_PROTO_BATCH_RESULT = 0x86,
    LX_PROTO_BOOK = 0x87,
    LX_PROTO_ORDER_STATUS = 0x88,
    LX_PROTO_BALANCES = 0x89,
    LX_PROTO_MARKETS = 0x8A,
    LX_PROTO_PONG = 0x8B,
    LX_PROTO_ERROR = 0x8C,
    /* market data */
    LX_PROTO_TRADE = 0xC1,
    LX_PROTO_L2_DELTA = 0xC2
} lx_proto_type;

/* Header flags. Replies may carry MORE and UNSOLICITED, requests BUNDLE,
 * market data none. Any other bit set is malformed. */
/* MORE: more replies to the same request follow. UNSOLICITED: not an answer
 * to a request in flight, e.g. a later fill of a resting order. BUNDLE (a
 * request): the client takes several reply frames back to back in one
 * ZeroMQ message (lx_proto_next_frame splits them). */
#define LX_PROTO_F_MORE 0x0001u
#define LX_PROTO_F_UNSOLICITED 0x0002u
#define LX_PROTO_F_BUNDLE 0x0004u

/* The frame at *off of a ZeroMQ message holding frames back to back: *frame
 * and *len get it (header and body) and *off moves past it. LX_ENOTFOUND
 * at the end, LX_EFORMAT if what is left is not a whole frame (fewer bytes
 * than a header, or than its body_len says). The frame itself is not
 * decoded: lx_proto_decode does that. */
lx_err lx_proto_next_frame(const uint8_t *msg, size_t len, size_t *off, const uint8_t **frame,
                           size_t *flen);

/* Market-data topic channels: the first byte of a TRADE or L2_DELTA frame. */
#define LX_PROTO_CH_TRADE 0x54u /* 'T' */
#define LX_PROTO_CH_L2 0x44u    /* 'D' */

/* ERROR reply codes. Decoding failures map to the first five. */
typedef enum lx_proto_error {
    LX_PROTO_E_NONE = 0,
    LX_PROTO_E_MALFORMED = 1,        /* bad magic, length, field or flag */
    LX_PROTO_E_TRUNCATED = 2,        /* fewer bytes than the header says */
    LX_PROTO_E_TOO_BIG = 3,          /* over LX_PROTO_FRAME_MAX or a count cap */
    LX_PROTO_E_BAD_VERSION = 4,      /* a version this node does not speak */
    LX_PROTO_E_UNKNOWN_TYPE = 5,     /* no such message type (or not a request) */
    LX_PROTO_E_NOT_LEADER = 6,       /* text may name the leader's endpoint */
    LX_PROTO_E_UNAVAILABLE = 7,      /* no leader or no quorum right now */
    LX_PROTO_E_OVERLOADED = 8,       /* backpressure: retry later */
    LX_PROTO_E_FAUCET_DISABLED = 9,  /* DEPOSIT outside test mode */
    LX_PROTO_E_UNAUTHORIZED = 10,    /* the sender may not act for that account */
    LX_PROTO_E_INTERNAL = 11,        /* the node failed; the request had no effect */
    LX_PROTO_E_OUTCOME_UNKNOWN = 12, /* a forwarded request lost: it may have taken effect */
    LX_PROTO_E_COUNT
} lx_proto_error;

/* Returns the snake_case name of code ("too_big"), or "unknown". */
const char *lx_proto_error_str(lx_proto_error code);
/* Returns the snake_case name of a message type ("new_order"), or "unknown". */
const char *lx_proto_type_str(uint8_t type);
/* 1 if type is a request type, else 0. */
int lx_proto_is_request(uint8_t type);

typedef struct lx_proto_hdr {
    uint8_t version;
    uint8_t type;      /* lx_proto_type */
    uint16_t flags;    /* LX_PROTO_F_* */
    uint64_t req_id;   /* chosen by the client, echoed in replies; 0 for market data */
    uint32_t body_len; /* set by the encoder; the decoder checks it */
} lx_proto_hdr;

/* DEPOSIT, WITHDRAW. dest is an optional X-Chain address for a withdrawal
 * (dest_len 0: none) of graphic ASCII bytes; the encoder reads dest_len bytes,
 * the decoder also NUL-terminates it. A DEPOSIT has no dest. */
typedef struct lx_proto_transfer {
    uint64_t account;
    uint64_t amount;
    char asset[LX_SYMBOL_MAX];
    uint8_t dest_len;
    char dest[LX_PROTO_ADDR_MAX + 1];
} lx_proto_transfer;

typedef struct lx_proto_ack { /* the command is in the log and durable */
    uint64_t seq;             /* its log sequence number */
    uint64_t id;              /* the order id; 0 for a deposit or withdrawal */
} lx_proto_ack;

typedef struct lx_proto_reject {
    uint64_t id;    /* the order id; 0 for a deposit or withdrawal */
    uint8_t reason; /* lx_reason, a reject (1 .. LX_R_BAD_MARKET) */
} lx_proto_reject;

typedef struct lx_proto_fill {
    uint64_t seq; /* log sequence number of the command that matched */
    uint32_t market;
    uint64_t maker, taker; /* order ids */
    uint64_t price, qty;
    uint64_t maker_fee, taker_fee;
    uint8_t taker_side; /* lx_side */
    uint8_t role;       /* this client's side of the fill: 0 maker, 1 taker */
} lx_proto_fill;

typedef struct lx_proto_cancelled {
    uint64_t seq;
    uint64_t id;
    uint64_t remaining; /* lots removed from the book */
    uint8_t reason;     /* lx_reason, a cancel reason (LX_R_USER .. LX_R_REPLACE) */
} lx_proto_cancelled;

typedef struct lx_proto_replaced { /* replaced in place, keeping priority */
    uint64_t seq;
    uint64_t id;
    uint64_t price, qty; /* qty: the new remaining lots */
} lx_proto_replaced;

typedef struct lx_proto_batch_item { /* one order (or cancel) of a BATCH_RESULT */
    uint64_t id;
    uint64_t seq;   /* log sequence number if accepted (cancelled), 0 if rejected */
    uint8_t reason; /* LX_R_NONE if accepted (cancelled), else the reject reason */
} lx_proto_batch_item;

typedef struct lx_proto_balance { /* one asset of a BALANCES reply */
    char asset[LX_SYMBOL_MAX];
    uint64_t available, reserved;
} lx_proto_balance;

typedef struct lx_proto_market { /* one market of a MARKETS reply */
    uint32_t id;
    lx_market_spec spec;
} lx_proto_market;

typedef struct lx_proto_pong {
    uint64_t seq;   /* the last log sequence number this node applied */
    uint8_t leader; /* 1 if this node sequences orders, else 0 */
} lx_proto_pong;

typedef struct lx_proto_errmsg {
    uint16_t code; /* lx_proto_error */
    uint8_t text_len;
    char text[LX_PROTO_TEXT_MAX + 1]; /* text_len printable ASCII bytes; the decoder
                                         NUL-terminates it */
} lx_proto_errmsg;

typedef struct lx_proto_trade { /* market data: one fill */
    uint32_t market;
    uint64_t seq; /* per market on the trade channel: 1, 2, 3 ... */
    uint64_t price, qty;
    uint8_t taker_side;
} lx_proto_trade;

typedef struct lx_proto_l2 { /* market data: one price level changed */
    uint32_t market;
    uint64_t seq; /* per market on the L2 channel: 1, 2, 3 ... */
    uint8_t side;
    uint64_t price;
    uint64_t qty; /* new total lots at the level; 0: the level is gone */
} lx_proto_l2;

/* A decoded frame. List messages (NEW_ORDER_BATCH, CANCEL_BATCH, BATCH_RESULT, BOOK,
 * BALANCES, MARKETS) keep a pointer into the decoded buffer, which must
 * outlive the message; read their entries with the lx_proto_*_get functions. */
typedef struct lx_proto_msg {
    lx_proto_hdr hdr;
    union {
        lx_order_cmd order;         /* NEW_ORDER */
        lx_cancel_cmd cancel;       /* CANCEL */
        lx_replace_cmd replace;     /* REPLACE */
        lx_proto_transfer transfer; /* DEPOSIT, WITHDRAW */
        struct {
            uint32_t market;
            uint16_t depth; /* 1 .. LX_PROTO_DEPTH_MAX levels per side */
        } query_book;
        uint64_t query_order;    /* QUERY_ORDER: the order id */
        uint64_t query_balances; /* QUERY_BALANCES: the account */
        lx_proto_ack ack;
        lx_proto_reject reject;
        lx_proto_fill fill;
        lx_proto_cancelled cancelled;
        lx_proto_replaced replaced;
        lx_order_info order_status; /* ORDER_STATUS */
        lx_proto_pong pong;
        lx_proto_errmsg error;
        lx_proto_trade trade;
        lx_proto_l2 l2;
        struct {
            uint16_t count;
            const uint8_t *p;
        } batch; /* NEW_ORDER_BATCH, CANCEL_BATCH, BATCH_RESULT */
        struct {
            uint32_t market;
            uint64_t seq; /* the L2 channel's sequence this book reflects */
            uint16_t nbids, nasks;
            const uint8_t *p;
        } book;
        struct {
            uint64_t account;
            uint16_t count;
            const uint8_t *p;
        } balances;
        struct {
            uint16_t count;
            const uint8_t *p;
        } markets;
    } u;
} lx_proto_msg;

/* Decodes one frame of len bytes. Returns LX_OK and fills *out, or:
 *   LX_ETOOBIG      frame over LX_PROTO_FRAME_MAX, or a count over its cap
 *   LX_EUNSUPPORTED a version other than LX_PROTO_VERSION
 *   LX_EFORMAT      anything else wrong (malformed, truncated, unknown type)
 * *code (may be NULL) gets the lx_proto_error to reply with, LX_PROTO_E_NONE
 * on success. On failure out->hdr holds what was read before the fault, so
 * out->hdr.req_id can be echoed in the ERROR reply (0 if unread), and out->u
 * is unspecified. Allocates nothing. */
lx_err lx_proto_decode(lx_proto_msg *out, lx_proto_error *code, const uint8_t *buf, size_t len);

/* Entry i of a decoded list message, already validated by lx_proto_decode.
 * LX_EINVAL for the wrong message type or i out of range. */
lx_err lx_proto_batch_get(const lx_proto_msg *m, lx_order_cmd *out, size_t i);
lx_err lx_proto_cancel_batch_get(const lx_proto_msg *m, lx_cancel_cmd *out, size_t i);
lx_err lx_proto_batch_result_get(const lx_proto_msg *m, lx_proto_batch_item *out, size_t i);
/* side LX_BUY: bids, best first; LX_SELL: asks, best first. */
lx_err lx_proto_book_get(const lx_proto_msg *m, lx_level *out, uint8_t side, size_t i);
lx_err lx_proto_balances_get(const lx_proto_msg *m, lx_proto_balance *out, size_t i);
lx_err lx_proto_markets_get(const lx_proto_msg *m, lx_proto_market *out, size_t i);

/* Encoders. Each writes one whole frame (the topic too, for market data) into
 * buf (cap bytes) and its length to *written. Returns LX_OK; LX_EINVAL for a
 * field the decoder would reject (an enum out of range, a bad string, flags
 * not allowed for the type); LX_ETOOBIG for a count over its cap or a buffer
 * too small. On failure buf holds nothing useful. LX_PROTO_FRAME_MAX bytes
 * are always enough. */

/* Every type that is not a list: m->hdr.type selects the body from m->u;
 * m->hdr.version and m->hdr.body_len are ignored. */
lx_err lx_proto_encode(uint8_t *buf, size_t cap, size_t *written, const lx_proto_msg *m);

lx_err lx_proto_encode_batch(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                             const lx_order_cmd *orders, size_t n);
lx_err lx_proto_encode_cancel_batch(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                                    const lx_cancel_cmd *cancels, size_t n);
lx_err lx_proto_encode_batch_result(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                                    uint16_t flags, const lx_proto_batch_item *items, size_t n);
lx_err lx_proto_encode_book(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                            uint16_t flags, uint32_t market, uint64_t seq, const lx_level *bids,
                            size_t nbids, const lx_level *asks, size_t nasks);
lx_err lx_proto_encode_balances(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                                uint16_t flags, uint64_t account, const lx_proto_balance *bals,
                                size_t n);
lx_err lx_proto_encode_markets(uint8_t *buf, size_t cap, size_t *written, uint64_t req_id,
                               uint16_t flags, const lx_proto_market *mkts, size_t n);

/* Writes the SUB filter for one market's channel (LX_PROTO_CH_TRADE or
 * LX_PROTO_CH_L2) into topic. Subscribe to the first byte alone for every
 * market of a channel. */
void lx_proto_topic(uint8_t topic[LX_PROTO_TOPIC_LEN], uint8_t channel, uint32_t market);

/* ---------------------------------------------------------------------------
 * log blocks (node/block.c, docs/journal.md)
 *
 * The sequenced log is a chain of blocks. A block carries a header and a list
 * of entries; an entry is a market definition or an engine command. The
 * encoding is canonical: fixed big-endian layouts, string fields NUL-padded
 * to their size, so a block that decodes re-encodes to the same bytes. The
 * decoder never reads past len and checks enum ranges and string fields.
 *
 * The running state hash, from 32 zero bytes before block 1:
 *   state_n = sha256(state_{n-1} || be64(seq_n) || sha256(E_n))
 * where E_n is the concatenation of lx_event_encode of every event block n
 * produced, in order. lx_block_apply is the one place that computes it.
 * ------------------------------------------------------------------------- */

#define LX_BLOCK_VERSION 1u         /* the header's first byte */
#define LX_BLOCK_HDR_LEN 37u        /* encoded header bytes */
#define LX_ENTRY_ENC_MAX 73u        /* the largest entry (a market) */
#define LX_BLOCK_ENTRIES_MAX 16384u /* entries per block; over it: LX_ETOOBIG */
#define LX_BLOCK_BYTES_MAX (LX_BLOCK_HDR_LEN + LX_BLOCK_ENTRIES_MAX * LX_ENTRY_ENC_MAX)
#define LX_STATE_HASH_LEN 32u

/* Settlement entries (docs/settlement.md, "The node"): kinds that are not
 * engine commands. They sit in cmd.type, with their fields in settle. A
 * batch close ends the open settlement batch after the block that holds it;
 * a batch settled records that batch's tx as Accepted on the X-Chain. The
 * engine never sees them: they make no events. */
#define LX_ENTRY_BATCH_CLOSE 0x40u   /* settle.number, settle.now */
#define LX_ENTRY_BATCH_SETTLED 0x41u /* settle.number, settle.tx_id */
/* These two reach the engine as a deposit or a withdraw (cmd.u.transfer). */
#define LX_ENTRY_CHAIN_DEPOSIT 0x42u /* + settle.tx_id, settle.index: the UTXO */
#define LX_ENTRY_WITHDRAW_TO 0x43u   /* + settle.dest: the address paid */

typedef struct lx_settle_entry {
    uint64_t number;   /* the batch */
    uint64_t now;      /* batch close: unix seconds, the locktime reference */
    uint8_t tx_id[32]; /* batch settled: the accepted txID; chain deposit: its UTXO's tx */
    uint32_t index;    /* chain deposit: its UTXO's output index */
    uint8_t dest[20];  /* withdraw to: the X-Chain address paid */
} lx_settle_entry;

/* One log entry: a market definition (is_market), an engine command, or a
 * settlement entry (cmd.type LX_ENTRY_*). Its kind byte on the wire is the
 * lx_cmd_type (LX_CMD_MARKET for a market) or the LX_ENTRY_* kind. */
typedef struct lx_entry {
    int is_market;
    union {                     /* never both: the entry's size stays small */
        lx_market_spec market;  /* when is_market */
        lx_settle_entry settle; /* when cmd.type is an LX_ENTRY_* kind */
    };
    lx_cmd cmd; /* unless is_market */
} lx_entry;

/* 1 if ent is a settlement entry (an LX_ENTRY_* kind), 0 otherwise. */
int lx_entry_is_settle(const lx_entry *ent);

typedef struct lx_block_hdr {
    uint64_t seq;          /* block sequence number: from 1, contiguous */
    uint64_t term;         /* the leader's term */
    uint64_t timestamp_us; /* the leader's clock when it cut the block, as data */
    uint64_t first_index;  /* global index of the first entry (entries count from 1) */
    uint32_t count;        /* number of entries */
} lx_block_hdr;

/* A decoded block. Reusable: lx_block_decode grows entries as needed. The
 * caller owns it; lx_block_free releases the entries. */
typedef struct lx_block {
    lx_block_hdr hdr;
    lx_entry *entries; /* hdr.count of them */
    size_t cap;
} lx_block;

void lx_block_init(lx_block *b);
void lx_block_free(lx_block *b); /* frees the entries and re-inits */

/* Encodes one entry into buf: returns the bytes written (at most
 * LX_ENTRY_ENC_MAX), or 0 if len is too small or the entry is invalid (an
 * unknown command type, an enum out of range, a string with no NUL). */
size_t lx_entry_encode(uint8_t *buf, size_t len, const lx_entry *ent);

/* Decodes one entry from the front of buf and writes its size to *used.
 * The union beside cmd is written only for a market or a settlement entry
 * (for the others it keeps what it held). LX_EFORMAT for a truncated entry,
 * an unknown kind or an enum out of range; LX_ECANONICAL for a string with
 * bytes after its NUL. */
lx_err lx_entry_decode(lx_entry *out, size_t *used, const uint8_t *buf, size_t len);

/* The encoded size of a block of these n entries, or 0 if one is invalid or
 * n is over LX_BLOCK_ENTRIES_MAX. */
size_t lx_block_encoded_len(const lx_entry *entries, size_t n);

/* Encodes a block into buf (len bytes) and writes its size to *out_len.
 * hdr->count is ignored: n is written. LX_ETOOBIG for n over the cap;
 * LX_EINVAL for seq 0, an invalid entry or a buffer too small. */
lx_err lx_block_encode(uint8_t *buf, size_t len, size_t *out_len, const lx_block_hdr *hdr,
                       const lx_entry *entries, size_t n);

/* Reads and checks a block's header only (version, seq nonzero, count under
 * the cap and not more than len could hold). LX_ETOOBIG if len is over
 * LX_BLOCK_BYTES_MAX or count over the cap; LX_EFORMAT otherwise. */
lx_err lx_block_peek(lx_block_hdr *out, const uint8_t *buf, size_t len);

/* Decodes a whole block into b, which must have been initialised. Errors as
 * lx_block_peek and lx_entry_decode; trailing bytes are LX_EFORMAT. On error
 * b's contents are unspecified but it stays valid for reuse and free. */
lx_err lx_block_decode(lx_block *b, const uint8_t *buf, size_t len);

/* Advances state_hash (32 bytes, in and out) over block seq and the n events
 * it produced. LX_ENOMEM or LX_ECRYPTO if hashing failed (state_hash is then
 * unchanged). */
lx_err lx_state_hash_next(uint8_t state_hash[LX_STATE_HASH_LEN], uint64_t seq, const lx_event *evs,
                          size_t n);

/* Applies every entry of b to e in order, appends the events to evs (what was
 * already in evs stays) and advances state_hash over the events this block
 * appended. The leader, followers, recovery and lx-journal all go through
 * this. An error other than LX_EINVAL (LX_ENOMEM from the engine or the hash)
 * may leave e with part of the block applied: the replica must stop. */
lx_err lx_block_apply(lx_engine *e, lx_events *evs, uint8_t state_hash[LX_STATE_HASH_LEN],
                      const lx_block *b);

/* ---------------------------------------------------------------------------
 * journal and snapshots (node/journal.c, node/snapshot.c, node/recover.c,
 * docs/journal.md)
 *
 * DATA_DIR/journal/ holds segment files named by the seq of their first block
 * (20 decimal digits, ".log"); each record is be32 length | be32 crc32c of the
 * payload | payload, one encoded block. DATA_DIR/snapshots/ holds engine
 * snapshots named by block seq (".snap"), each with the node's settlement
 * section when it settles, written atomically.
 *
 * A journal handle is used by one thread at a time.
 * ------------------------------------------------------------------------- */

#define LX_JOURNAL_SEGMENT_DEFAULT ((uint64_t)64 << 20) /* rotate at 64 MiB */

typedef struct lx_journal lx_journal;

typedef struct lx_journal_opts {
    uint64_t segment_bytes; /* start a new segment past this size; 0: the default */
    /* 1: lx_journal_sync writes to the kernel but skips fdatasync. A crash
     * of the process loses nothing synced; a crash of the machine or a power
     * loss may lose blocks that were acknowledged. */
    int no_fsync;
    /* 1: open without creating, truncating or appending (for tools). A torn
     * tail is reported in the info but left on disk and not served. */
    int read_only;
} lx_journal_opts;

/* What lx_journal_open found. */
typedef struct lx_journal_info {
    uint64_t segments;     /* segment files after open */
    uint64_t blocks;       /* valid blocks */
    uint64_t torn_records; /* torn tail records cut away (0 or 1) */
    uint64_t torn_bytes;   /* bytes cut away with them */
    /* on LX_ECORRUPT or LX_EIO: the file concerned, the byte offset of the
     * bad record, and what was wrong */
    char path[4096];
    uint64_t offset;
    char reason[128];
} lx_journal_info;

/* Opens DATA_DIR/journal (creating DATA_DIR and the journal and snapshots
 * folders unless read_only), scans and verifies every record and builds the
 * seq index. A torn last record of the last segment (short header, short
 * payload, a bad checksum running to the end of the file, or an all-zero
 * tail) is truncated away and counted in info. Any other bad record (a bad
 * checksum, an undecodable header, a seq or entry index out of sequence, a
 * segment named after another seq) is LX_ECORRUPT with info->path,
 * info->offset and info->reason set, and nothing is opened. LX_EIO for a
 * file error (info->path and info->reason say which), LX_ENOTFOUND for a read_only open of a
 * missing journal. opts may be NULL for the defaults. info may be NULL. */
lx_err lx_journal_open(lx_journal **out, lx_journal_info *info, const char *data_dir,
                       const lx_journal_opts *opts);

/* Writes out buffered blocks, syncs them (unless no_fsync), closes and frees
 * *p, and sets it to NULL. NULL is fine. Call lx_journal_sync first to see
 * errors. */
void lx_journal_free(lx_journal **p);

/* Appends one encoded block (as lx_block_encode wrote it) to the write
 * buffer. Its seq must be lx_journal_last_seq + 1 and its first_index must
 * be lx_journal_next_index (any seq and index if the journal is empty).
 * LX_ESTATE otherwise or when read_only; LX_EFORMAT/LX_ETOOBIG for a bad
 * header; LX_EIO if a write failed. Not durable until lx_journal_sync. */
lx_err lx_journal_append(lx_journal *j, const uint8_t *block, size_t len);

/* Group commit: writes out everything appended since the last sync and makes
 * it durable with one fdatasync (a segment rotated since also gets its own
 * fdatasync and the folder an fsync). LX_EIO on failure, after which the
 * journal refuses further appends (LX_ESTATE): reopen it. */
lx_err lx_journal_sync(lx_journal *j);

uint64_t lx_journal_first_seq(const lx_journal *j);  /* 0 if empty */
uint64_t lx_journal_last_seq(const lx_journal *j);   /* 0 if empty */
uint64_t lx_journal_synced_seq(const lx_journal *j); /* the last block synced; 0 if none */
/* The first_index the next block must carry: last block's first_index + count. */
uint64_t lx_journal_next_index(const lx_journal *j);
uint64_t lx_journal_segment_count(const lx_journal *j);

/* Reads block seq: *data points at its encoded bytes, owned by the journal
 * and valid until the next call on j. Re-verifies the checksum. LX_ENOTFOUND
 * outside [first_seq, last_seq]; LX_ECORRUPT if the bytes changed on disk. */
lx_err lx_journal_read(lx_journal *j, const uint8_t **data, size_t *len, uint64_t seq);

/* Calls fn for every block from seq `from` to `to` (inclusive, clamped to
 * what the journal holds) in order. Stops at and returns the first nonzero
 * value fn returns, or a read error. */
typedef lx_err (*lx_journal_fn)(void *arg, uint64_t seq, const uint8_t *data, size_t len);
lx_err lx_journal_foreach(lx_journal *j, uint64_t from, uint64_t to, lx_journal_fn fn, void *arg);

/* Removes every block after seq, durably (a seq below first_seq empties the
 * journal; at or past last_seq it does nothing). LX_ESTATE when read_only. */
lx_err lx_journal_truncate_after(lx_journal *j, uint64_t seq);

/* Removes every segment whose blocks all have seq <= snapshot_seq, except
 * the last segment, and writes how many went to *removed (may be NULL).
 * Keep blocks after the oldest snapshot you may fall back to. */
lx_err lx_journal_compact(lx_journal *j, uint64_t *removed, uint64_t snapshot_seq);
/* As lx_journal_compact, but each removed segment's file is opened before
 * it is unlinked and its descriptor goes to fds (at most max of them;
 * segments past that wait for the next compaction), for the caller to
 * close: where a file's blocks are freed at its last close (tmpfs, and
 * large files elsewhere), that close is the slow part, and it can then
 * happen outside whatever lock guards j. With fds NULL it is
 * lx_journal_compact (nfds may be NULL then); fds without nfds is
 * LX_EINVAL. */
lx_err lx_journal_compact_fds(lx_journal *j, uint64_t *removed, uint64_t snapshot_seq, int *fds,
                              size_t max, size_t *nfds);

/* A snapshot's header: the state after applying block seq. */
typedef struct lx_snapshot_meta {
    uint64_t seq;                          /* last block applied */
    uint64_t next_index;                   /* first_index of block seq + 1 */
    uint8_t state_hash[LX_STATE_HASH_LEN]; /* state hash after block seq */
} lx_snapshot_meta;

/* Writes DATA_DIR/snapshots/<seq>.snap (creating the folders) atomically (a
 * temporary file, fsync, rename, fsync of the folder) with a CRC32C over the
 * whole file. engine is lx_engine_snapshot's output; settle (settle_len
 * bytes, NULL and 0 for none) is the node's settlement section, stored after
 * it (the file is then version 2, docs/journal.md "Snapshots"). An existing
 * snapshot of that seq is replaced. LX_EIO on failure (nothing half-written
 * is left under the final name). */
lx_err lx_snapshot_write(const char *data_dir, const lx_snapshot_meta *meta, const uint8_t *engine,
                         size_t len, const uint8_t *settle, size_t settle_len);

/* Loads the newest valid snapshot with seq <= max_seq: writes its header to
 * *meta, the engine bytes to *engine (malloc'd, the caller frees) and, when
 * settle is not NULL, its settlement section to *settle (malloc'd, the
 * caller frees; NULL and *settle_len 0 when the snapshot has none). Files
 * that fail their checks are skipped and counted in *skipped (may be NULL).
 * LX_ENOTFOUND if none is valid. */
lx_err lx_snapshot_load(lx_snapshot_meta *meta, uint8_t **engine, size_t *len, uint8_t **settle,
                        size_t *settle_len, uint64_t *skipped, const char *data_dir,
                        uint64_t max_seq);

/* Keeps the newest keep (>= 1) snapshots that pass their checks and removes
 * every other snapshot file, invalid ones included. */
lx_err lx_snapshot_prune(const char *data_dir, size_t keep);

/* Removes every snapshot file with a seq after seq (a rollback of the log
 * past them makes them describe a state that never was). */
lx_err lx_snapshot_drop_after(const char *data_dir, uint64_t seq);

/* What lx_recover rebuilt. */
typedef struct lx_recovery {
    lx_engine *engine;                     /* owned by the caller */
    uint64_t last_seq;                     /* last block applied; 0 for none */
    uint64_t next_index;                   /* first_index for the next block */
    uint8_t state_hash[LX_STATE_HASH_LEN]; /* state hash after last_seq */
    uint64_t snapshot_seq;                 /* the snapshot started from; 0 if none */
    uint64_t blocks_replayed;              /* journal blocks applied after it */
    uint64_t snapshots_skipped;            /* invalid snapshots passed over */
    uint64_t torn_records;                 /* torn journal tail records cut */
} lx_recovery;

/* Restart recovery: opens the journal, restores the newest valid snapshot
 * that the journal continues (or starts from an empty engine made with cfg),
 * and applies every later block through lx_block_apply. On success *jout is
 * the open journal (caller frees) and out is filled. LX_ECORRUPT if the
 * journal is corrupt or does not continue any snapshot (a gap); err (errlen
 * bytes, NUL-terminated; may be NULL) says where. */
lx_err lx_recover(lx_journal **jout, lx_recovery *out, char *err, size_t errlen,
                  const char *data_dir, const lx_journal_opts *opts, const lx_engine_config *cfg);

/* ---------------------------------------------------------------------------
 * Transport: the ZeroMQ adapter (node/transport.c) and the clock
 * (node/clock.c). Nothing else includes zmq.h.
 * ------------------------------------------------------------------------- */

/* Microseconds and nanoseconds of CLOCK_MONOTONIC. */
uint64_t lx_now_us(void);
uint64_t lx_now_ns(void);
/* Microseconds since the Unix epoch (CLOCK_REALTIME), for log lines only. */
uint64_t lx_wall_us(void);
/* Microseconds of CPU the calling thread has used (CLOCK_THREAD_CPUTIME_ID). */
uint64_t lx_thread_cpu_us(void);
/* The calling thread's timer slack to 1 ns (prctl PR_SET_TIMERSLACK): timed
 * waits end on time. Call before starting threads; they inherit it. */
void lx_timer_slack_min(void);

typedef struct lx_zctx lx_zctx;
typedef struct lx_zsock lx_zsock;

typedef enum lx_zsock_type {
    LX_ZPUB = 0,
    LX_ZSUB = 1,
    LX_ZROUTER = 2,
    LX_ZDEALER = 3,
    LX_ZPAIR = 4,
    LX_ZXPUB = 5 /* a PUB that also receives its subscribers' (un)subscriptions */
} lx_zsock_type;

/* ---- CURVE keys (node/transport.c) ----
 * A CURVE key is 32 bytes; its text form is Z85 (ZeroMQ RFC 32), 40
 * characters. A secret key held in memory is wiped with lx_wipe after use. */
#define LX_CURVE_KEY_LEN 32
#define LX_CURVE_Z85_LEN 40

typedef struct lx_curve_key {
    uint8_t b[LX_CURVE_KEY_LEN];
} lx_curve_key;

typedef enum lx_zcurve_mode {
    LX_ZCURVE_OFF = 0,    /* plain ZeroMQ, no encryption */
    LX_ZCURVE_SERVER = 1, /* accepts CURVE clients that its context's lx_zauth allows */
    LX_ZCURVE_CLIENT = 2  /* connects only to a server holding curve_server's secret */
} lx_zcurve_mode;

/* LX_OK when this libzmq supports CURVE; otherwise LX_EUNSUPPORTED (libzmq
 * built without libsodium or tweetnacl). Every CURVE call below checks it. */
lx_err lx_curve_available(void);

/* Generates a new key pair from the system's randomness. Writes both keys;
 * wipe *sec when done. LX_EINVAL, LX_EUNSUPPORTED, LX_ECRYPTO. */
lx_err lx_curve_keypair(lx_curve_key *pub, lx_curve_key *sec);

/* Derives the public key of secret key sec into *pub. LX_EINVAL,
 * LX_EUNSUPPORTED, LX_ECRYPTO. */
lx_err lx_curve_public(lx_curve_key *pub, const lx_curve_key *sec);

/* Z85-encodes len bytes of data (len a multiple of 4) into out (out_cap
 * bytes, at least len / 4 * 5 + 1), NUL-terminated. LX_EINVAL for a len not a
 * multiple of 4 or a short out. */
lx_err lx_z85_encode(char *out, size_t out_cap, const void *data, size_t len);

/* Decodes text (len characters, a multiple of 5, no NUL needed) into out
 * (out_cap bytes, at least len / 5 * 4); writes the byte count to *out_len.
 * LX_EFORMAT for a length not a multiple of 5, a character outside the Z85
 * alphabet or a group over 2^32 - 1; LX_EINVAL for a short out. */
lx_err lx_z85_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *text, size_t len);

/* Reads a key given as 40 Z85 characters or 32 raw bytes (len says which)
 * into *key. LX_EFORMAT for any other length or bad Z85. */
lx_err lx_curve_key_parse(lx_curve_key *key, const void *data, size_t len);

/* Writes the 40 Z85 characters of key and a NUL to out (out_cap >= 41). */
lx_err lx_curve_key_z85(char *out, size_t out_cap, const lx_curve_key *key);

/* ---- ZAP: who may connect to a CURVE server (node/transport.c) ----
 * An lx_zauth runs ZeroMQ's authentication handler (RFC 27 ZAP, on
 * inproc://zeromq.zap.01) for one context, in a thread it owns. A CURVE
 * client is accepted only when its public key is on the allow-list of the
 * server socket's ZAP domain; the connection then carries the key's label (a
 * peer node number or a client account id) as its User-Id, which
 * lx_zsock_recv returns with LX_ZUSERID. Every other client is refused, and
 * so is any mechanism other than CURVE. The lists may be changed at any time
 * from any thread; a change applies to connections made after it. */
typedef struct lx_zauth lx_zauth;

/* One allow-list entry: a client's public key and the label it authenticates as. */
typedef struct lx_curve_allow {
    lx_curve_key key;
    uint64_t label;
} lx_curve_allow;

#define LX_ZAP_DOMAIN_MAX 64 /* bytes of a ZAP domain name, NUL excluded */

/* Starts the handler for context c, with empty lists. One per context:
 * LX_EEXIST if c has one. Create it before the context's CURVE server
 * sockets, and free it after them and before the context. LX_EINVAL, LX_ENOMEM, LX_EUNSUPPORTED. */
lx_err lx_zauth_new(lx_zauth **out, lx_zctx *c);
/* Stops the thread and frees the lists; sets *a to NULL. */
void lx_zauth_free(lx_zauth **a);

/* Adds key with label to domain's list, or changes the label of a key on it.
 * LX_EINVAL (domain over LX_ZAP_DOMAIN_MAX), LX_ENOMEM. */
lx_err lx_zauth_allow(lx_zauth *a, const char *domain, const lx_curve_key *key, uint64_t label);
/* Removes key from domain's list: later connections with it are refused.
 * LX_ENOTFOUND if it was not on it. */
lx_err lx_zauth_revoke(lx_zauth *a, const char *domain, const lx_curve_key *key);
/* Replaces domain's whole list with the n entries (a reload). LX_EINVAL for
 * a key listed twice, LX_ENOMEM; on an error the old list stays. */
lx_err lx_zauth_set(lx_zauth *a, const char *domain, const lx_curve_allow *list, size_t n);
/* Counts of ZAP requests answered since lx_zauth_new. */
void lx_zauth_stats(const lx_zauth *a, uint64_t *accepted, uint64_t *refused);

/* ---- key files and allow-list files (node/curve.c) ---- */

/* Writes sec as a CURVE secret key file, mode 0600: a comment line with the
 * public key, then the secret key in Z85. Written to a temporary name,
 * synced and linked into place, so path is whole or absent; never replaces an
 * existing file (LX_EEXIST). LX_EINVAL, LX_EIO, LX_EUNSUPPORTED. */
lx_err lx_curve_keyfile_write(const lx_curve_key *sec, const char *path);

/* Reads a secret key file into *sec (wipe it after use). The file must be a
 * regular file with no group or other permission bits, otherwise LX_EPERM
 * (LX_EFORMAT for a non-regular file). Lines starting with '#' and blank
 * lines are skipped; the one other line is the 40 Z85 characters of the
 * secret key, otherwise LX_EFORMAT. Over 4096 bytes LX_ETOOBIG; a missing
 * file LX_ENOTFOUND. */
lx_err lx_curve_keyfile_read(lx_curve_key *sec, const char *path);

#define LX_ALLOWLIST_MAX 65536 /* entries in one allow-list */

/* Parses an allow-list (docs/security.md#allow-lists): one "Z85KEY LABEL"
 * per line, LABEL a decimal u64, '#' comments and blank lines skipped. On
 * LX_OK *out is a malloc'ed array of *n entries (caller frees; NULL when n
 * is 0). LX_EFORMAT for a bad line or a key listed twice, with the line
 * number and the reason in err (errlen bytes, NUL-terminated; may be NULL);
 * LX_ETOOBIG over LX_ALLOWLIST_MAX entries; LX_ENOMEM. */
lx_err lx_allowlist_parse(lx_curve_allow **out, size_t *n, char *err, size_t errlen,
                          const char *text, size_t len);
/* Reads and parses an allow-list file (at most 8 MiB: LX_ETOOBIG). Missing
 * file LX_ENOTFOUND, LX_EIO; otherwise as lx_allowlist_parse. */
lx_err lx_allowlist_read(lx_curve_allow **out, size_t *n, char *err, size_t errlen,
                         const char *path);

#define LX_ZHWM_DEFAULT 10000
#define LX_ZLINGER_DEFAULT 1000

typedef struct lx_zsock_opts {
    int sndhwm;            /* messages; 0 means LX_ZHWM_DEFAULT */
    int rcvhwm;            /* messages; 0 means LX_ZHWM_DEFAULT */
    int linger_ms;         /* -1 means LX_ZLINGER_DEFAULT */
    bool tcp_keepalive;    /* TCP keepalive with a 300 s idle time */
    bool immediate;        /* queue only to completed connections */
    bool router_mandatory; /* ROUTER: an unroutable send fails (LX_ENOTFOUND) */
    const char *identity;  /* routing id of this socket, or NULL */
    int reconnect_ms;      /* retry period of a lost connection; 0: libzmq's (100) */
    /* CURVE security (docs/security.md); all off after lx_zsock_opts_init.
     * Keys are 32 raw bytes (lx_curve_key); parse Z85 text with
     * lx_curve_key_parse. The pointers are read only during lx_zsock_new. */
    lx_zcurve_mode curve;
    const lx_curve_key *curve_secret; /* server and client: this socket's secret key */
    const lx_curve_key *curve_public; /* client: own public key, or NULL to derive it */
    const lx_curve_key *curve_server; /* client: the server's public key */
    const char *zap_domain;           /* the ZAP domain this server checks keys in; NULL is "" */
} lx_zsock_opts;

/* Fills o with the defaults: HWM 10000, linger 1 s, TCP keepalive on. */
void lx_zsock_opts_init(lx_zsock_opts *o);

/* A context owns the I/O threads. Free it after all its sockets. */
lx_err lx_zctx_new(lx_zctx **out, int io_threads);
void lx_zctx_free(lx_zctx **c);

/* Creates a socket; o may be NULL for the defaults. Free with lx_zsock_free. */
lx_err lx_zsock_new(lx_zsock **out, lx_zctx *c, lx_zsock_type type, const lx_zsock_opts *o);
void lx_zsock_free(lx_zsock **s);

/* Endpoints are ZeroMQ's: "tcp://127.0.0.1:5000", "inproc://name". Bind
 * returns LX_EEXIST when the address is in use, LX_EINVAL for a bad one. */
lx_err lx_zsock_bind(lx_zsock *s, const char *endpoint);
lx_err lx_zsock_connect(lx_zsock *s, const char *endpoint);
lx_err lx_zsock_disconnect(lx_zsock *s, const char *endpoint);
/* How long closing the socket (and its context) waits for unsent
 * messages, in ms; 0 drops them at once. */
lx_err lx_zsock_set_linger(lx_zsock *s, int ms);
/* Connects s to endpoint as a CURVE client of the server whose public key is
 * server, authenticating with secret (its public key is derived). For a
 * socket that also serves CURVE on the endpoints it bound, such as a PUB
 * that feeds both local subscribers and peers: bind it first, since the
 * socket keeps these keys and the client role for what it binds or connects
 * afterwards. The keys are copied. LX_EINVAL, LX_EUNSUPPORTED, or the
 * transport's error. */
lx_err lx_zsock_connect_curve(lx_zsock *s, const char *endpoint, const lx_curve_key *secret,
                              const lx_curve_key *server);
/* SUB only: receive messages whose first part starts with prefix. */
lx_err lx_zsock_subscribe(lx_zsock *s, const void *prefix, size_t len);

typedef struct lx_zpart {
    const void *data;
    size_t len;
} lx_zpart;

#define LX_ZMSG_PARTS 4
#define LX_ZDONTWAIT 1

/* Sends one message of nparts parts. With LX_ZDONTWAIT, LX_EAGAIN means the
 * high-water mark is reached (nothing was sent). LX_ENOTFOUND: a ROUTER with
 * router_mandatory could not route to the first part's identity. */
lx_err lx_zsock_send(lx_zsock *s, const lx_zpart *parts, size_t nparts, int flags);

/* A received message: part[i] points into storage owned by the message until
 * lx_zmsg_close. */
typedef struct lx_zmsg {
    size_t n;
    lx_zpart part[LX_ZMSG_PARTS];
    _Alignas(8) unsigned char store[LX_ZMSG_PARTS][64];
    char user_id[24]; /* with LX_ZUSERID: the connection's ZAP User-Id, or "" */
} lx_zmsg;

/* lx_zsock_recv flag: also read the ZAP User-Id the message arrived with. */
#define LX_ZUSERID 2

/* Receives one message. Flags: LX_ZDONTWAIT, LX_ZUSERID. LX_EAGAIN with
 * LX_ZDONTWAIT when none is waiting; LX_ETOOBIG when it had more than
 * LX_ZMSG_PARTS parts (the rest is drained and dropped; the message is
 * closed). On LX_OK close it with lx_zmsg_close. */
lx_err lx_zsock_recv(lx_zsock *s, lx_zmsg *m, int flags);
void lx_zmsg_close(lx_zmsg *m);

/* The label lx_zauth authenticated m's connection as (m received with
 * LX_ZUSERID). LX_ENOTFOUND when the connection has none (not CURVE, or no
 * LX_ZUSERID). */
lx_err lx_zmsg_user_id(uint64_t *label, const lx_zmsg *m);

#define LX_ZPOLLIN 1
#define LX_ZPOLLOUT 2

typedef struct lx_zpollitem {
    lx_zsock *sock; /* or NULL to poll fd */
    int fd;
    short events;  /* LX_ZPOLLIN | LX_ZPOLLOUT */
    short revents; /* written by lx_zpoll */
} lx_zpollitem;

/* Waits up to timeout_ms (-1 forever, 0 not at all) for any item to be ready;
 * writes the number ready to *nready. LX_EAGAIN if a signal interrupted it. */
lx_err lx_zpoll(int *nready, lx_zpollitem *items, size_t n, long timeout_ms);

/* lx_zpoll for a loop that reads every socket it reports with LX_ZDONTWAIT
 * until LX_EAGAIN: a socket reported LX_ZPOLLIN may turn out to hold no
 * message. It asks a socket for its events only when a send or an
 * unfinished read may have hidden them, and otherwise waits on the
 * sockets' file descriptors in one poll(2), where zmq_poll asks every
 * socket twice. Sockets take LX_ZPOLLIN only (else LX_EINVAL). */
lx_err lx_zwait(int *nready, lx_zpollitem *items, size_t n, long timeout_ms);

/* ---------------------------------------------------------------------------
 * load generation (node/loadgen.c, docs/test-client.md)
 *
 * The pure parts of test-client: a latency histogram, the open-loop send
 * schedule, the order generator, malformed test frames, duration parsing and
 * the summary JSON. No sockets, no clock reads.
 * ------------------------------------------------------------------------- */

/* A log-linear histogram of uint64 values (HDR-like): values below
 * LX_HIST_SUB are counted exactly; above, each power of two is split into
 * LX_HIST_SUB buckets, so a reported value is within 1/LX_HIST_SUB (0.8%) of
 * the true one. Recording is O(1); percentiles scan the buckets, never the
 * samples. One thread at a time. */
#define LX_HIST_SUB 128u

typedef struct lx_hist lx_hist;

/* Creates an empty histogram; free it with lx_hist_free. LX_ENOMEM. */
lx_err lx_hist_new(lx_hist **out);
void lx_hist_free(lx_hist **p); /* NULL is fine; sets *p to NULL */
void lx_hist_reset(lx_hist *h);
void lx_hist_record(lx_hist *h, uint64_t v);
/* Adds every count of src to dst. LX_EINVAL for a NULL argument. */
lx_err lx_hist_merge(lx_hist *dst, const lx_hist *src);
uint64_t lx_hist_count(const lx_hist *h);
uint64_t lx_hist_min(const lx_hist *h); /* exact; 0 when empty */
uint64_t lx_hist_max(const lx_hist *h); /* exact; 0 when empty */
double lx_hist_mean(const lx_hist *h);  /* of the bucket values; 0 when empty */
/* The q-th percentile (q in [0, 100]): the smallest bucket value v such that
 * at least q% of the samples are <= v (at least one sample), where a bucket's
 * value is its highest value, capped at the exact max. 0 when empty. */
uint64_t lx_hist_percentile(const lx_hist *h, double q);

/* The open-loop schedule: request k (from 0) is due at start_ns + k / rate
 * seconds whatever happened before it, so a stall of the sender shows up as
 * latency of the requests that were due meanwhile. rate is per second, > 0. */
uint64_t lx_pace_time(uint64_t start_ns, double rate, uint64_t k);
/* How many requests are due by now_ns: the number of k with
 * lx_pace_time(k) <= now_ns (0 before start_ns). */
uint64_t lx_pace_due(uint64_t start_ns, double rate, uint64_t now_ns);

/* The order generator: limit GTC buys and sells around a mid price per
 * market that drifts by a tick now and then, spread over a few ticks so that
 * a good share crosses, qty min_qty .. min_qty + 9 lots. Order ids are
 * (id_base << LX_ORDERGEN_ID_BITS) | (k + 1) for the k-th order generated, so
 * ids are unique and lx_ordergen_index maps an id back to k. Deterministic
 * for a seed. */
#define LX_ORDERGEN_ID_BITS 40u
#define LX_ORDERGEN_ID_BASE_MAX ((1u << 23) - 1u) /* keeps ids below 2^63 */
#define LX_ORDERGEN_MID_TICKS 10000u              /* the starting mid, in ticks */
#define LX_ORDERGEN_SPREAD_TICKS 8u               /* prices are mid +- this */
#define LX_ORDERGEN_QTY_SPAN 10u                  /* qty is min_qty + 0 .. 9 */

typedef struct lx_ordergen lx_ordergen;

typedef struct lx_ordergen_opts {
    uint64_t seed;
    uint64_t id_base;               /* 1 .. LX_ORDERGEN_ID_BASE_MAX */
    uint64_t account_first;         /* accounts are account_first .. + accounts - 1 */
    uint64_t accounts;              /* >= 1 */
    const lx_proto_market *markets; /* copied; 1 .. LX_PROTO_LIST_MAX */
    size_t nmarkets;
} lx_ordergen_opts;

/* Creates a generator. LX_EINVAL for a bad option, or a market whose tick,
 * lot or min_qty is 0 or so large that an order's price, qty or cost could
 * overflow 63 bits; LX_ENOMEM. Free with lx_ordergen_free. */
lx_err lx_ordergen_new(lx_ordergen **out, const lx_ordergen_opts *o);
void lx_ordergen_free(lx_ordergen **p);

/* Writes the next order to *out. Its account is one of group g of ngroups:
 * the accounts a with (a - account_first) % ngroups == g, or any account if
 * that group is empty (ngroups 0 counts as 1). */
void lx_ordergen_next(lx_ordergen *g, lx_order_cmd *out, uint32_t group, uint32_t ngroups);

/* The schedule index k of an order id this generator made, or UINT64_MAX
 * if the id has another id_base or was never generated. */
uint64_t lx_ordergen_index(const lx_ordergen *g, uint64_t id);

/* A uniform random number from the generator's stream, and a draw that is 1
 * with probability p. */
uint64_t lx_ordergen_random(lx_ordergen *g);
int lx_ordergen_chance(lx_ordergen *g, double p);

/* The amount of asset to deposit into each account so that orders_per_account
 * orders can all rest at once (whatever their side and price), capped so the
 * sum over every account stays under 2^62. 0 if no market uses the asset. */
uint64_t lx_ordergen_deposit(const lx_ordergen *g, const char *asset, uint64_t orders_per_account);

/* Malformed frames for checking a node's validation (docs/protocol.md,
 * "Validation"). Each kind is one way to break a frame. */
typedef enum lx_malformed_kind {
    LX_MAL_EMPTY = 0,      /* zero bytes: truncated */
    LX_MAL_BAD_MAGIC,      /* malformed */
    LX_MAL_BAD_VERSION,    /* bad_version */
    LX_MAL_SHORT_HEADER,   /* 10 header bytes: truncated */
    LX_MAL_SHORT_BODY,     /* body shorter than body_len: truncated */
    LX_MAL_LONG_BODY,      /* body longer than body_len: malformed */
    LX_MAL_OVERSIZED,      /* a frame over LX_PROTO_FRAME_MAX: too_big */
    LX_MAL_BODY_LEN_HUGE,  /* body_len past the frame cap: too_big */
    LX_MAL_UNKNOWN_TYPE,   /* type 0x3F: unknown_type */
    LX_MAL_REPLY_TYPE,     /* a valid ACK sent as a request: unknown_type */
    LX_MAL_BAD_FLAGS,      /* a request with flags: malformed */
    LX_MAL_BAD_ENUM,       /* NEW_ORDER with side 2: malformed */
    LX_MAL_BAD_BOOL,       /* NEW_ORDER with post_only 2: malformed */
    LX_MAL_BATCH_COUNT,    /* batch count 3 with 2 orders: malformed */
    LX_MAL_BATCH_ZERO,     /* batch count 0: malformed */
    LX_MAL_BATCH_OVER_CAP, /* batch count 257: too_big */
    LX_MAL_BAD_SYMBOL,     /* DEPOSIT asset with a byte after its NUL: malformed */
    LX_MAL_COUNT
} lx_malformed_kind;

/* Bytes enough for any malformed frame. */
#define LX_MALFORMED_MAX (LX_PROTO_FRAME_MAX + 64u)

/* The kind's name ("bad_magic"), or "unknown". */
const char *lx_malformed_name(lx_malformed_kind kind);

/* Writes a frame of the kind with req_id into buf (cap bytes, at least
 * LX_MALFORMED_MAX) and its length to *written; *code gets the ERROR code a
 * node must answer with, and *echo the req_id that answer must carry (req_id,
 * or 0 when the header is too short or the frame too big to read it).
 * LX_EINVAL for a NULL argument, an unknown kind or cap too small. */
lx_err lx_malformed_frame(uint8_t *buf, size_t cap, size_t *written, lx_proto_error *code,
                          uint64_t *echo, lx_malformed_kind kind, uint64_t req_id);

/* Parses a duration: a decimal number with an optional unit ns, us, ms, s
 * (the default), m or h ("30s", "1.5m", "250ms"). Writes nanoseconds to *ns.
 * LX_EINVAL for anything else, a negative value or one over 10^7 s. */
lx_err lx_parse_duration(uint64_t *ns, const char *s);

/* The result of a load run. Latencies are in microseconds. */
typedef struct lx_loadgen_summary {
    double duration_s;  /* the timed phase */
    double target_rate; /* orders per second asked for */
    uint64_t sent, acked, rejected, errors, fills;
    double throughput; /* acked per second of the timed phase */
    uint64_t p50, p90, p99, p999, max;
    /* extra keys */
    uint64_t nodes, timeouts, maker_fills, cancels_sent, cancelled, cancel_misses;
    uint64_t cancel_frames; /* CANCEL and CANCEL_BATCH frames the cancels went in */
    uint64_t frames, batch, seed, id_base;
    /* how far sending fell behind the schedule, per frame sent */
    uint64_t send_lag_p50_us, send_lag_p99_us, max_send_lag_us;
    int busy_poll; /* the client polled for replies instead of sleeping */
} lx_loadgen_summary;

/* Fills the latency fields of s from h. */
void lx_loadgen_summary_latency(lx_loadgen_summary *s, const lx_hist *h);

/* Writes s as one JSON object with no newline into buf (len bytes): returns
 * the length, or 0 if buf is too small. The keys are duration_s, target_rate,
 * sent, acked, rejected, errors, fills, throughput, latency_us {p50, p90,
 * p99, p999, max}, then nodes, timeouts, maker_fills, cancels_sent,
 * cancelled, cancel_misses, cancel_frames, frames, batch, seed, id_base, send_lag_us {p50,
 * p99, max}, max_send_lag_us (the same max, kept for older readers). */
size_t lx_loadgen_summary_json(char *buf, size_t len, const lx_loadgen_summary *s);

/* ---------------------------------------------------------------------------
 * load client (node/client.c, docs/test-client.md)
 *
 * The load client's connection and in-flight order tracking: one DEALER per
 * node, the requests in flight by req_id, what each reply counts, and the
 * phases of a test-client run (readiness, markets, funding, the
 * malformed-frame check). The tool keeps its options and the schedule loop.
 * ------------------------------------------------------------------------- */

/* What an in-flight request frame is. */
typedef enum lx_inflight_kind {
    LX_INFLIGHT_ORDER = 1, /* NEW_ORDER or NEW_ORDER_BATCH */
    LX_INFLIGHT_CANCEL,
    LX_INFLIGHT_DEPOSIT,
    LX_INFLIGHT_PING,
    LX_INFLIGHT_MARKETS,
    LX_INFLIGHT_WITHDRAW, /* --withdraw-every */
    LX_INFLIGHT_KIND_COUNT
} lx_inflight_kind;

/* Closed; waiting for its reply; answered with the MORE flag, more to come. */
typedef enum lx_inflight_state {
    LX_INFLIGHT_FREE = 0,
    LX_INFLIGHT_WAIT,
    LX_INFLIGHT_TAIL
} lx_inflight_state;

/* A request frame in flight, found by req_id. */
typedef struct lx_inflight_frame {
    uint64_t req_id;
    uint64_t sent_ns;
    uint64_t aux;     /* the caller's: deposits keep their list index here */
    uint32_t norders; /* orders in an order frame; cancels in a CANCEL_BATCH (0: one CANCEL) */
    uint16_t node;
    uint8_t kind;  /* lx_inflight_kind */
    uint8_t state; /* lx_inflight_state */
} lx_inflight_frame;

/* Request frames in flight. req_ids are handed out in order from 1, so the
 * frames live in a ring indexed by req_id that doubles when the oldest open
 * frame would be lapped. One thread at a time. */
typedef struct lx_inflight lx_inflight;

/* Creates an empty table with room for cap frames (rounded up to a power of
 * two) before it grows. LX_EINVAL for cap 0 or over 2^40, LX_ENOMEM. Free
 * with lx_inflight_free. */
lx_err lx_inflight_new(lx_inflight **out, uint64_t cap);
void lx_inflight_free(lx_inflight **p); /* NULL is fine; sets *p to NULL */

/* Opens a frame with the next req_id, sent at now_ns, and points *out at it;
 * the pointer stays valid until the next lx_inflight_add. When the ring is
 * full and its oldest open frame was sent more than expire_ns before now_ns,
 * that frame is closed first (its answer would come too late to count), and
 * if it was an order frame still waiting its norders are added to *expired;
 * otherwise the ring doubles. LX_EINVAL for a NULL argument or a bad kind,
 * LX_ENOMEM (nothing opened). */
lx_err lx_inflight_add(lx_inflight *f, lx_inflight_frame **out, uint64_t *expired,
                       lx_inflight_kind kind, uint16_t node, uint32_t norders, uint64_t now_ns,
                       uint64_t expire_ns);
/* The open frame with req_id, or NULL. */
lx_inflight_frame *lx_inflight_find(lx_inflight *f, uint64_t req_id);
/* Closes an open frame found by lx_inflight_find or opened by lx_inflight_add. */
void lx_inflight_close(lx_inflight *f, lx_inflight_frame *fr);
/* Open frames of a kind, or of every kind for kind 0. */
uint64_t lx_inflight_open(const lx_inflight *f, int kind);
/* Frames the ring holds before it next grows. */
uint64_t lx_inflight_capacity(const lx_inflight *f);
/* Orders in order frames still waiting for their first reply. */
uint64_t lx_inflight_unanswered_orders(lx_inflight *f);

#define LX_CLIENT_NODES_MAX 32
#define LX_CLIENT_MARKETS_ARG_MAX 512 /* bytes of a market list, with the NUL */

typedef struct lx_client lx_client;

typedef struct lx_client_opts {
    const char *const *nodes; /* request endpoints; borrowed for the client's life */
    size_t nnodes;            /* 1 .. LX_CLIENT_NODES_MAX */
    const char *name;         /* the prefix of messages on stderr ("test-client") */
    /* Bounds the wait for QUERY_MARKETS and for each malformed-frame reply;
     * with drain_ns, the age past which an unanswered frame may be dropped. */
    uint64_t connect_timeout_ns, drain_ns;
    int (*stopped)(void); /* non-zero ends waits early (a signal); may be NULL */
    /* CURVE (docs/security.md): with curve_secrets, node i is connected as
     * a CURVE client with secret key curve_secrets[i] (or [0] for every node
     * when ncurve_secrets is 1) and server_keys[i] (nnodes keys) as that
     * node's public key. NULL: plain ZeroMQ. Read by lx_client_new only. */
    const lx_curve_key *curve_secrets;
    size_t ncurve_secrets; /* 1 or nnodes */
    const lx_curve_key *server_keys;
    /* 1: ask for one reply frame per ZeroMQ message; 0 (the default): set
     * LX_PROTO_F_BUNDLE on requests, so a node sends the frames of one
     * answer in one message. */
    int unbundled;
    /* a withdrawal answered ERROR overloaded is sent again this long after;
     * 0: LX_CLIENT_WD_RETRY_NS */
    uint64_t wd_retry_ns;
} lx_client_opts;

/* Creates a client with one DEALER connected to each node (a CURVE client
 * with o->curve_secrets). On a socket
 * error *failed_node is that node's index, else SIZE_MAX. LX_EINVAL,
 * LX_ENOMEM, or the transport's error. Free with lx_client_free. */
lx_err lx_client_new(lx_client **out, size_t *failed_node, const lx_client_opts *o);
void lx_client_free(lx_client **p); /* closes the acked log; sets *p to NULL */

/* Creates path and writes every acknowledged order id to it, one decimal per
 * line; LX_EIO with errno set when it cannot be created. Close it with
 * lx_client_close_acked_log, which returns LX_EIO when a write failed. */
lx_err lx_client_open_acked_log(lx_client *c, const char *path);
lx_err lx_client_close_acked_log(lx_client *c);

typedef struct lx_client_node_info {
    const char *ep; /* the endpoint, as given */
    bool ready;     /* answered PING */
    bool leader;    /* its PONG said leader */
    uint64_t pong_seq;
} lx_client_node_info;

/* Writes what is known of node i. LX_EINVAL for i out of range. */
lx_err lx_client_node(const lx_client *c, lx_client_node_info *out, size_t i);

/* Pings every node not yet ready every 250 ms until all answer (returns 1)
 * or timeout_ns passes or stopped (returns 0). */
int lx_client_wait_ready(lx_client *c, uint64_t timeout_ns);

/* Sends QUERY_MARKETS to the first node and keeps its markets, only those in
 * names (comma-separated, in that order) unless names is NULL or empty.
 * Returns 1, 0 when no answer came within connect_timeout_ns, or -1 when
 * names has a market the cluster lacks; says why on stderr. */
int lx_client_fetch_markets(lx_client *c, const char *names);
size_t lx_client_markets(const lx_client *c); /* markets kept */

typedef struct lx_client_load {
    uint64_t seed, id_base;          /* for lx_ordergen */
    uint64_t accounts, account_base; /* accounts >= 1 */
    double rate;                     /* the schedule's orders per second, > 0 */
    double cancel_ratio;             /* share of orders cancelled once acked */
} lx_client_load;

/* Sets up the orders of a run over the markets kept. LX_EINVAL when called
 * twice, before the markets or when the generator refuses them; LX_ENOMEM. */
lx_err lx_client_load_init(lx_client *c, const lx_client_load *l);

/* Deposits both assets of every market into every account through the
 * faucet, enough for total_orders to rest at once, and waits for every ack;
 * a deposit with no answer after 3 s is sent again (the first answer
 * counts). Returns 1, or 0 when one failed or did not come in time (said on
 * stderr). */
int lx_client_fund(lx_client *c, uint64_t total_orders);

/* Without the faucet (accounts funded otherwise, e.g. by deposits on the
 * X-Chain): prints the deposits lx_client_fund would make, one JSON object
 * a line, {"account":A,"asset":"SYM","amount":N}, to out. Returns 0 when
 * out of memory or called twice. */
int lx_client_fund_plan(lx_client *c, uint64_t total_orders, FILE *out);

/* Sends one WITHDRAW of amount of asset from account to the X-Chain address
 * dest, through the node the account trades on; the reply is counted in
 * the wd_* stats. A withdrawal answered ERROR overloaded (the settlement
 * batch is full of withdrawals, or the sequencer's queue) is sent again
 * o.wd_retry_ns later, up to LX_CLIENT_WD_TRIES times in all, and
 * counts as outstanding meanwhile. Returns 1 when sent. */
#define LX_CLIENT_WD_RETRY_NS UINT64_C(100000000)
#define LX_CLIENT_WD_TRIES 50u
int lx_client_withdraw(lx_client *c, uint64_t account, const char *asset, uint64_t amount,
                       const char *dest);

/* The schedule's start: latencies are measured from lx_pace_time(start_ns,
 * rate, k). Call before the first lx_client_send_orders. */
void lx_client_load_start(lx_client *c, uint64_t start_ns);
/* Generates orders k .. k+n-1 (n 1 .. LX_PROTO_BATCH_MAX) and sends them to
 * node i in one frame; a share cancel_ratio is cancelled once acked. */
void lx_client_send_orders(lx_client *c, size_t i, uint64_t k, unsigned n);
/* Reads and counts the replies waiting on every socket, without blocking. */
void lx_client_recv(lx_client *c);
/* Waits until a socket is readable or until_ns (monotonic; 0: no deadline). */
void lx_client_wait(lx_client *c, uint64_t until_ns);
/* Order, cancel and withdrawal frames still waiting for an answer, and
 * withdrawals waiting to be sent again. */
uint64_t lx_client_outstanding(const lx_client *c);
/* Counts the orders never answered as timeouts and errors; call once at the end. */
void lx_client_count_timeouts(lx_client *c);

typedef struct lx_client_stats {
    uint64_t sent, acked, rejected, errors, fills, maker_fills, frames, timeouts;
    uint64_t cancels_sent, cancelled, cancel_misses, other_cancels;
    uint64_t cancel_frames; /* CANCEL and CANCEL_BATCH frames sent */
    uint64_t bad_replies, stray_replies, send_failures;
    uint64_t last_reply_ns; /* the last first reply to an order frame */
    /* WITHDRAW requests (lx_client_withdraw): sent, ACKed, REJECTed, ERROR
     * or unanswered, and the amount the ACKed ones debited in all; the
     * sends again after ERROR overloaded (each withdrawal counts once in
     * wd_sent) */
    uint64_t wd_sent, wd_acked, wd_rejected, wd_failed, wd_amount, wd_retries;
    uint64_t reject_reasons[LX_R_COUNT];
    uint64_t error_codes[LX_PROTO_E_COUNT + 1];
} lx_client_stats;

void lx_client_stats_get(const lx_client *c, lx_client_stats *out);
/* Latencies of acked orders in µs from their intended send time; the client's. */
const lx_hist *lx_client_hist(const lx_client *c);
/* The same, only the acknowledgements since the last reset. */
const lx_hist *lx_client_hist_recent(const lx_client *c);
void lx_client_hist_recent_reset(lx_client *c);

/* Sends frames malformed frames to each node in turn, checks each ERROR
 * code, then that the node answers PING; prints a line per node and a
 * total (one JSON object with json) on stdout. Returns 0 when every check
 * passed, else 1. */
int lx_client_malformed(lx_client *c, unsigned long frames, bool json);

#ifdef __cplusplus
}
#endif
#endif /* LX_NODE_H */
