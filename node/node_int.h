/* Private interface of the multi-node daemon: configuration, the block
 * batcher, peer messages, the journal writer thread, heartbeats, metrics and
 * the node state shared by the server, sequencer and replica modules. */
#ifndef LX_NODE_INT_H
#define LX_NODE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lx/node.h"

/* ---------------------------------------------------------------------------
 * Configuration (node/config.c, docs/multi-node.md)
 * ------------------------------------------------------------------------- */

#define LX__PEERS_MAX 16
#define LX__NODE_ID_MAX 31    /* bytes, without the NUL */
#define LX__CLUSTER_ID_MAX 63 /* --cluster-id, bytes without the NUL */
#define LX__CLUSTER_TAG_LEN 8 /* the cluster tag every node-to-node message carries */
#define LX__HOST_MAX 255
#define LX__PATH_MAX 1024
#define LX__MARKETS_MAX LX_PROTO_LIST_MAX

typedef struct lx__peer_addr {
    char host[LX__HOST_MAX + 1];
    unsigned port; /* the peer's base port */
} lx__peer_addr;

/* The settlement options (node/settle*.c, docs/settlement.md). Settlement
 * runs when channel_file is set; key_file is then required, and rpc on the
 * leader. */
typedef struct lx__settle_cfg {
    char key_file[LX__PATH_MAX];     /* --key-file: this node's secp256k1 key */
    char channel_file[LX__PATH_MAX]; /* --channel: the shared channel file */
    char rpc[LX__PATH_MAX];          /* --rpc: the X-Chain API base URL */
    uint64_t interval_us;            /* --settle-interval (1 s) */
    uint64_t max_fills;              /* --settle-fills (10000) */
} lx__settle_cfg;

/* node/settle_channel.c: the settlement options. which: 0 --channel,
 * 1 --key-file, 2 --rpc, 3 --settle-interval, 4 --settle-fills. LX_EINVAL
 * with a message in err. */
void lx__settle_cfg_defaults(lx__settle_cfg *c);
lx_err lx__settle_set_opt(lx__settle_cfg *c, char *err, size_t errlen, int which, const char *v,
                          const char *src);
/* The options together: --channel needs --key-file, and --rpc on the
 * leader; --key-file and --rpc need --channel. */
lx_err lx__settle_cfg_check(const lx__settle_cfg *c, char *err, size_t errlen, int is_leader);

/* The CURVE options (node/auth.c, docs/security.md). CURVE is on when
 * key_file is set; peer_keys and client_keys are then required. */
typedef struct lx__curve_cfg {
    char key_file[LX__PATH_MAX];    /* --curve-key: this node's secret key file */
    char peer_keys[LX__PATH_MAX];   /* --peer-keys: the nodes' keys, labelled with numbers */
    char client_keys[LX__PATH_MAX]; /* --client-keys: clients' keys, labelled with accounts */
    size_t nnumbers;
    uint64_t numbers[LX__PEERS_MAX]; /* --peer-numbers: the number of each --peers entry */
    int insecure;                    /* --insecure: plain ZeroMQ on a non-loopback --bind */
} lx__curve_cfg;

/* --topology (docs/topologies.md): which nodes each node links to. In a
 * mesh every node links to all others and nothing is relayed; in a star or
 * a ring, blocks, heartbeats and peer messages are relayed. */
#define LX__TOPO_MESH 0
#define LX__TOPO_STAR 1
#define LX__TOPO_RING 2
#define LX__CLUSTER_MAX (LX__PEERS_MAX + 1) /* nodes in a cluster */

typedef struct lx__config {
    char node_id[LX__NODE_ID_MAX + 1];
    unsigned base_port;
    size_t npeers;
    lx__peer_addr peers[LX__PEERS_MAX];
    int topology;        /* LX__TOPO_* */
    size_t cluster_size; /* nodes in the cluster, this one included */
    int is_leader;
    char consensus[16];
    char cluster_id[LX__CLUSTER_ID_MAX + 1];
    /* From cluster_id and consensus (lx__cluster_tag): a node drops the
     * messages of nodes whose tag differs. */
    uint8_t cluster_tag[LX__CLUSTER_TAG_LEN];
    char data_dir[LX__PATH_MAX];
    char markets_file[LX__PATH_MAX]; /* empty: the default markets */
    size_t nmarkets;
    lx_market_spec markets[LX__MARKETS_MAX];
    char log_file[LX__PATH_MAX]; /* empty: standard error only */
    uint64_t metrics_interval_us;
    char bind[LX__HOST_MAX + 1];
    int hwm;
    uint32_t block_max_orders;
    uint64_t block_max_us;
    uint64_t block_min_us;
    int fsync;
    uint32_t direct_sync_us; /* lx__jw_append_direct's sync time limit; 0: never */
    int dev_faucet;
    uint32_t heartbeat_ms;
    uint64_t snapshot_every; /* blocks; 0: never */
    int ack_majority;        /* --ack-quorum: 1 majority, 0 local */
    uint64_t election_us;    /* --election-timeout */
    int compact;             /* remove journal segments behind the kept snapshots */
    uint64_t segment_bytes;  /* journal segment size limit */
    size_t reserve_orders;   /* open orders the engine has room for from the start */
    int help;                /* --help was given: print the usage, exit 0 */
    lx__settle_cfg settle;
    lx__curve_cfg curve;
} lx__config;

/* Reads a variable of the environment; NULL when unset. */
typedef const char *(*lx__getenv_fn)(const char *name);

/* Fills cfg from the defaults, then the environment (env, or getenv when
 * NULL), then argv (argv[0] is skipped); a flag wins over its variable. Loads
 * and checks the markets file. LX_EINVAL for a bad flag or value, with a
 * one-line message in err (errlen bytes, NUL-terminated); LX_EUNSUPPORTED for
 * a consensus mode this version does not run. */
lx_err lx__config_parse(lx__config *cfg, char *err, size_t errlen, int argc, char **argv,
                        lx__getenv_fn env);

/* Parses a duration: "10s", "500ms", "250us", "2m" or plain seconds ("10").
 * 0 for a malformed value. */
uint64_t lx__parse_duration_us(const char *s);

/* Parses the markets file (a JSON array of market objects): LX_EINVAL with a
 * message in err for anything wrong, including a market the engine would
 * reject. */
lx_err lx__markets_load(lx_market_spec *out, size_t *n, size_t cap, char *err, size_t errlen,
                        const char *path);

/* The default markets, BTC-USD and ETH-USD: lot 1, tick 1, min_qty 1, no fees. */
size_t lx__markets_default(lx_market_spec *out, size_t cap);

/* The cluster tag of a cluster id and consensus mode: the first
 * LX__CLUSTER_TAG_LEN bytes of SHA-256("lxdex-cluster" NUL id NUL consensus). */
lx_err lx__cluster_tag(uint8_t out[LX__CLUSTER_TAG_LEN], const char *cluster_id,
                       const char *consensus);

extern const char lx__usage[];

/* ---------------------------------------------------------------------------
 * Requests in a block, and the batcher that cuts blocks (node/batcher.c)
 * ------------------------------------------------------------------------- */

#define LX__ROUTING_MAX 255 /* a ZeroMQ routing id */
#define LX__LOCAL (-1)      /* origin slot of a request from this node's ROUTER */

/* Where the replies of a request go: this node's ROUTER (slot LX__LOCAL) or
 * the peer in that outbound slot, which relays them (token is its handle). */
typedef struct lx__origin {
    int slot;
    uint64_t token;
    uint8_t bundle; /* the client takes its replies bundled (LX_PROTO_F_BUNDLE) */
    uint8_t rid_len;
    uint8_t rid[LX__ROUTING_MAX];
} lx__origin;

/* The origin of a request from this node's ROUTER client with routing id
 * rid (rid_len at most LX__ROUTING_MAX). */
static inline lx__origin lx__origin_local(const uint8_t *rid, size_t rid_len)
{
    lx__origin o;
    memset(&o, 0, sizeof o);
    o.slot = LX__LOCAL;
    o.rid_len = (uint8_t)rid_len;
    memcpy(o.rid, rid, rid_len);
    return o;
}

/* One client request in a block: its entries are entries[first, first+n). */
typedef struct lx__req {
    lx__origin from;
    uint8_t type; /* lx_proto_type */
    uint64_t req_id;
    uint64_t recv_us; /* when this node received it (local requests) */
    uint32_t first, n;
} lx__req;

/* Collects requests until a block is due: max_entries entries or max_us
 * microseconds after the first entry, whichever comes first. A request's
 * entries are never split across blocks. */
typedef struct lx__batcher {
    uint32_t max_entries;
    uint64_t max_us;
    uint64_t min_us; /* pacing of idle cuts under load; 0: none */
    lx_entry *entries;
    uint32_t n, cap;
    lx__req *reqs;
    uint32_t nreq, reqcap;
    uint64_t opened_us; /* when the first entry came */
    uint64_t cut_us;    /* when the last block was taken */
    uint32_t cut_n;     /* and its entries */
} lx__batcher;

/* A block of at least this many entries means load: the next idle cut
 * waits until min_us after it (lx__batcher_paced). */
#define LX__PACE_ENTRIES 64u

/* max_entries 1 .. LX_BLOCK_ENTRIES_MAX, max_us >= 1; LX_EINVAL otherwise.
 * min_us 0 cuts an idle pipeline's block at once, whatever the load. */
lx_err lx__batcher_init(lx__batcher *b, uint32_t max_entries, uint64_t max_us, uint64_t min_us);
void lx__batcher_free(lx__batcher *b);
/* 1 if n more entries can join the open block: it is empty, or it stays
 * within max_entries. A request bigger than max_entries goes alone. */
int lx__batcher_fits(const lx__batcher *b, uint32_t n);
/* Adds a request (r->first and r->n are set here) with its n entries.
 * LX_ETOOBIG if it does not fit (see lx__batcher_fits) or n is over
 * LX_BLOCK_ENTRIES_MAX; LX_ENOMEM. */
lx_err lx__batcher_add(lx__batcher *b, const lx__req *r, const lx_entry *entries, uint32_t n,
                       uint64_t now_us);
/* 1 if the open block has reached an upper bound (max_entries, or max_us
 * since its first entry) and must be cut now. */
int lx__batcher_due(const lx__batcher *b, uint64_t now_us);
/* Group commit: 1 if the open block should be cut now. It is cut when the
 * pipeline is idle (idle != 0: no block is waiting for its sync or its
 * quorum) and the pacing allows (lx__batcher_paced), and otherwise keeps
 * growing meanwhile, until it is due. */
int lx__batcher_should_cut(const lx__batcher *b, uint64_t now_us, int idle);
/* The earliest time an idle pipeline's block may be cut: min_us after the
 * last block if that one had LX__PACE_ENTRIES entries or more (under load
 * fewer, fuller blocks cost the cluster less per order), else 0 (at once). */
uint64_t lx__batcher_paced(const lx__batcher *b);
/* When the open block falls due by time; UINT64_MAX when it is empty. */
uint64_t lx__batcher_deadline(const lx__batcher *b);
/* When an idle pipeline cuts the open block: the earlier of its pacing and
 * its deadline; UINT64_MAX when it is empty. */
uint64_t lx__batcher_idle_deadline(const lx__batcher *b);
/* Empties the batcher after its block was cut at now_us, which paces the
 * next. */
void lx__batcher_taken(lx__batcher *b, uint64_t now_us);
/* Empties the batcher (a block not cut: its requests were answered). */
void lx__batcher_clear(lx__batcher *b);

/* ---------------------------------------------------------------------------
 * Peer messages over the base+3 links (node/peer.c, docs/ports.md)
 * ------------------------------------------------------------------------- */

#define LX__PEER_MAGIC 0x4C50u               /* "LP" */
#define LX__PEER_VERSION 2u                  /* 1 had no cluster tag */
#define LX__PEER_MSG_MAX ((size_t)4 << 20)   /* one message; over it: LX_ETOOBIG */
#define LX__GAP_BYTES_SOFT ((size_t)1 << 20) /* a gap response stops growing here */
#define LX__GAP_BLOCKS_MAX 1024u
#define LX__RESULT_FRAMES_MAX 1024u
#define LX__RESULT_BUNDLE 2u
/* A RELAY carries one whole peer message (up to LX__PEER_MSG_MAX) and its
 * own header: magic, version, type, cluster tag, from, dest, ttl, length. */
#define LX__RELAY_HDR_MAX                                                                          \
    (2 + 1 + 1 + LX__CLUSTER_TAG_LEN + 1 + LX__NODE_ID_MAX + 1 + LX__NODE_ID_MAX + 1 + 4)
#define LX__RELAY_MSG_MAX (LX__PEER_MSG_MAX + LX__RELAY_HDR_MAX)
#define LX__RELAY_TTL_MAX LX__CLUSTER_MAX

typedef enum lx__peer_type {
    LX__P_HELLO = 1,      /* "which of my links reaches you?" */
    LX__P_HELLO_ACK = 2,  /* sent on every link; only the addressee keeps it */
    LX__P_FORWARD = 3,    /* a client request for the leader */
    LX__P_RESULT = 4,     /* reply frames for the origin's client */
    LX__P_GAP_REQ = 5,    /* send me blocks [from, to] */
    LX__P_GAP_RESP = 6,   /* blocks from the leader's journal */
    LX__P_SETTLE_REQ = 7, /* leader: sign the settlement tx of a batch */
    LX__P_SETTLE_SIG = 8, /* a node's signature of that tx, for the leader */
    LX__P_VOTE_REQ = 9,   /* a candidate asks for votes in a new term */
    LX__P_VOTE = 10,      /* a vote (or its refusal), with the voter's log position */
    LX__P_SYNC_REQ = 11,  /* where does my log part from yours? */
    LX__P_SYNC_RESP = 12, /* the last seq both logs share */
    LX__P_ACK = 13,       /* follower: durable up to seq, in a term */
    LX__P_SNAP_REQ = 14,  /* send me a snapshot (state sync) */
    LX__P_SNAP_PART = 15, /* a part of a snapshot */
    LX__P_RELAY = 16,     /* another message, for a node this one has no link to */
    LX__P_BATCH_REQ = 17, /* send me a part of a settled batch's file */
    LX__P_BATCH_PART = 18 /* a part of that file */
} lx__peer_type;

#define LX__SETTLE_SIGNERS_MAX 64 /* owner positions in a signer set */
#define LX__TERMS_MAX 32          /* term changes of a log's tail in a SYNC_REQ */
/* State sync: bytes in one SNAP_PART, and in a whole snapshot (the engine
 * bytes and the settlement section). */
#define LX__SNAP_PART_MAX (LX__PEER_MSG_MAX - 1024)
#define LX__SNAP_BYTES_MAX ((uint64_t)4 << 30)
/* Settlement files fetched by a node that joined by state sync: the kinds
 * (<number>.batch, .json, .times) and the largest file. */
#define LX__BATCH_FILE_BATCH 0
#define LX__BATCH_FILE_RECORD 1
#define LX__BATCH_FILE_TIMES 2
#define LX__BATCH_FILE_MAX ((uint64_t)1 << 30)

typedef struct lx__peer_msg {
    uint8_t type;
    uint8_t cluster[LX__CLUSTER_TAG_LEN]; /* the sender's cluster tag */
    char from[LX__NODE_ID_MAX + 1];
    union {
        struct {
            uint32_t slot;
        } hello;
        struct {
            char to[LX__NODE_ID_MAX + 1];
            uint32_t slot;
        } hello_ack;
        struct {
            uint64_t token;
            uint64_t term; /* the sender's term: a leader refuses another */
            uint8_t rid_len;
            const uint8_t *rid;
            const uint8_t *frame;
            uint32_t frame_len;
        } forward;
        struct {
            uint64_t token; /* 0: unsolicited */
            uint8_t last;   /* bit 0: no more results for this token;
                             * LX__RESULT_BUNDLE: the client takes its
                             * frames in one message */
            uint8_t rid_len;
            const uint8_t *rid;
            uint16_t count;      /* frames */
            const uint8_t *list; /* count of (be32 len, bytes) */
            size_t list_len;
        } result;
        struct {
            uint64_t from_seq, to_seq;
        } gap_req;
        struct {
            uint64_t leader_last; /* the leader's last durable block */
            uint16_t count;       /* blocks */
            const uint8_t *list;  /* count of (be32 len, bytes) */
            size_t list_len;
        } gap_resp;
        struct {
            uint64_t number;                          /* batch, >= 1 */
            const uint8_t *batch_hash, *tx_hash;      /* 32 bytes each */
            uint8_t nsigners;                         /* 1..64 */
            uint32_t signers[LX__SETTLE_SIGNERS_MAX]; /* strictly increasing */
        } settle_req;
        struct {
            uint64_t number;
            const uint8_t *batch_hash, *tx_hash; /* 32 bytes each */
            const uint8_t *signer;               /* 20: the address that signed */
            const uint8_t *sig;                  /* 65: r || s || v over tx_hash */
        } settle_sig;
        struct {
            uint64_t term;     /* VOTE_REQ: the term asked for; VOTE: the voter's */
            uint8_t prevote;   /* 1: "would you?", nothing changes */
            uint8_t granted;   /* VOTE only */
            uint64_t last_seq; /* the sender's log: last block and its term */
            uint64_t last_term;
        } vote;
        struct {
            uint64_t term;
            uint64_t seq; /* the asker's last block */
            uint8_t count;
            uint64_t bterm[LX__TERMS_MAX], bfirst[LX__TERMS_MAX]; /* its log's terms */
        } sync_req;
        struct {
            uint64_t term;
            uint64_t match; /* the last seq both logs hold alike */
            uint64_t last;  /* the answering node's last block */
        } sync_resp;
        struct {
            uint64_t term;
            uint64_t seq; /* durable up to here */
        } ack;
        struct {
            uint64_t seq;    /* 0: the newest snapshot; else the one at this seq */
            uint64_t offset; /* first byte wanted of its engine bytes (0 when seq is 0) */
        } snap_req;
        struct {
            uint64_t seq;                  /* 0: no snapshot to serve (nothing else set) */
            uint64_t next_index;           /* first_index of block seq + 1 */
            const uint8_t *state_hash;     /* 32: the snapshot's state hash after seq */
            uint8_t announced;             /* 1: announced_hash is the sender's hash for seq */
            const uint8_t *announced_hash; /* 32; zeros when announced is 0 */
            uint64_t total;      /* bytes in all parts, 1..LX__SNAP_BYTES_MAX: the engine's, */
            uint64_t settle_len; /* then this many of the settlement section (< total) */
            uint32_t crc;        /* CRC32C of all those bytes */
            uint64_t offset;     /* where data goes in them */
            const uint8_t *data;
            uint32_t data_len; /* 1..LX__SNAP_PART_MAX, offset + data_len <= total */
        } snap_part;
        struct {
            uint64_t number; /* the batch, >= 1 */
            uint8_t kind;    /* LX__BATCH_FILE_* */
            uint64_t offset; /* the first byte wanted */
        } batch_req;
        struct {
            uint64_t number;
            uint8_t kind;
            uint64_t total;  /* the file's bytes, <= LX__BATCH_FILE_MAX; 0: the sender has
                                no such file (offset and data_len 0) */
            uint64_t offset; /* where data goes in the file */
            const uint8_t *data;
            uint32_t data_len; /* 1..LX__SNAP_PART_MAX, offset + data_len <= total */
        } batch_part;
        struct {
            char dest[LX__NODE_ID_MAX + 1]; /* the node it is for */
            uint8_t ttl;                    /* links it may still cross, 1..LX__RELAY_TTL_MAX */
            const uint8_t *inner;           /* a whole peer message, not a RELAY */
            uint32_t inner_len;             /* up to LX__PEER_MSG_MAX */
        } relay;
    } u;
} lx__peer_msg;

/* 1 if s is a valid node id: 1..31 bytes of [A-Za-z0-9._-]. */
int lx__node_id_ok(const char *s);
/* 1 if s is 1..max bytes of [A-Za-z0-9._-] (node ids, cluster ids). */
int lx__name_ok(const char *s, size_t max);

/* Decodes one peer message, checking every length and field; pointers in
 * out point into buf. LX_EFORMAT, LX_ETOOBIG or LX_EUNSUPPORTED (version).
 * A RELAY's inner message is only checked to be a peer message of another
 * type than RELAY; decode it on its own to use it. */
lx_err lx__peer_decode(lx__peer_msg *out, const uint8_t *buf, size_t len);
/* Encodes m into buf (cap bytes). For RESULT and GAP_RESP the list is copied
 * as given (build it with lx__peer_list_put), for RELAY the inner message. LX_EINVAL for a bad
 * field, LX_ETOOBIG if it does not fit. */
lx_err lx__peer_encode(uint8_t *buf, size_t cap, size_t *written, const lx__peer_msg *m);
/* Appends one (be32 len, bytes) item to a list at buf+*off (cap bytes in
 * all): LX_ETOOBIG if it does not fit. */
lx_err lx__peer_list_put(uint8_t *buf, size_t cap, size_t *off, const uint8_t *p, size_t len);
/* Reads the item at *off of a validated list and advances *off. 0 at the end. */
int lx__peer_list_next(const uint8_t *list, size_t list_len, size_t *off, const uint8_t **p,
                       size_t *len);

/* ---------------------------------------------------------------------------
 * Replication stream on PUB (node/heartbeat.c)
 * ------------------------------------------------------------------------- */

#define LX__TOPIC_BLOCK 'B'
#define LX__TOPIC_HEARTBEAT 'H'
#define LX__TOPIC_RELAYED 'R' /* a relay envelope; the B or H message follows */
#define LX__ROLE_FOLLOWER 0
#define LX__ROLE_LEADER 1
#define LX__ROLE_CANDIDATE 2

typedef struct lx__heartbeat {
    uint8_t cluster[LX__CLUSTER_TAG_LEN];
    char node[LX__NODE_ID_MAX + 1];
    uint8_t role;
    uint64_t term;
    uint64_t seq; /* last block applied */
    uint8_t hash[LX_STATE_HASH_LEN];
    uint64_t commit; /* leader: acknowledged up to here */
    uint64_t beat;   /* counts the sender's heartbeats: relays drop a beat seen before */
} lx__heartbeat;

size_t lx__heartbeat_encode(uint8_t *buf, size_t cap, const lx__heartbeat *hb);
lx_err lx__heartbeat_decode(lx__heartbeat *out, const uint8_t *buf, size_t len);

/* Every stream message starts with its topic byte and the sender's cluster
 * tag; a node subscribes to those prefixes, so the messages of another
 * cluster never reach it. */
#define LX__STREAM_PREFIX (1 + LX__CLUSTER_TAG_LEN)

/* A block message: 'B', cluster tag, version, the state hash after the
 * block, the block. */
#define LX__BLOCK_MSG_HDR (LX__STREAM_PREFIX + 1 + LX_STATE_HASH_LEN)
void lx__block_msg_header(uint8_t out[LX__BLOCK_MSG_HDR],
                          const uint8_t cluster[LX__CLUSTER_TAG_LEN],
                          const uint8_t hash[LX_STATE_HASH_LEN]);
/* cluster, hash and block point into buf. */
lx_err lx__block_msg_decode(const uint8_t **cluster, const uint8_t **hash, const uint8_t **block,
                            size_t *block_len, const uint8_t *buf, size_t len);

/* Recent (seq, state hash) pairs, to compare ours with the leader's. */
#define LX__HASH_RING 4096u
typedef struct lx__hash_ring {
    uint64_t seq[LX__HASH_RING]; /* 0: empty */
    uint8_t hash[LX__HASH_RING][LX_STATE_HASH_LEN];
} lx__hash_ring;

void lx__hash_ring_put(lx__hash_ring *r, uint64_t seq, const uint8_t hash[LX_STATE_HASH_LEN]);
/* The hash recorded for seq, or NULL. */
const uint8_t *lx__hash_ring_get(const lx__hash_ring *r, uint64_t seq);

void lx__hex(char *out, const uint8_t *p, size_t n); /* out: 2n+1 bytes */

/* ---------------------------------------------------------------------------
 * Metrics (node/metrics.c)
 * ------------------------------------------------------------------------- */

/* A latency histogram in microseconds: exact below 64, then 16 buckets per
 * power of two (at most 1/16 relative error). */
#define LX__HIST_BUCKETS (64 + 16 * 40)
typedef struct lx__hist {
    uint64_t n;
    uint64_t b[LX__HIST_BUCKETS];
} lx__hist;

void lx__hist_add(lx__hist *h, uint64_t us);
/* The q-th quantile (0 < q <= 1) in microseconds; 0 when empty. */
uint64_t lx__hist_quantile(const lx__hist *h, double q);

typedef struct lx__metrics {
    uint64_t orders;          /* order commands applied to this replica */
    uint64_t trades;          /* fills applied */
    uint64_t msgs_in;         /* messages received, every socket */
    uint64_t msgs_out;        /* messages sent, every socket */
    uint64_t bad_frames;      /* client frames answered with a decoding ERROR */
    uint64_t replies_dropped; /* replies a client's full or gone pipe refused */
    uint64_t direct_syncs;    /* blocks journaled by the main thread itself */
    uint64_t hash_mismatches;
    uint64_t gap_requests;
    uint64_t overloaded;    /* requests answered ERROR overloaded */
    uint64_t blocks;        /* leader: blocks cut */
    uint64_t block_entries; /* leader: entries in them */
    lx__hist commit_total;  /* leader: block cut to durable (journal thread), since start */
    lx__hist ack_total;     /* receive-to-reply, since start */
    lx__hist ack_interval;  /* the same, since the last metrics line */
} lx__metrics;

/* ---------------------------------------------------------------------------
 * The journal writer thread (node/jwriter.c)
 *
 * It owns the journal: appends, group commits (one lx_journal_sync for every
 * block that arrived while the previous sync ran), snapshot writes and the
 * reads that serve gap requests. It talks to the main thread over an inproc
 * PAIR socket:
 *   main -> writer: 'A' block bytes | 'P' pointer to a block | 'S' snapshot |
 *                   'R' read | 'N' snapshot part read | 'B' settlement
 *                   file part read | 'K' compaction limit | 'Q' quit
 *   writer -> main: 'Y' be64 synced seq | 'G' be32 slot, peer message |
 *                   'N' be32 slot, SNAP_PART | 'C' compacted |
 *                   'E' be32 lx_err, text
 * ------------------------------------------------------------------------- */

typedef struct lx__jw lx__jw;

/* Starts the thread. It takes j (even on failure). node_id and cluster_tag
 * head the gap responses and snapshot parts it builds. */
lx_err lx__jw_start(lx__jw **out, lx_zctx *ctx, lx_journal *j, const char *data_dir,
                    const char *node_id, const uint8_t cluster_tag[LX__CLUSTER_TAG_LEN],
                    uint32_t direct_max_us);
/* Flushes, stops and joins the thread, frees the journal, sets *p to NULL. */
void lx__jw_stop(lx__jw **p);
lx_zsock *lx__jw_sock(lx__jw *w); /* the main thread's end, to poll */
/* Hands a block to the thread (copied). */
lx_err lx__jw_append(lx__jw *w, const uint8_t *block, size_t len);
/* Appends and syncs a block on the calling (main) thread, sparing the two
 * thread hand-offs: only when nothing waits for the thread, the thread is
 * not busy and syncs have averaged at most direct_max_us (a slow disk
 * must not stall the main loop). *synced is then the journal's synced seq.
 * LX_EAGAIN: not now, hand the block to the thread; another error: the
 * journal failed (as 'E' would report). */
lx_err lx__jw_append_direct(lx__jw *w, const uint8_t *block, size_t len, uint64_t *synced);
/* Hands a block to the thread without copying it: the caller keeps block
 * unchanged and alive until the thread reports a synced seq at or past this
 * block (or the thread stopped). */
lx_err lx__jw_append_ref(lx__jw *w, const uint8_t *block, size_t len);
/* A snapshot for the thread to write. */
typedef struct lx__jw_snap {
    lx_snapshot_meta meta;
    uint8_t *engine; /* malloc'd, or lent (below) */
    size_t len;
    /* Non-NULL: engine is the main thread's buffer, lent while this flag
     * is set; the journal thread clears it when done instead of freeing.
     * Its capacity is cap: the snapshot writer faults in its pages up to
     * twice this snapshot's length, so that the next one, of a book that
     * has grown, does not fault them in on the main thread. */
    _Atomic int *lent;
    size_t cap;
    uint8_t *settle; /* the settlement section, malloc'd; NULL: none */
    size_t settle_len;
    /* Settlement batches whose files (DATA_DIR/settle/<number>.batch,
     * .json, .times) are fsynced before the snapshot is written, so that a
     * start from its section finds them: [files_from, files_to], less those
     * this thread synced for an earlier snapshot. */
    uint64_t files_from, files_to;
} lx__jw_snap;
/* Takes ownership of s->engine and s->settle (also on failure): the thread
 * syncs the journal, then its snapshot writer syncs the settlement files,
 * writes the snapshot and frees them (gives a lent engine buffer back). */
lx_err lx__jw_snapshot(lx__jw *w, lx__jw_snap *s);
/* Frees what s owns and gives back what it borrowed. */
void lx__jw_snap_release(lx__jw_snap *s);
lx_err lx__jw_read(lx__jw *w, uint32_t slot, uint64_t from, uint64_t to);
/* After every snapshot the thread removes the journal segments covered by
 * the older of the two kept snapshots, never a block after limit (0: it
 * never compacts, the start value). It reports a compaction with 'C'. */
lx_err lx__jw_compact_limit(lx__jw *w, uint64_t limit);
/* Reads the bytes of the snapshot at seq (0: the newest valid one): its
 * engine bytes, then its settlement section if it has one, from offset, at
 * most LX__SNAP_PART_MAX of them, into a SNAP_PART for the peer in
 * out[slot] ('N'; seq 0 in it when there is none). */
lx_err lx__jw_snap_read(lx__jw *w, uint32_t slot, uint64_t seq, uint64_t offset);
/* Reads the settlement file of kind (LX__BATCH_FILE_*) of batch number
 * from offset, at most LX__SNAP_PART_MAX bytes, into a BATCH_PART for the
 * peer in out[slot] ('G'; total 0 in it when there is no such file). */
lx_err lx__jw_batch_read(lx__jw *w, uint32_t slot, uint64_t number, uint8_t kind, uint64_t offset);

/* ---------------------------------------------------------------------------
 * Block application with per-entry event boundaries (node/block.c)
 * ------------------------------------------------------------------------- */

/* lx_block_apply that also writes, for every entry i, the number of events in
 * evs after entry i was applied to ends[i] (hdr.count of them; may be NULL). */
lx_err lx__block_apply_ends(lx_engine *e, lx_events *evs, uint8_t state_hash[LX_STATE_HASH_LEN],
                            const lx_block *b, size_t *ends);

/* ---------------------------------------------------------------------------
 * The node (node/server.c, node/sequencer.c, node/replica.c,
 * node/marketdata.c)
 * ------------------------------------------------------------------------- */

/* Order id -> who placed it, for unsolicited fills (open addressing). The
 * origin is stored once per distinct client connection and counted, so an
 * entry is 24 bytes however long the routing id is. */
typedef struct lx__owner {
    uint64_t id; /* 0: empty */
    uint64_t req_id;
    uint32_t origin; /* index into lx__owners.orig */
    uint32_t pad;
} lx__owner;

/* One distinct origin (token always 0) and how many owner entries use it. */
typedef struct lx__origin_slot {
    lx__origin o;
    uint32_t refs;    /* 0: free */
    uint32_t pending; /* sequencer: 1 + index of its unsolicited batch, 0 none */
} lx__origin_slot;

typedef struct lx__owners {
    lx__owner *v;
    size_t cap, n; /* cap a power of two */
    lx__origin_slot *orig;
    uint32_t norig, orig_cap; /* slots used (live or on the free list), allocated */
    uint32_t *orig_free;      /* free slot indices, a stack */
    uint32_t nfree;
    uint32_t *oidx; /* origin hash index: 1 + slot, 0 empty */
    size_t oidx_cap, nlive;
    uint32_t last; /* 1 + the slot interned last, 0 none */
} lx__owners;

#define LX__OWNERS_MAX ((size_t)1 << 20)
/* --reserve-orders' default: the open orders the leader's owner table is
 * sized for from the start. */
#define LX__RESERVE_DEFAULT LX__OWNERS_MAX

/* A cut block waiting for its fsync. */
typedef struct lx__inflight {
    uint64_t seq;
    uint8_t *bytes;
    size_t len;
    lx__req *reqs;
    uint32_t nreq;
    uint64_t cut_us; /* when it was handed to the journal thread */
} lx__inflight;

/* Where each term starts in a log's tail: blocks first[i] .. first[i+1]-1
 * carry term[i], oldest first. */
#define LX__TERMS_KEEP 64u
typedef struct lx__terms {
    uint32_t n;
    uint64_t term[LX__TERMS_KEEP], first[LX__TERMS_KEEP];
} lx__terms;

/* Unsolicited frames (maker fills, STP cancels) for one client of a
 * follower, gathered while a block's replies are built and sent as one
 * RESULT (token 0) per client and block instead of one per frame. */
#define LX__UNSOL_MAX 16u /* clients gathered per block; more are sent at once */
#define LX__UNSOL_FRAME_MAX 128u
typedef struct lx__unsol {
    uint32_t origin; /* lx__owners.orig slot */
    uint32_t count;
    size_t off;
    uint8_t *buf; /* LX__RESULT_FRAMES_MAX * LX__UNSOL_FRAME_MAX bytes */
    size_t lens[LX__RESULT_FRAMES_MAX];
} lx__unsol;

#define LX__INFLIGHT_MAX 256u
#define LX__PENDING_ENTRIES_MAX 65536u /* queued entries before backpressure */

/* A request this follower forwarded and has not had the last result for. */
/* A request this follower forwarded and has no final answer for. The
 * client's routing id is kept inline up to LX__FWD_RID_INLINE bytes, on the
 * heap beyond, so that the follower can say outcome_unknown when it gives up
 * on the answer. */
#define LX__FWD_RID_INLINE 24u
typedef struct lx__fwd {
    uint64_t token; /* 0: free */
    uint64_t recv_us;
    uint64_t req_id;
    uint64_t term; /* the term it was forwarded in */
    uint8_t rid_len;
    uint8_t rid[LX__FWD_RID_INLINE];
    uint8_t *rid_heap; /* rid_len > LX__FWD_RID_INLINE */
} lx__fwd;

#define LX__FWD_MAX 65536u
#define LX__FWD_EXPIRE_US 30000000u

/* A FORWARD from a peer whose link is not known yet waits at most this long,
 * in a queue of at most LX__PARK_BYTES (node/park.c). */
typedef struct lx__parked lx__parked;
#define LX__PARK_US 10000000u
#define LX__PARK_BYTES ((size_t)64 << 20)

/* The way to a node without a link: the link its heartbeats come in on
 * with the fewest hops (node/topology.c). */
typedef struct lx__route {
    int via;          /* link slot */
    uint32_t hops;    /* links between us and it on that way */
    uint64_t seen_us; /* when a heartbeat last came that way */
} lx__route;

/* Market data state (node/marketdata.c) */
typedef struct lx__md lx__md;
/* CURVE keys and the ZAP handler (node/auth.c); NULL when CURVE is off */
typedef struct lx__auth lx__auth;

typedef struct lx__node {
    lx__config cfg;
    FILE *logf;
    volatile int *stop; /* set by the signal handler */

    lx_zctx *ctx;
    lx__auth *auth;
    lx_zsock *pub, *sub, *router, *inbox;
    lx_zsock *out[LX__PEERS_MAX]; /* connected to each peer's base+3 */
    /* A slot is a node we send to: slots 0..npeers-1 are the links of
     * --peers (ids learnt by HELLO; "" unknown), slots npeers..nslots-1 the
     * nodes without a link, learnt from relayed heartbeats (star and ring;
     * "" a slot given up), reached through routes[slot].via. */
    char peer_id[LX__PEERS_MAX][LX__NODE_ID_MAX + 1];
    size_t nslots;
    lx__route routes[LX__PEERS_MAX];
    struct lx__topo *topo; /* stream relay state (node/topology.c); NULL in a mesh */
    uint64_t beat;         /* the number of our next heartbeat */
    uint64_t hello_us;
    lx__jw *jw;

    /* the replica */
    lx_engine *engine;
    lx_events evs;
    lx_block blk;
    size_t *ends;
    size_t ends_cap;
    uint64_t seq;        /* last block applied */
    uint64_t next_index; /* first_index of the next block */
    uint8_t hash[LX_STATE_HASH_LEN];
    uint64_t term;
    int is_leader;
    uint64_t last_snapshot_seq;
    uint64_t snap_phase; /* snapshots at seq = phase + k * snapshot_every */
    /* The buffer snapshots are encoded into, kept from one to the next so
     * that its pages are not faulted in again each time (lx__ss_snapshot),
     * and set while the journal thread holds it. It is mostly address
     * space (LX__SNAP_RESERVE): the node faults in its first
     * LX__SNAP_WARM bytes at start, the snapshot writer those the next
     * snapshot may need (lx__jw_snap's cap), and a book that outgrows both
     * faults in the rest as it first needs them. */
    uint8_t *snap_buf;
    size_t snap_cap;
    _Atomic int snap_lent;
    lx__md *md;
    /* Market data is computed and published from the first subscription
     * that can select it (lx__md_subscription in node/marketdata.c). */
    int md_on;

    /* elections and log agreement (node/election.c) */
    int role; /* LX__ROLE_* */
    char voted_for[LX__NODE_ID_MAX + 1];
    char last_leader[LX__NODE_ID_MAX + 1];
    lx__terms terms;
    uint32_t quorum;           /* a majority of the nodes */
    uint64_t durable_seq;      /* our journal is synced up to here */
    uint64_t commit_seq;       /* acknowledged up to here (the leader's word) */
    uint64_t election_base_us; /* the election timer runs from here */
    uint64_t elect_start_us, vote_sent_us;
    int prevote;
    uint8_t granted[LX__PEERS_MAX];
    uint8_t answered[LX__PEERS_MAX];
    uint32_t ngranted, nanswered;
    uint64_t quorum_us;  /* candidate: when the votes made a majority */
    int best_slot;       /* candidate: the voter with the log furthest ahead, -1 us */
    uint64_t best_term;  /* its last block's term */
    uint64_t catchup_to; /* its last seq */
    int src_slot;        /* the node our log follows: the leader, or best_slot */
    int in_sync;         /* our log was checked against src's in this term */
    uint64_t sync_sent_us;
    uint64_t term_first_seq; /* leader: the first block of its term */
    uint64_t peer_durable[LX__PEERS_MAX];
    int first_ack_logged;
    uint32_t apply_budget; /* leader: requests still to answer this loop turn */
    unsigned told_no_rpc, told_stale;
    uint64_t stale_refused;   /* blocks and forwards of an old term refused */
    uint64_t foreign_refused; /* messages of another cluster (lx__cluster_ours) */
    uint64_t foreign_told_us; /* when the last of them was logged */

    /* what we know of the leader */
    char leader_id[LX__NODE_ID_MAX + 1];
    int leader_slot;     /* out[] slot reaching it; -1 unknown */
    uint64_t leader_seq; /* its last seq, from heartbeats and blocks */
    uint64_t leader_seen_us;
    lx__hash_ring leader_hashes, own_hashes;
    uint64_t last_compared_seq;

    /* leader: sequencing */
    lx__batcher batch;
    uint64_t cut_seq; /* last block cut */
    uint64_t cut_index;
    lx__inflight inflight[LX__INFLIGHT_MAX];
    uint32_t inflight_head, inflight_n;
    uint64_t synced_seq;
    uint64_t published_seq; /* leader: the last block published (once durable) */
    lx__owners owners;
    lx__unsol *unsol; /* LX__UNSOL_MAX, allocated on first use */
    uint32_t nunsol;
    int journal_failed;
    uint64_t direct_synced; /* synced seq of this loop turn's direct append (one a turn); 0: none */
    int direct_told;        /* lx__journal_direct_act acted on direct_synced already */

    /* follower: replication */
    uint8_t **stash; /* out-of-order blocks, by seq % LX__STASH */
    size_t *stash_len;
    uint64_t *stash_seq;
    uint64_t gap_sent_us, gap_want;
    lx__fwd *fwd;
    uint64_t fwd_next_token;
    size_t fwd_n;
    uint64_t fwd_term; /* n->term when the forwards were last checked */

    /* requests forwarded by peers whose link is not known yet (node/park.c) */
    lx__parked *park_head, *park_tail;
    size_t park_bytes;
    uint64_t parked, park_dropped;

    lx__metrics m;
    uint64_t next_metrics_us, next_status_us, next_hb_us;
    int timer_fd; /* a timerfd polled with the sockets for sub-ms deadlines; -1 none */

    struct lx__settle *settle; /* settlement (node/settle.c); NULL when off */
    struct lx__ss *ss;         /* state sync (node/statesync.c) */

    /* In-process restart (a log rollback or an installed snapshot): set
     * restart with *stop; after the node is closed its journal is cut after
     * restart_truncate and snapshots after restart_snap_max are removed
     * (UINT64_MAX: neither), and lx__node_run reports LX__EXIT_RESTART. */
    int restart;
    uint64_t restart_truncate, restart_snap_max;

    uint8_t *scratch;  /* LX__PEER_MSG_MAX bytes for building messages */
    uint8_t *scratch2; /* reply frames and query answers */
    uint8_t *scratch3; /* RESULT messages */
} lx__node;

#define LX__STASH 1024u

/* Logging: "<node> <text>" to standard error and the log file. */
void lx__log(lx__node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if tag is this node's cluster tag. Otherwise counts the message (what,
 * from the node named from, NULL unknown) in foreign_refused, logs it at
 * most every 10 s, and returns 0: the caller drops it. */
int lx__cluster_ours(lx__node *n, const uint8_t tag[LX__CLUSTER_TAG_LEN], const char *from,
                     const char *what);

/* server.c. *exit_code LX__EXIT_RESTART: the node asked to be started
 * again on the same configuration (after a rollback); call it again. */
#define LX__EXIT_RESTART (-1)
lx_err lx__node_run(lx__config *cfg, volatile int *stop, int *exit_code);
/* Closes the sockets an in-process restart left for the next
 * lx__node_run, for a caller that will not run it again. */
void lx__node_drop_carry(void);
/* Asks for an in-process restart with the journal cut after truncate_after
 * and snapshots after snap_max dropped (UINT64_MAX: keep). */
void lx__node_restart(lx__node *n, uint64_t truncate_after, uint64_t snap_max, const char *why);
/* Sends [rid][frame] on the ROUTER; counts a refused reply. */
void lx__reply_local(lx__node *n, const uint8_t *rid, size_t rid_len, const uint8_t *frame,
                     size_t len);
/* Sends a peer message on out[slot]: LX_OK, or why not (counted). */
lx_err lx__send_peer(lx__node *n, int slot, const uint8_t *msg, size_t len);
/* Sends an ERROR reply to an origin. */
void lx__reply_error(lx__node *n, const lx__origin *o, uint64_t req_id, lx_proto_error code,
                     const char *text);
/* Sends reply frames (back to back in frames, lens[i] each) to an origin;
 * last: the request is finished (a relaying follower forgets it). */
void lx__reply_frames(lx__node *n, const lx__origin *o, const uint8_t *frames, const size_t *lens,
                      size_t count, int last);
void lx__write_status(lx__node *n);
/* Logs the metrics line and starts a new interval (metrics.c). */
void lx__metrics_line(lx__node *n);
/* Records the hash of the block just applied and compares it (replica.c). */
void lx__replica_applied(lx__node *n);
/* Applies one decoded block to the replica (n->blk), records its hash,
 * publishes its market data and counts it. ends may be NULL. */
lx_err lx__apply_block(lx__node *n, const uint8_t *bytes, size_t len, size_t **ends);
/* query.c: answers a query or PING from the local replica. */
void lx__answer_query(lx__node *n, const lx__origin *o, const lx_proto_msg *m, uint64_t recv_us);
/* Checks a (seq, hash) pair the leader announced against ours. */
void lx__check_hash(lx__node *n, uint64_t seq, const uint8_t hash[LX_STATE_HASH_LEN]);

/* The slot of a node id (a link before a routed one), or -1. */
int lx__slot_of_peer(const lx__node *n, const char *id);
/* 1 if slot i is one to send to: a link, or a node with a route. */
static inline int lx__slot_live(const lx__node *n, size_t i)
{
    return i < n->cfg.npeers || (i < n->nslots && n->peer_id[i][0]);
}

/* topology.c: relaying in a star or a ring (docs/topologies.md). In a mesh
 * (n->topo NULL) none of this runs. */
/* Allocates the relay state unless the topology is a mesh. LX_ENOMEM. */
lx_err lx__topo_init(lx__node *n);
void lx__topo_free(lx__node *n);
/* A stream message that came in two parts, a relay envelope and the
 * original: the original in *msg and *len, its relay count in *hops and
 * the link it came on in *link (-1 unknown). 0 if it is not one. */
int lx__topo_unwrap(lx__node *n, const lx_zmsg *zm, const uint8_t **msg, size_t *len,
                    uint32_t *hops, int *link);
/* A block message with header h: 0 if it was seen before (drop it);
 * otherwise republishes it (within the hop limit) and returns 1. */
int lx__topo_block(lx__node *n, const lx_block_hdr *h, uint32_t hops, const uint8_t *msg,
                   size_t len);
/* A heartbeat of another node: learns the way to it, 0 if that beat was
 * seen before (drop it); otherwise republishes it and returns 1. */
int lx__topo_heartbeat(lx__node *n, const lx__heartbeat *hb, uint32_t hops, int link,
                       const uint8_t *msg, size_t len);
/* Sends msg to a slot without a link, in a RELAY through its route. */
lx_err lx__topo_send(lx__node *n, int slot, const uint8_t *msg, size_t len);
/* A RELAY: sends it on if it is for another node (0), or decodes the
 * message inside into *inner with the slot of its sender (1). */
int lx__topo_relay_in(lx__node *n, const lx__peer_msg *m, lx__peer_msg *inner, int *slot);
/* HELLO taught us the node behind link slot: a routed slot of the same
 * node is given up. */
void lx__topo_link_known(lx__node *n, int slot);

/* sequencer.c (leader) */
lx_err lx__seq_init(lx__node *n);
void lx__seq_free(lx__node *n);
/* A leader stepping down: answers every request it holds with an ERROR
 * (queued ones were never logged; those in unacknowledged blocks may or
 * may not end up in the log). */
void lx__seq_abandon(lx__node *n);
/* Takes a decoded sequenced request (order, batch, cancel, replace,
 * deposit) from an origin: validates it and queues it, or answers it. */
void lx__seq_submit(lx__node *n, const lx__origin *o, const lx_proto_msg *m, uint64_t recv_us);
/* Cuts due blocks and hands them to the journal writer. */
void lx__seq_tick(lx__node *n, uint64_t now_us, int force);
/* The journal writer made everything up to seq durable. */
void lx__seq_synced(lx__node *n, uint64_t seq);
/* The main thread's side of the journal (node/jwriter.c): acts on a
 * message from the writer thread; acts on the journal being durable up to
 * seq (the writer's 'Y', or a direct append). */
void lx__journal_msg(lx__node *n, const lx_zmsg *zm);
void lx__journal_synced(lx__node *n, uint64_t seq);
/* Acts on this turn's direct append (lx__journal_synced) now, once, rather
 * than at the loop's next turn. */
void lx__journal_direct_act(lx__node *n);
/* Appends a block to the journal: directly (lx__jw_append_direct) when it
 * can, once a loop turn, lx__journal_direct_act acting on the synced seq
 * (after the message being handled, or at the next pump); else
 * through the writer thread, by reference (ref: the caller keeps the block
 * alive, as for lx__jw_append_ref) or copied. A direct failure is fatal to
 * the node. */
lx_err lx__journal_append(lx__node *n, const uint8_t *block, size_t len, int ref);
/* 1 if the ROUTER should not be read now (backpressure). */
int lx__seq_busy(const lx__node *n);
uint64_t lx__seq_deadline(const lx__node *n);
int lx__seq_idle(const lx__node *n); /* nothing queued or in flight */
/* Group commit: 1 when every block cut so far is synced and acknowledged
 * (with --ack-quorum majority, held by a majority), so the next one is cut at
 * once; while one waits, requests gather until the batcher's bounds. */
int lx__seq_pipeline_idle(const lx__node *n);
/* settle.c: the log entry (LX_ENTRY_WITHDRAW_TO) of a WITHDRAW request,
 * or why not in why: LX_EUNSUPPORTED without settlement, LX_EINVAL for an
 * asset the channel does not settle or a bad destination, LX_ETOOBIG when
 * the open batch has no room for another withdrawal, LX_ESTATE when
 * settlement halted. lx__settle_admitted: the entry was queued. */
lx_err lx__settle_withdraw_entry(lx__node *n, lx_entry *out, const lx_proto_transfer *t, char *why,
                                 size_t cap);
void lx__settle_admitted(lx__node *n);
/* The "settle" value of status.json: a JSON object, or null without
 * settlement; snprintf's return. */
int lx__settle_status(const lx__node *n, char *buf, size_t cap);

/* replica.c (follower) */
lx_err lx__replica_init(lx__node *n);
void lx__replica_free(lx__node *n);
void lx__replica_block(lx__node *n, const uint8_t *bytes, size_t len, const uint8_t *leader_hash);
void lx__replica_gap_resp(lx__node *n, const lx__peer_msg *m);
void lx__replica_tick(lx__node *n, uint64_t now_us);
/* Every role: answers outcome_unknown for the forwards of an older term and
 * those unanswered after LX__FWD_EXPIRE_US. */
void lx__replica_fwd_tick(lx__node *n, uint64_t now_us);
/* Forwards answered outcome_unknown since the process started (in-process
 * restarts included). */
uint64_t lx__replica_unknown(void);
/* Answers outcome_unknown for every forward still waiting (a restart). */
void lx__replica_give_up_all(lx__node *n, const char *why);
/* Forwards a sequenced request to the leader, or answers ERROR. */
void lx__replica_forward(lx__node *n, const uint8_t *rid, size_t rid_len, const lx_proto_msg *m,
                         const uint8_t *frame, size_t len, uint64_t recv_us);
void lx__replica_result(lx__node *n, const lx__peer_msg *m);
int lx__replica_idle(const lx__node *n);

/* node/park.c: keeps a FORWARD from a peer not yet linked (copied). */
void lx__park_forward(lx__node *n, const lx__peer_msg *m, uint64_t now);
/* Hands every request kept from `from` to fn with slot, oldest first, and
 * forgets them. */
typedef void (*lx__park_fn)(lx__node *n, const lx__peer_msg *m, int slot);
void lx__park_replay(lx__node *n, const char *from, int slot, lx__park_fn fn);
void lx__park_tick(lx__node *n, uint64_t now); /* drops what waited too long */
void lx__park_free(lx__node *n);
/* Forgets early blocks and gap requests (a new leader or term). */
void lx__replica_clear_stash(lx__node *n);

/* election.c */
/* Checks DATA/cluster against --cluster-id and --consensus, or writes it
 * for a folder that has none: a data folder serves one cluster. LX_EINVAL
 * (logged) when it belongs to another, LX_EIO when it cannot be read or
 * written. */
lx_err lx__cluster_file_check(lx__node *n);
void lx__terms_note(lx__terms *t, uint64_t term, uint64_t seq);
/* The term of block seq (0: before the known tail); *first (may be NULL)
 * gets the first seq of that term's run. */
uint64_t lx__terms_at(const lx__terms *t, uint64_t seq, uint64_t *first);
/* The last seq both logs hold with the same term (a_last, b_last: their
 * last blocks). */
uint64_t lx__terms_match(const lx__terms *a, uint64_t a_last, const lx__terms *b, uint64_t b_last);
/* At start, after recovery: the log's terms from the journal tail, the term
 * file, and the role this start has. */
lx_err lx__elect_init(lx__node *n, lx_journal *j);
/* The leader was heard from at now: the election timeout starts again. */
void lx__elect_leader_alive(lx__node *n, uint64_t now);
/* A higher term seen from `from`: adopted (a leader steps down). 1 if so. */
int lx__elect_adopt(lx__node *n, uint64_t term, const char *from);
void lx__elect_tick(lx__node *n, uint64_t now);
uint64_t lx__elect_deadline(const lx__node *n);
/* VOTE_REQ, VOTE, SYNC_REQ, SYNC_RESP and ACK from the peer of out[slot]. */
void lx__elect_peer(lx__node *n, const lx__peer_msg *m, int slot);
/* A leader's heartbeat, from the peer of out[slot] (-1 unknown). */
void lx__elect_heartbeat(lx__node *n, const lx__heartbeat *hb, int slot);
/* The journal is durable up to seq: a follower tells its leader. */
void lx__elect_synced(lx__node *n, uint64_t seq);
/* A candidate applied blocks while catching up. */
void lx__elect_caught_up(lx__node *n);
/* Leader: the highest seq a majority holds durably. */
uint64_t lx__elect_quorum_seq(const lx__node *n);
const char *lx__role_name(const lx__node *n);
/* sequencer.c: the acknowledged point may have moved: apply and answer. */
void lx__seq_commit(lx__node *n);
/* 1 if an acknowledged block waits to be applied and answered. */
int lx__seq_commit_ready(const lx__node *n);

/* statesync.c: snapshots, journal compaction and state sync
 * (docs/multi-node.md, "State sync and compaction") */
/* After the journal writer started: sets its compaction limit (none with
 * --compact off). LX_ENOMEM. */
lx_err lx__ss_init(lx__node *n);
void lx__ss_free(lx__node *n);
/* Begins a snapshot of the replica after n->seq (finishing the one in
 * progress first). The engine writes it a part per lx__ss_snap_step, while
 * blocks go on being applied; the journal thread then writes it once its
 * block is durable, and compacts. */
void lx__ss_snapshot(lx__node *n);
/* Whether a snapshot is in progress: the main loop must not sleep. */
int lx__ss_snapping(const lx__node *n);
/* Makes n->snap_buf hold a snapshot of len bytes: address space for four
 * times that, LX__SNAP_RESERVE at least, replacing a smaller buffer. Only
 * while the journal thread does not hold it (snap_lent). */
lx_err lx__ss_buf_fit(lx__node *n, size_t len);
/* Writes the next part of the snapshot in progress, if any. */
void lx__ss_snap_step(lx__node *n);
/* Whether n->seq is one of this node's snapshot points. */
int lx__ss_due(const lx__node *n);

#define LX__BIG_PAGE ((size_t)2 << 20)
/* The least address space a snapshot buffer takes (n->snap_buf). */
#define LX__SNAP_RESERVE ((size_t)256 << 20)
/* The part of it a node faults in at start, before any load: a snapshot
 * of about 330,000 orders. */
#define LX__SNAP_WARM ((size_t)16 << 20)
/* len zeroed bytes from mmap, in 2 MiB pages where the kernel has them;
 * NULL when out of memory. lx__big_free takes the same len. */
void *lx__big_alloc(size_t len);
void lx__big_free(void *p, size_t len);
/* Faults in every page of p's len bytes now, so that the thread that
 * writes them later does not: on a virtual machine a fresh page can cost
 * microseconds to fault in. */
void lx__big_prefault(void *p, size_t len);
/* A GAP_RESP from out[slot]: if it shows the sender no longer holds the
 * block after n->seq (compacted away), asks that peer for a snapshot. */
void lx__ss_gap_resp(lx__node *n, const lx__peer_msg *m, int slot);
/* SNAP_REQ (serve it through the journal thread) and SNAP_PART (take the
 * part; when all are in, verify, install and ask for a restart). */
void lx__ss_peer(lx__node *n, const lx__peer_msg *m, int slot);
/* 'N' and 'C' messages of the journal thread. */
void lx__ss_journal(lx__node *n, const uint8_t *p, size_t len);
/* Gives up a state sync whose peer stopped answering. */
void lx__ss_tick(lx__node *n, uint64_t now_us);
/* 1 while a state sync runs: gap requests wait. */
int lx__ss_busy(const lx__node *n);
/* Snapshots installed by state sync since the process started (an
 * in-process restart keeps the count). */
uint64_t lx__ss_installed(void);

/* owners (sequencer.c). put replaces an entry with the same id; an order
 * over LX__OWNERS_MAX open ones is not recorded. */
void lx__owners_put(lx__owners *o, uint64_t id, uint64_t req_id, const lx__origin *from);
const lx__owner *lx__owners_get(const lx__owners *o, uint64_t id);
/* The origin of an entry lx__owners_get returned (token 0). */
const lx__origin *lx__owners_origin(const lx__owners *o, const lx__owner *w);
void lx__owners_del(lx__owners *o, uint64_t id);
/* Distinct origins in use (for tests and metrics). */
size_t lx__owners_origins(const lx__owners *o);
void lx__owners_free(lx__owners *o);

/* marketdata.c: TRADE and L2_DELTA frames from applied blocks */
lx_err lx__md_new(lx__md **out);
void lx__md_free(lx__md **p);
/* Before a block is applied: remembers the depth of the markets it touches. */
void lx__md_before(lx__md *md, const lx_engine *e, const lx_block *b);
/* After: publishes TRADEs and L2_DELTAs for the block's events on pub. */
void lx__md_after(lx__md *md, lx__node *n, const lx_event *evs, size_t nev);
uint64_t lx__md_l2_seq(const lx__md *md, uint32_t market);
/* A (un)subscription read from pub, an XPUB: byte 1 and the topic for a
 * subscribe, byte 0 for an unsubscribe. The first subscription that can
 * select market data (T, D or everything) sets n->md_on for the rest of the
 * process. Unsubscriptions are not honoured: libzmq reports one without
 * saying whose, so honouring it would let one subscriber silence others. */
void lx__md_subscription(lx__node *n, const uint8_t *msg, size_t len);

/* auth.c: CURVE on the daemon's sockets and the account binding
 * (docs/security.md) */
/* 1 if host (a --bind value) is a loopback address: localhost or 127.x.y.z. */
int lx__host_is_loopback(const char *host);
/* Checks the CURVE options against each other and --bind: the lists need
 * --curve-key, which needs both lists and one --peer-numbers entry per
 * --peers entry; without keys a non-loopback --bind needs --insecure.
 * LX_EINVAL with a one-line message in err. */
lx_err lx__auth_check_config(const lx__config *cfg, char *err, size_t errlen);
/* 1 if every account a decoded request names is account (queries and PING
 * name none: 1). */
int lx__auth_owns(const lx_proto_msg *m, uint64_t account);
/* Encodes the not_owner answer to a sequenced request m into buf: a REJECT
 * (order id, or 0 for DEPOSIT and WITHDRAW), or for a batch a BATCH_RESULT
 * rejecting every entry. LX_EINVAL for another type. */
lx_err lx__auth_not_owner(uint8_t *buf, size_t cap, size_t *written, const lx_proto_msg *m);
/* With --curve-key: reads the key and both allow-lists, starts the ZAP
 * handler on n->ctx and sets n->auth (NULL without keys, after logging
 * when the node runs insecure). Logs why it fails. */
lx_err lx__auth_open(lx__node *n);
/* Stops the ZAP handler (after the context's sockets are closed) and wipes
 * the keys; sets *p to NULL. */
void lx__auth_free(lx__auth **p);
/* The CURVE server role for a bound socket: peers 1 for SUB and the inbox
 * (node keys), 0 for PUB and ROUTER (client keys). a NULL: unchanged. */
void lx__auth_server_opts(const lx__auth *a, lx_zsock_opts *o, int peers);
/* The CURVE client role towards the peer of --peers entry slot. */
void lx__auth_peer_opts(const lx__auth *a, lx_zsock_opts *o, size_t slot);
/* Connects s (bound already) to a peer's endpoint, as its CURVE client. */
lx_err lx__auth_connect_peer(const lx__auth *a, lx_zsock *s, const char *ep, size_t slot);
/* Wipes the secret key once every socket is set up. */
void lx__auth_seal(lx__auth *a);
/* Connections the ZAP handler refused (0 without CURVE). */
uint64_t lx__auth_refused(const lx__auth *a);
/* For a sequenced request from a client of this node: 1 if it may go on;
 * otherwise answers it (REJECT not_owner when it names another account than
 * the connection's key is registered for) and returns 0. */
int lx__auth_admit(lx__node *n, const lx__origin *o, const lx_zmsg *zm, const lx_proto_msg *m);

/* Writes a printf-style message to err (errlen bytes, may be 0) and returns
 * LX_EINVAL: how configuration parsers report what is wrong. */
lx_err lx__errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* LX_NODE_INT_H */
