/* The state of the node's settlement, shared by node/settle.c (the log
 * side: batches, the chain of settlements, setup) and node/settle_leader.c
 * (the leader: closes, signature rounds, submission, deposits). Private to
 * those two files. */
#ifndef LX_SETTLE_STATE_H
#define LX_SETTLE_STATE_H

#include <pthread.h>

#include "settle_int.h"

#define QUEUE_MAX 16         /* closed batches not yet settled */
#define CHANGE_MAX 64        /* change outputs of one settlement tx */
#define REQ_RESEND_US 500000 /* SETTLE_REQ repeats while signatures are missing */
#define ROUND_US 3000000     /* then another signer set is tried */
#define SUSPECT_US 5000000   /* a signer that failed a round is passed over this long */
#define RETRY_US 1000000     /* a failed submission is tried again */
#define SUBMIT_DEADLINE_MS 8000
#define SUBMIT_POLL_MS 50 /* getTxStatus while a settlement tx waits for a block */

typedef struct pend {
    lx_batch *batch;
    uint64_t now;         /* from the close entry: the locktime reference */
    uint64_t accepted_us; /* leader: when the submitter reported Accepted */
    lx__batch_record rec;
} pend;

struct lx__settle {
    lx__channel_cfg ch;
    lx_channel channel; /* owners point into ch */
    char data_dir[LX__PATH_MAX];
    char rpc_url[LX__PATH_MAX];
    lx_key *key;
    uint8_t me[LX_XADDR_LEN];
    int my_pos; /* among the sorted owners; -1: not an owner */
    int fault_bad_sig;
    lx_batch_builder *bb;
    size_t assets_seen, markets_seen;
    int halted;
    int replaying;
    /* The files of batches <= files_base are durable: those a start from a
     * snapshot's section found (the section holds the later ones). */
    uint64_t files_base;

    uint64_t closed;          /* last batch closed in the log */
    uint64_t settled;         /* last batch whose acceptance is in the log */
    uint8_t settled_tx[32];   /* its settlement tx (settled > 0) */
    uint8_t settled_hash[32]; /* its batch hash (settled > 0) */
    lx_channel_utxo prev[CHANGE_MAX];
    size_t nprev;
    lx_channel_utxo *utxos; /* funding UTXOs not spent yet (not the change) */
    size_t nutxos;
    pend q[QUEUE_MAX];
    size_t qn;

    /* the settlement tx of q[0] for one signer set */
    lx_settle_tx *st;
    uint64_t st_number;
    uint32_t st_signers[LX__SETTLE_SIGNERS_MAX];
    size_t st_nsigners;
    uint8_t st_hash[32];

    /* leader */
    uint64_t close_sent, settled_sent; /* sequenced, not applied yet */
    uint64_t last_close_us;
    lx_cert *cert;
    int round_open;
    uint64_t round_us, req_us;
    uint64_t next_round_us; /* after a round that could not start */
    uint64_t suspect;       /* owner positions that failed a round */
    uint64_t suspect_us;    /* when the last was added; forgotten SUSPECT_US later */
    int checked_stored;
    int have_signed, accepted;
    uint8_t *tx_bytes;
    size_t tx_len;
    uint8_t tx_id[32];
    uint64_t retry_us;
    uint64_t warned_number;

    /* withdrawals and deposits */
    uint8_t (*dests)[LX_XADDR_LEN]; /* of the block being added, in order */
    size_t ndests, dests_cap, dest_next;
    lx__funding *deps; /* every chain deposit in the log (never shrinks) */
    size_t ndeps, deps_cap;
    lx__funding *pending_deps; /* leader: sequenced, not applied yet */
    size_t npending_deps, pending_cap;
    uint64_t wd_admitted, wd_applied; /* leader: WITHDRAW_TO entries */
    lx__watch *watch;
    lx__fill_time *ft; /* the open batch's blocks with fills (<number>.times) */
    size_t nft, ft_cap;
    lx__funding ignored[16]; /* leader: UTXOs already reported as not creditable */
    size_t nignored;

    /* the files of batches settled before the snapshot this node started
     * from, when it lacks them (settle_fetch.c) */
    uint64_t fetch_number; /* the batch fetched now; 0: none */
    uint64_t fetch_top;    /* the first one fetched, for the log */
    uint8_t fetch_hash[32];
    uint8_t fetch_kind; /* LX__BATCH_FILE_* */
    uint8_t *fetch_buf;
    uint64_t fetch_total, fetch_got;
    lx_batch *fetch_batch; /* fetch_number's, once its .batch is in */
    int fetch_slot;        /* the peer asked; -1: none yet */
    uint64_t fetch_due_us; /* ask (again) then; 0: at once */
    int fetch_waiting;     /* asked, no answer yet */

    /* the submission thread */
    pthread_t th;
    int th_live;
    pthread_mutex_t mu;
    int done;
    lx_err result;
    lx_submit_report rep;
};

/* settle.c, for settle_leader.c and settle_snap.c */
void lx__settle_halt(lx__node *n, lx__settle *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lx__settle_hex32(char out[65], const uint8_t h[32]);
/* Builds (or keeps) the unsigned tx of q[0] for signer set v[0..k). */
lx_err lx__settle_ensure_tx(lx__settle *s, const uint32_t *v, size_t k);
void lx__settle_write_rec(lx__node *n, lx__settle *s, const lx__batch_record *r);
int lx__settle_same_utxo(const lx__funding *f, const uint8_t tx_id[32], uint32_t index);
int lx__settle_push_utxo(lx__funding **v, size_t *n, size_t *cap, const lx__funding *f);
/* The record of a batch just closed: its fields, status closed. */
void lx__settle_record_of(lx__batch_record *r, const lx_batch *b);

/* settle_snap.c: the snapshot's settlement section (docs/settlement.md,
 * "Restart"). lx__settle_encode writes the state after block seq to *buf
 * (malloc'd, the caller frees). lx__settle_restore replaces s's state with
 * a section's for block seq (e: the engine of the same snapshot), or leaves
 * s as it was and says why: LX_ECORRUPT for a section that does not check
 * out, LX_ENOMEM. */
lx_err lx__settle_encode(const lx__settle *s, uint64_t seq, uint8_t **buf, size_t *len);
lx_err lx__settle_restore(lx__settle *s, const uint8_t *buf, size_t len, uint64_t seq,
                          const lx_engine *e, char *why, size_t cap);

/* settle_fetch.c: the files of the batches settled before the snapshot a
 * start used, from top (of hash top_hash) down, as far as they are missing
 * here: lx__settle_fetch_init finds the first one missing (or the place a
 * marker file kept), the tick asks peers for its .batch, .json and .times
 * in turn, and each answer is checked (lx__settle_fetched_ok) and written
 * (fsynced) before the next. BATCH_REQ from a peer is served by the journal
 * thread. */
void lx__settle_fetch_init(lx__node *n, lx__settle *s, uint64_t top, const uint8_t top_hash[32]);
void lx__settle_fetch_tick(lx__node *n, lx__settle *s, uint64_t now);
void lx__settle_fetch_peer(lx__node *n, lx__settle *s, const lx__peer_msg *m, int slot);
void lx__settle_fetch_free(lx__settle *s);
/* Checks one fetched file of batch number (kind LX__BATCH_FILE_*): the
 * .batch file must be the batch of that hash (the built batch goes to *b,
 * replacing what it held); the record must be *b's, accepted with a txID;
 * the .times lines must be *b's blocks in order, their fills adding up to
 * its fill count. LX_OK, LX_ECORRUPT with why, LX_ENOMEM, LX_EINVAL (no *b
 * for a record or times). */
lx_err lx__settle_fetched_ok(lx_batch **b, uint8_t kind, uint64_t number, const uint8_t hash[32],
                             const uint8_t *data, size_t len, char *why, size_t cap);

#endif /* LX_SETTLE_STATE_H */
