/* The files of batches settled before the snapshot a node started from, when
 * the node does not hold them (it installed that snapshot by state sync, or
 * lost them): fetched from its peers (BATCH_REQ / BATCH_PART), newest first.
 * Each .batch file must have the hash the chain names (the section anchors
 * the newest, each batch names the one before), each record must be that
 * batch's, accepted; a marker file keeps the place across restarts
 * (docs/settlement.md, "Restart"). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logio.h"
#include "settle_state.h"

#define FETCH_TIMEOUT_US 2000000u /* no part for this long: ask again, maybe elsewhere */
#define FETCH_RETRY_US 1000000u   /* after a peer without the file, or a bad one */
#define MARKER "fetch"            /* DATA_DIR/settle/fetch: "<number> <hash hex>\n" */

static const char *const kind_ext[] = {".batch", ".json", ".times"};

/* ---- checking a fetched file ---- */

#define WHY(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, cap, __VA_ARGS__);                                                           \
        return LX_ECORRUPT;                                                                        \
    } while (0)

/* One decimal u64 at *p up to the separator sep; advances *p past it. */
static int get_dec(const uint8_t **p, const uint8_t *end, uint8_t sep, uint64_t *v)
{
    const uint8_t *q = *p;
    uint64_t x = 0;
    if (q == end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] != sep))
        return 0;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    if (q == end || *q != sep)
        return 0;
    *p = q + 1;
    *v = x;
    return 1;
}

static lx_err times_ok(const lx_batch_info *in, const uint8_t *data, size_t len, char *why,
                       size_t cap)
{
    const uint8_t *p = data, *end = data + len;
    uint64_t last = 0, fills = 0;
    while (p < end) {
        uint64_t seq, us, n;
        if (!get_dec(&p, end, ' ', &seq) || !get_dec(&p, end, ' ', &us) ||
            !get_dec(&p, end, '\n', &n))
            WHY("not lines of three numbers");
        if (seq < in->first_seq || seq > in->last_seq || seq < last || n == 0 ||
            n > in->fill_count - fills)
            WHY("block %" PRIu64 " is not one of the batch's, in order, with its fills", seq);
        last = seq;
        fills += n;
    }
    if (fills != in->fill_count)
        WHY("%" PRIu64 " fills, the batch has %" PRIu64, fills, in->fill_count);
    return LX_OK;
}

lx_err lx__settle_fetched_ok(lx_batch **b, uint8_t kind, uint64_t number, const uint8_t hash[32],
                             const uint8_t *data, size_t len, char *why, size_t cap)
{
    uint8_t h[32];
    lx_batch_info in;
    if (kind == LX__BATCH_FILE_BATCH) {
        lx_batch_free(b);
        lx_err rc = lx__settle_batch_from_file(b, data, len);
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK)
            WHY("not a whole, consistent .batch file");
        lx_batch_info_get(*b, &in);
        lx_batch_hash(*b, h);
        if (in.number != number || memcmp(h, hash, 32) != 0) {
            lx_batch_free(b);
            WHY("batch %" PRIu64 " is not the one the chain names", in.number);
        }
        return LX_OK;
    }
    if (!*b)
        return LX_EINVAL;
    lx_batch_info_get(*b, &in);
    if (kind == LX__BATCH_FILE_TIMES)
        return times_ok(&in, data, len, why, cap);
    lx__batch_record r, want;
    if (lx__settle_parse_record(&r, data, len) != LX_OK)
        WHY("not a batch record");
    lx__settle_record_of(&want, *b);
    if (r.number != want.number || memcmp(r.hash, want.hash, 32) != 0 ||
        memcmp(r.channel_id, want.channel_id, 32) != 0 || r.first_seq != want.first_seq ||
        r.last_seq != want.last_seq || r.first_fill != want.first_fill ||
        r.fill_count != want.fill_count || r.deposits != want.deposits ||
        r.withdrawals != want.withdrawals)
        WHY("the record is not the batch's");
    if (r.status != LX__BATCH_ACCEPTED || !r.has_tx || r.settled_seq <= in.last_seq)
        WHY("the record does not say the batch was accepted, with its tx");
    return LX_OK;
}

/* ---- the place: the next batch to fetch ---- */

static void marker_path(char *out, size_t cap, const lx__settle *s)
{
    snprintf(out, cap, "%s/settle/" MARKER, s->data_dir);
}

static void write_marker(lx__node *n, lx__settle *s)
{
    char path[LX__PATH_MAX + 32], hx[65], line[96];
    marker_path(path, sizeof path, s);
    lx__settle_hex32(hx, s->fetch_hash);
    int w = snprintf(line, sizeof line, "%" PRIu64 " %s\n", s->fetch_number, hx);
    if (lx__settle_write_file(path, (const uint8_t *)line, (size_t)w) != LX_OK)
        lx__log(n, "settlement: cannot write %s", path);
}

/* The marker's place, if there is a readable one (*number and hash are
 * left alone otherwise). */
static int read_marker(const lx__settle *s, uint64_t *number, uint8_t hash[32])
{
    char path[LX__PATH_MAX + 32];
    marker_path(path, sizeof path, s);
    uint8_t *data = NULL, h[32];
    size_t len = 0, got = 0;
    uint64_t k = 0;
    if (lx__settle_read_file(path, &data, &len, 128) != LX_OK)
        return 0;
    const uint8_t *p = data, *end = data + len;
    char hx[65];
    int ok = get_dec(&p, end, ' ', &k) && k > 0 && end - p == 65 && p[64] == '\n';
    if (ok) {
        memcpy(hx, p, 64);
        hx[64] = 0;
        ok = lx_hex_decode(h, 32, &got, hx) == LX_OK && got == 32;
    }
    free(data);
    if (ok) {
        *number = k;
        memcpy(hash, h, 32);
    }
    return ok;
}

/* 1 if batch number's .batch file is the batch of that hash and its record
 * says it was accepted: *prev is then the hash of the batch before it. */
static int have_good(const lx__settle *s, uint64_t number, const uint8_t hash[32], uint8_t prev[32])
{
    char path[LX__PATH_MAX + 64];
    lx_batch *b = NULL;
    lx_fill_leaf *fills = NULL;
    lx_net_change *nets = NULL;
    size_t nf, nn;
    lx__batch_record r;
    uint8_t h[32];
    lx_batch_info in;
    int ok = lx__settle_path(path, sizeof path, s->data_dir, number, ".batch") == LX_OK &&
             lx__settle_read_batch(path, &b, &fills, &nf, &nets, &nn) == LX_OK &&
             lx_batch_hash(b, h) == LX_OK && memcmp(h, hash, 32) == 0 &&
             lx_batch_info_get(b, &in) == LX_OK && in.number == number &&
             lx__settle_path(path, sizeof path, s->data_dir, number, ".json") == LX_OK &&
             lx__settle_read_record(path, &r) == LX_OK && r.number == number &&
             memcmp(r.hash, hash, 32) == 0 && r.status == LX__BATCH_ACCEPTED;
    if (ok)
        memcpy(prev, in.prev_hash, 32);
    lx_batch_free(&b);
    free(fills);
    free(nets);
    return ok;
}

static void reset_file(lx__settle *s, uint8_t kind)
{
    free(s->fetch_buf);
    s->fetch_buf = NULL;
    s->fetch_kind = kind;
    s->fetch_total = s->fetch_got = 0;
    s->fetch_due_us = 0; /* ask at the next tick */
    s->fetch_waiting = 0;
}

static void finish(lx__node *n, lx__settle *s)
{
    char path[LX__PATH_MAX + 32];
    if (s->fetch_top && s->fetch_number < s->fetch_top)
        lx__log(n, "settlement: fetched the files of batches %" PRIu64 "-%" PRIu64 " from peers",
                s->fetch_number + 1, s->fetch_top);
    s->fetch_number = 0;
    reset_file(s, 0);
    lx_batch_free(&s->fetch_batch);
    marker_path(path, sizeof path, s);
    if (unlink(path) != 0 && errno != ENOENT)
        lx__log(n, "settlement: cannot remove %s", path);
}

/* Goes to batch number of that hash: done if it is there already (or
 * number is 0), else fetches it. */
static void go_to(lx__node *n, lx__settle *s, uint64_t number, const uint8_t hash[32])
{
    uint8_t prev[32];
    s->fetch_number = number;
    memcpy(s->fetch_hash, hash, 32);
    if (number == 0 || have_good(s, number, hash, prev)) {
        finish(n, s);
        return;
    }
    lx_batch_free(&s->fetch_batch);
    reset_file(s, LX__BATCH_FILE_BATCH);
    write_marker(n, s);
}

void lx__settle_fetch_init(lx__node *n, lx__settle *s, uint64_t top, const uint8_t top_hash[32])
{
    uint64_t number = top;
    uint8_t hash[32];
    memcpy(hash, top_hash, 32);
    uint64_t at;
    uint8_t at_hash[32];
    /* A marker of a later snapshot than this one is not used. */
    if (read_marker(s, &at, at_hash) && at <= top) {
        number = at;
        memcpy(hash, at_hash, 32);
    }
    s->fetch_slot = -1;
    s->fetch_top = number;
    go_to(n, s, number, hash);
    if (s->fetch_number)
        lx__log(n,
                "settlement: the files of batch %" PRIu64
                " (settled before the snapshot) are not here: fetching them and older ones "
                "from peers",
                s->fetch_number);
}

void lx__settle_fetch_free(lx__settle *s)
{
    free(s->fetch_buf);
    s->fetch_buf = NULL;
    lx_batch_free(&s->fetch_batch);
}

/* ---- asking ---- */

/* The next peer to ask after slot (-1: none yet): the leader first, then
 * each live slot in turn. */
static int next_slot(const lx__node *n, int slot)
{
    if (slot < 0 && n->leader_slot >= 0 && lx__slot_live(n, (size_t)n->leader_slot))
        return n->leader_slot;
    size_t k = n->nslots, start = slot < 0 ? k - 1 : (size_t)slot;
    for (size_t i = 1; i <= k; i++)
        if (lx__slot_live(n, (start + i) % k))
            return (int)((start + i) % k);
    return -1;
}

static void ask(lx__node *n, lx__settle *s, uint64_t now)
{
    if (s->fetch_slot < 0)
        s->fetch_slot = next_slot(n, -1);
    if (s->fetch_slot < 0) {
        s->fetch_due_us = now + FETCH_RETRY_US; /* no peer yet */
        return;
    }
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_BATCH_REQ;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.batch_req.number = s->fetch_number;
    m.u.batch_req.kind = s->fetch_kind;
    m.u.batch_req.offset = s->fetch_got;
    uint8_t buf[128];
    size_t w;
    s->fetch_due_us = now + FETCH_TIMEOUT_US;
    s->fetch_waiting = 1;
    if (lx__peer_encode(buf, sizeof buf, &w, &m) == LX_OK)
        lx__send_peer(n, s->fetch_slot, buf, w); /* lost: the timeout asks again */
}

/* The peer asked lacks the file or sent a bad one: another, a second later. */
static void try_elsewhere(lx__settle *s, const lx__node *n, uint64_t now)
{
    reset_file(s, s->fetch_kind);
    s->fetch_slot = next_slot(n, s->fetch_slot);
    s->fetch_due_us = now + FETCH_RETRY_US;
}

void lx__settle_fetch_tick(lx__node *n, lx__settle *s, uint64_t now)
{
    if (!s->fetch_number || (s->fetch_due_us && now < s->fetch_due_us))
        return;
    if (s->fetch_waiting) { /* no answer in time: the file again, from another peer */
        reset_file(s, s->fetch_kind);
        s->fetch_slot = next_slot(n, s->fetch_slot);
    }
    ask(n, s, now);
}

/* ---- the answers ---- */

static void done_file(lx__node *n, lx__settle *s, int slot)
{
    char why[200] = "", path[LX__PATH_MAX + 64];
    uint8_t kind = s->fetch_kind;
    lx_err rc = lx__settle_fetched_ok(&s->fetch_batch, kind, s->fetch_number, s->fetch_hash,
                                      s->fetch_buf, (size_t)s->fetch_total, why, sizeof why);
    if (rc != LX_OK) {
        lx__log(n, "settlement: refused the %s file of batch %" PRIu64 " from %s: %s",
                kind_ext[kind], s->fetch_number, n->peer_id[slot][0] ? n->peer_id[slot] : "a peer",
                why[0] ? why : lx_strerror(rc));
        if (kind == LX__BATCH_FILE_TIMES) /* timing only: go on without it */
            goto next;
        try_elsewhere(s, n, lx_now_us());
        return;
    }
    if (lx__settle_path(path, sizeof path, s->data_dir, s->fetch_number, kind_ext[kind]) != LX_OK ||
        lx__settle_write_file(path, s->fetch_buf, (size_t)s->fetch_total) != LX_OK) {
        lx__log(n, "settlement: cannot write %s; trying again", path);
        try_elsewhere(s, n, lx_now_us());
        return;
    }
    if (kind != LX__BATCH_FILE_TIMES) {
        reset_file(s, (uint8_t)(kind + 1));
        return;
    }
next:;
    lx_batch_info in;
    lx_batch_info_get(s->fetch_batch, &in);
    uint8_t prev[32];
    memcpy(prev, in.prev_hash, 32);
    go_to(n, s, s->fetch_number - 1, prev);
}

static void on_part(lx__node *n, lx__settle *s, const lx__peer_msg *m, int slot)
{
    uint64_t total = m->u.batch_part.total;
    if (!s->fetch_number || slot != s->fetch_slot || m->u.batch_part.number != s->fetch_number ||
        m->u.batch_part.kind != s->fetch_kind)
        return; /* late, or for another file */
    if (total == 0) {
        if (s->fetch_kind == LX__BATCH_FILE_TIMES) { /* timing only */
            s->fetch_total = 0;
            lx_batch_info in;
            lx_batch_info_get(s->fetch_batch, &in);
            uint8_t prev[32];
            memcpy(prev, in.prev_hash, 32);
            go_to(n, s, s->fetch_number - 1, prev);
            return;
        }
        lx__log(n, "settlement: %s has no %s file of batch %" PRIu64 "; asking another peer",
                n->peer_id[slot][0] ? n->peer_id[slot] : "a peer", kind_ext[s->fetch_kind],
                s->fetch_number);
        try_elsewhere(s, n, lx_now_us());
        return;
    }
    if (s->fetch_got == 0 && !s->fetch_buf) {
        if (!(s->fetch_buf = malloc((size_t)total))) {
            try_elsewhere(s, n, lx_now_us());
            return;
        }
        s->fetch_total = total;
    }
    if (total != s->fetch_total || m->u.batch_part.offset != s->fetch_got)
        return; /* a duplicate, or the file changed: the timeout starts over */
    memcpy(s->fetch_buf + s->fetch_got, m->u.batch_part.data, m->u.batch_part.data_len);
    s->fetch_got += m->u.batch_part.data_len;
    s->fetch_waiting = 0;
    if (s->fetch_got < s->fetch_total)
        ask(n, s, lx_now_us());
    else
        done_file(n, s, slot);
}

void lx__settle_fetch_peer(lx__node *n, lx__settle *s, const lx__peer_msg *m, int slot)
{
    if (slot < 0)
        return;
    if (m->type == LX__P_BATCH_REQ)
        lx__jw_batch_read(n->jw, (uint32_t)slot, m->u.batch_req.number, m->u.batch_req.kind,
                          m->u.batch_req.offset);
    else if (m->type == LX__P_BATCH_PART)
        on_part(n, s, m, slot);
}
