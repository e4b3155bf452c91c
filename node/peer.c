/* Node-to-node unicast messages over the base+3 links: HELLO, HELLO_ACK,
 * FORWARD, RESULT, GAP_REQ, GAP_RESP, the election, settlement, state sync
 * and batch file messages, and RELAY around them. Big-endian, every length checked; the
 * layout is in docs/ports.md. Also the cluster check every node-to-node
 * message passes on arrival. */
#include <inttypes.h>
#include <string.h>

#include "logio.h"
#include "node_int.h"

int lx__node_id_ok(const char *s)
{
    return lx__name_ok(s, LX__NODE_ID_MAX);
}

int lx__name_ok(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

#define FOREIGN_TELL_US 10000000u /* a message of another cluster is logged this often at most */

int lx__cluster_ours(lx__node *n, const uint8_t tag[LX__CLUSTER_TAG_LEN], const char *from,
                     const char *what)
{
    if (memcmp(tag, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN) == 0)
        return 1;
    n->foreign_refused++;
    uint64_t now = lx_now_us();
    if (n->foreign_told_us && now - n->foreign_told_us < FOREIGN_TELL_US)
        return 0;
    n->foreign_told_us = now;
    char theirs[2 * LX__CLUSTER_TAG_LEN + 1], ours[2 * LX__CLUSTER_TAG_LEN + 1];
    lx__hex(theirs, tag, LX__CLUSTER_TAG_LEN);
    lx__hex(ours, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    lx__log(n,
            "WARNING: refusing %s from %s%s of another cluster: its cluster tag is %s, this "
            "node's %s (--cluster-id %s, --consensus %s); check --peers, --cluster-id and "
            "--consensus on both nodes (%" PRIu64 " refused so far)",
            what, from ? "node " : "a node", from ? from : "", theirs, ours, n->cfg.cluster_id,
            n->cfg.consensus, n->foreign_refused);
    return 0;
}

/* A bounds-checked reader. */
typedef struct rd {
    const uint8_t *p;
    size_t len, off;
    int bad;
} rd;

static const uint8_t *take(rd *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint8_t u8(rd *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

static uint16_t u16(rd *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)((unsigned)p[0] << 8 | p[1]) : 0;
}

static uint32_t u32(rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? lx__get_u32(p) : 0;
}

static uint64_t u64(rd *r)
{
    const uint8_t *p = take(r, 8);
    return p ? lx__get_u64(p) : 0;
}

static int node_id(rd *r, char out[LX__NODE_ID_MAX + 1])
{
    uint8_t n = u8(r);
    const uint8_t *p = take(r, n);
    if (!p || n == 0 || n > LX__NODE_ID_MAX)
        return 0;
    memcpy(out, p, n);
    out[n] = 0;
    return lx__node_id_ok(out);
}

/* A list of count (be32 len, bytes) items with each len in [lo, hi]. */
static const uint8_t *list(rd *r, size_t *list_len, uint16_t count, size_t lo, size_t hi)
{
    size_t start = r->off;
    for (uint16_t i = 0; i < count; i++) {
        uint32_t n = u32(r);
        if (r->bad || n < lo || n > hi || !take(r, n)) {
            r->bad = 1;
            return NULL;
        }
    }
    *list_len = r->off - start;
    return r->p + start;
}

/* The inner message of a RELAY: the start of a peer message (magic,
 * version, a type, a cluster tag, a sender) of another type than RELAY, so
 * a relay never nests. The rest is checked when it is decoded at its
 * destination. */
static int relay_inner_ok(const uint8_t *p, size_t n)
{
    return p && n >= 4 + LX__CLUSTER_TAG_LEN + 2 &&
           ((unsigned)p[0] << 8 | p[1]) == LX__PEER_MAGIC && p[2] == LX__PEER_VERSION &&
           p[3] != LX__P_RELAY;
}

/* A SNAP_PART body; 0 if a field is out of range. */
static int snap_part(rd *r, lx__peer_msg *out)
{
    out->u.snap_part.seq = u64(r);
    out->u.snap_part.next_index = u64(r);
    out->u.snap_part.state_hash = take(r, LX_STATE_HASH_LEN);
    out->u.snap_part.announced = u8(r);
    out->u.snap_part.announced_hash = take(r, LX_STATE_HASH_LEN);
    out->u.snap_part.total = u64(r);
    out->u.snap_part.settle_len = u64(r);
    out->u.snap_part.crc = u32(r);
    out->u.snap_part.offset = u64(r);
    out->u.snap_part.data_len = u32(r);
    if (r->bad || out->u.snap_part.announced > 1)
        return 0;
    uint64_t total = out->u.snap_part.total, off = out->u.snap_part.offset;
    uint32_t n = out->u.snap_part.data_len;
    if (out->u.snap_part.seq == 0)
        return out->u.snap_part.next_index == 0 && total == 0 && off == 0 && n == 0 &&
               out->u.snap_part.announced == 0 && out->u.snap_part.settle_len == 0;
    if (out->u.snap_part.next_index == 0 || total == 0 || total > LX__SNAP_BYTES_MAX || n == 0 ||
        n > LX__SNAP_PART_MAX || off > total || total - off < n ||
        out->u.snap_part.settle_len >= total)
        return 0;
    out->u.snap_part.data = take(r, n);
    return !r->bad;
}

/* The checks of a BATCH_PART, for both directions. */
static int batch_part_ok(const lx__peer_msg *m)
{
    uint64_t total = m->u.batch_part.total, off = m->u.batch_part.offset;
    uint32_t n = m->u.batch_part.data_len;
    if (m->u.batch_part.number == 0 || m->u.batch_part.kind > LX__BATCH_FILE_TIMES ||
        total > LX__BATCH_FILE_MAX)
        return 0;
    if (total == 0)
        return off == 0 && n == 0;
    return n != 0 && n <= LX__SNAP_PART_MAX && off <= total && total - off >= n;
}

lx_err lx__peer_decode(lx__peer_msg *out, const uint8_t *buf, size_t len)
{
    if (!out || (!buf && len))
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    if (len > LX__RELAY_MSG_MAX)
        return LX_ETOOBIG;
    rd r = {buf, len, 0, 0};
    if (u16(&r) != LX__PEER_MAGIC)
        return LX_EFORMAT;
    uint8_t ver = u8(&r);
    if (r.bad)
        return LX_EFORMAT;
    if (ver != LX__PEER_VERSION)
        return LX_EUNSUPPORTED;
    out->type = u8(&r);
    if (out->type != LX__P_RELAY && len > LX__PEER_MSG_MAX)
        return LX_ETOOBIG;
    const uint8_t *tag = take(&r, LX__CLUSTER_TAG_LEN);
    if (!tag)
        return LX_EFORMAT;
    memcpy(out->cluster, tag, LX__CLUSTER_TAG_LEN);
    if (!node_id(&r, out->from))
        return LX_EFORMAT;
    switch (out->type) {
    case LX__P_HELLO:
        out->u.hello.slot = u32(&r);
        break;
    case LX__P_HELLO_ACK:
        if (!node_id(&r, out->u.hello_ack.to))
            return LX_EFORMAT;
        out->u.hello_ack.slot = u32(&r);
        break;
    case LX__P_FORWARD:
        out->u.forward.token = u64(&r);
        out->u.forward.term = u64(&r);
        out->u.forward.rid_len = u8(&r);
        out->u.forward.rid = take(&r, out->u.forward.rid_len);
        out->u.forward.frame_len = u32(&r);
        if (out->u.forward.token == 0 || out->u.forward.rid_len == 0 ||
            out->u.forward.frame_len == 0 || out->u.forward.frame_len > LX_PROTO_FRAME_MAX)
            return LX_EFORMAT;
        out->u.forward.frame = take(&r, out->u.forward.frame_len);
        break;
    case LX__P_RESULT:
        out->u.result.token = u64(&r);
        out->u.result.last = u8(&r);
        out->u.result.rid_len = u8(&r);
        out->u.result.rid = take(&r, out->u.result.rid_len);
        out->u.result.count = u16(&r);
        if (r.bad || out->u.result.last > 3 || out->u.result.rid_len == 0 ||
            out->u.result.count > LX__RESULT_FRAMES_MAX)
            return LX_EFORMAT;
        out->u.result.list = list(&r, &out->u.result.list_len, out->u.result.count,
                                  LX_PROTO_HDR_LEN, LX_PROTO_FRAME_MAX);
        break;
    case LX__P_GAP_REQ:
        out->u.gap_req.from_seq = u64(&r);
        out->u.gap_req.to_seq = u64(&r);
        if (out->u.gap_req.from_seq == 0 || out->u.gap_req.to_seq < out->u.gap_req.from_seq)
            return LX_EFORMAT;
        break;
    case LX__P_GAP_RESP:
        out->u.gap_resp.leader_last = u64(&r);
        out->u.gap_resp.count = u16(&r);
        if (r.bad || out->u.gap_resp.count > LX__GAP_BLOCKS_MAX)
            return LX_EFORMAT;
        out->u.gap_resp.list = list(&r, &out->u.gap_resp.list_len, out->u.gap_resp.count,
                                    LX_BLOCK_HDR_LEN, LX_BLOCK_BYTES_MAX);
        break;
    case LX__P_SETTLE_REQ: {
        out->u.settle_req.number = u64(&r);
        out->u.settle_req.batch_hash = take(&r, 32);
        out->u.settle_req.tx_hash = take(&r, 32);
        uint8_t k = u8(&r);
        if (r.bad || out->u.settle_req.number == 0 || k == 0 || k > LX__SETTLE_SIGNERS_MAX)
            return LX_EFORMAT;
        out->u.settle_req.nsigners = k;
        for (uint8_t i = 0; i < k; i++) {
            uint32_t v = u32(&r);
            /* positions among the owners, strictly increasing */
            if (v >= LX__SETTLE_SIGNERS_MAX || (i > 0 && v <= out->u.settle_req.signers[i - 1]))
                return LX_EFORMAT;
            out->u.settle_req.signers[i] = v;
        }
        break;
    }
    case LX__P_SETTLE_SIG:
        out->u.settle_sig.number = u64(&r);
        out->u.settle_sig.batch_hash = take(&r, 32);
        out->u.settle_sig.tx_hash = take(&r, 32);
        out->u.settle_sig.signer = take(&r, 20);
        out->u.settle_sig.sig = take(&r, 65);
        if (r.bad || out->u.settle_sig.number == 0)
            return LX_EFORMAT;
        break;
    case LX__P_VOTE_REQ:
    case LX__P_VOTE:
        out->u.vote.term = u64(&r);
        out->u.vote.prevote = u8(&r);
        out->u.vote.granted = out->type == LX__P_VOTE ? u8(&r) : 0;
        out->u.vote.last_seq = u64(&r);
        out->u.vote.last_term = u64(&r);
        if (r.bad || out->u.vote.term == 0 || out->u.vote.prevote > 1 || out->u.vote.granted > 1)
            return LX_EFORMAT;
        break;
    case LX__P_SYNC_REQ: {
        out->u.sync_req.term = u64(&r);
        out->u.sync_req.seq = u64(&r);
        uint8_t k = u8(&r);
        if (r.bad || out->u.sync_req.term == 0 || k > LX__TERMS_MAX)
            return LX_EFORMAT;
        out->u.sync_req.count = k;
        for (uint8_t i = 0; i < k; i++) {
            out->u.sync_req.bterm[i] = u64(&r);
            out->u.sync_req.bfirst[i] = u64(&r);
            /* oldest first: terms and first seqs strictly increasing */
            if (i > 0 && (out->u.sync_req.bterm[i] <= out->u.sync_req.bterm[i - 1] ||
                          out->u.sync_req.bfirst[i] <= out->u.sync_req.bfirst[i - 1]))
                return LX_EFORMAT;
        }
        if (k && out->u.sync_req.bfirst[k - 1] > out->u.sync_req.seq)
            return LX_EFORMAT;
        break;
    }
    case LX__P_SYNC_RESP:
        out->u.sync_resp.term = u64(&r);
        out->u.sync_resp.match = u64(&r);
        out->u.sync_resp.last = u64(&r);
        if (r.bad || out->u.sync_resp.term == 0 || out->u.sync_resp.match > out->u.sync_resp.last)
            return LX_EFORMAT;
        break;
    case LX__P_ACK:
        out->u.ack.term = u64(&r);
        out->u.ack.seq = u64(&r);
        if (r.bad || out->u.ack.term == 0)
            return LX_EFORMAT;
        break;
    case LX__P_SNAP_REQ:
        out->u.snap_req.seq = u64(&r);
        out->u.snap_req.offset = u64(&r);
        if (out->u.snap_req.seq == 0 && out->u.snap_req.offset != 0)
            return LX_EFORMAT;
        break;
    case LX__P_SNAP_PART:
        if (!snap_part(&r, out))
            return LX_EFORMAT;
        break;
    case LX__P_BATCH_REQ:
        out->u.batch_req.number = u64(&r);
        out->u.batch_req.kind = u8(&r);
        out->u.batch_req.offset = u64(&r);
        if (out->u.batch_req.number == 0 || out->u.batch_req.kind > LX__BATCH_FILE_TIMES ||
            out->u.batch_req.offset >= LX__BATCH_FILE_MAX)
            return LX_EFORMAT;
        break;
    case LX__P_BATCH_PART:
        out->u.batch_part.number = u64(&r);
        out->u.batch_part.kind = u8(&r);
        out->u.batch_part.total = u64(&r);
        out->u.batch_part.offset = u64(&r);
        out->u.batch_part.data_len = u32(&r);
        if (r.bad || !batch_part_ok(out))
            return LX_EFORMAT;
        out->u.batch_part.data = take(&r, out->u.batch_part.data_len);
        break;
    case LX__P_RELAY: {
        if (!node_id(&r, out->u.relay.dest))
            return LX_EFORMAT;
        out->u.relay.ttl = u8(&r);
        uint32_t n = u32(&r);
        if (r.bad || out->u.relay.ttl == 0 || out->u.relay.ttl > LX__RELAY_TTL_MAX)
            return LX_EFORMAT;
        if (n > LX__PEER_MSG_MAX)
            return LX_ETOOBIG;
        if (!relay_inner_ok(out->u.relay.inner = take(&r, n), n))
            return LX_EFORMAT;
        out->u.relay.inner_len = n;
        break;
    }
    default:
        return LX_EFORMAT;
    }
    if (r.bad || r.off != len)
        return LX_EFORMAT;
    return LX_OK;
}

/* A bounds-checked writer. */
typedef struct wr {
    uint8_t *p;
    size_t cap, off;
    int full;
} wr;

static uint8_t *room(wr *w, size_t n)
{
    if (w->full || w->cap - w->off < n) {
        w->full = 1;
        return NULL;
    }
    uint8_t *p = w->p + w->off;
    w->off += n;
    return p;
}

static void put8(wr *w, uint8_t v)
{
    uint8_t *p = room(w, 1);
    if (p)
        p[0] = v;
}

static void put16(wr *w, uint16_t v)
{
    uint8_t *p = room(w, 2);
    if (p) {
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
    }
}

static void put32(wr *w, uint32_t v)
{
    uint8_t *p = room(w, 4);
    if (p)
        lx__put_u32(p, v);
}

static void put64(wr *w, uint64_t v)
{
    uint8_t *p = room(w, 8);
    if (p)
        lx__put_u64(p, v);
}

static void putb(wr *w, const void *src, size_t n)
{
    uint8_t *p = room(w, n);
    if (p && n)
        memcpy(p, src, n);
}

static void put_id(wr *w, const char *id)
{
    size_t n = strlen(id);
    put8(w, (uint8_t)n);
    putb(w, id, n);
}

/* The checks snap_part makes on decoding, for the encoder. */
static int snap_part_ok(const lx__peer_msg *m)
{
    uint64_t total = m->u.snap_part.total, off = m->u.snap_part.offset;
    uint32_t n = m->u.snap_part.data_len;
    if (m->u.snap_part.announced > 1)
        return 0;
    if (m->u.snap_part.seq == 0)
        return m->u.snap_part.next_index == 0 && total == 0 && off == 0 && n == 0 &&
               m->u.snap_part.announced == 0 && m->u.snap_part.settle_len == 0;
    return m->u.snap_part.next_index != 0 && m->u.snap_part.state_hash &&
           m->u.snap_part.settle_len < total &&
           (m->u.snap_part.announced == 0 || m->u.snap_part.announced_hash) && total != 0 &&
           total <= LX__SNAP_BYTES_MAX && n != 0 && n <= LX__SNAP_PART_MAX && off <= total &&
           total - off >= n && m->u.snap_part.data;
}

static void put_snap_part(wr *w, const lx__peer_msg *m)
{
    static const uint8_t zero[LX_STATE_HASH_LEN];
    const uint8_t *sh = m->u.snap_part.state_hash, *ah = m->u.snap_part.announced_hash;
    put64(w, m->u.snap_part.seq);
    put64(w, m->u.snap_part.next_index);
    putb(w, sh ? sh : zero, LX_STATE_HASH_LEN);
    put8(w, m->u.snap_part.announced);
    putb(w, m->u.snap_part.announced && ah ? ah : zero, LX_STATE_HASH_LEN);
    put64(w, m->u.snap_part.total);
    put64(w, m->u.snap_part.settle_len);
    put32(w, m->u.snap_part.crc);
    put64(w, m->u.snap_part.offset);
    put32(w, m->u.snap_part.data_len);
    putb(w, m->u.snap_part.data, m->u.snap_part.data_len);
}

lx_err lx__peer_encode(uint8_t *buf, size_t cap, size_t *written, const lx__peer_msg *m)
{
    if (!buf || !written || !m || !lx__node_id_ok(m->from))
        return LX_EINVAL;
    wr w = {buf, cap, 0, 0};
    put16(&w, LX__PEER_MAGIC);
    put8(&w, LX__PEER_VERSION);
    put8(&w, m->type);
    putb(&w, m->cluster, LX__CLUSTER_TAG_LEN);
    put_id(&w, m->from);
    switch (m->type) {
    case LX__P_HELLO:
        put32(&w, m->u.hello.slot);
        break;
    case LX__P_HELLO_ACK:
        if (!lx__node_id_ok(m->u.hello_ack.to))
            return LX_EINVAL;
        put_id(&w, m->u.hello_ack.to);
        put32(&w, m->u.hello_ack.slot);
        break;
    case LX__P_FORWARD:
        if (m->u.forward.token == 0 || m->u.forward.rid_len == 0 || !m->u.forward.rid ||
            m->u.forward.frame_len == 0 || m->u.forward.frame_len > LX_PROTO_FRAME_MAX ||
            !m->u.forward.frame)
            return LX_EINVAL;
        put64(&w, m->u.forward.token);
        put64(&w, m->u.forward.term);
        put8(&w, m->u.forward.rid_len);
        putb(&w, m->u.forward.rid, m->u.forward.rid_len);
        put32(&w, m->u.forward.frame_len);
        putb(&w, m->u.forward.frame, m->u.forward.frame_len);
        break;
    case LX__P_RESULT:
        if (m->u.result.last > 3 || m->u.result.rid_len == 0 || !m->u.result.rid ||
            m->u.result.count > LX__RESULT_FRAMES_MAX ||
            (!m->u.result.list && m->u.result.list_len))
            return LX_EINVAL;
        put64(&w, m->u.result.token);
        put8(&w, m->u.result.last);
        put8(&w, m->u.result.rid_len);
        putb(&w, m->u.result.rid, m->u.result.rid_len);
        put16(&w, m->u.result.count);
        putb(&w, m->u.result.list, m->u.result.list_len);
        break;
    case LX__P_GAP_REQ:
        if (m->u.gap_req.from_seq == 0 || m->u.gap_req.to_seq < m->u.gap_req.from_seq)
            return LX_EINVAL;
        put64(&w, m->u.gap_req.from_seq);
        put64(&w, m->u.gap_req.to_seq);
        break;
    case LX__P_GAP_RESP:
        if (m->u.gap_resp.count > LX__GAP_BLOCKS_MAX ||
            (!m->u.gap_resp.list && m->u.gap_resp.list_len))
            return LX_EINVAL;
        put64(&w, m->u.gap_resp.leader_last);
        put16(&w, m->u.gap_resp.count);
        putb(&w, m->u.gap_resp.list, m->u.gap_resp.list_len);
        break;
    case LX__P_SETTLE_REQ: {
        uint8_t k = m->u.settle_req.nsigners;
        if (m->u.settle_req.number == 0 || !m->u.settle_req.batch_hash ||
            !m->u.settle_req.tx_hash || k == 0 || k > LX__SETTLE_SIGNERS_MAX)
            return LX_EINVAL;
        for (uint8_t i = 0; i < k; i++)
            if (m->u.settle_req.signers[i] >= LX__SETTLE_SIGNERS_MAX ||
                (i > 0 && m->u.settle_req.signers[i] <= m->u.settle_req.signers[i - 1]))
                return LX_EINVAL;
        put64(&w, m->u.settle_req.number);
        putb(&w, m->u.settle_req.batch_hash, 32);
        putb(&w, m->u.settle_req.tx_hash, 32);
        put8(&w, k);
        for (uint8_t i = 0; i < k; i++)
            put32(&w, m->u.settle_req.signers[i]);
        break;
    }
    case LX__P_SETTLE_SIG:
        if (m->u.settle_sig.number == 0 || !m->u.settle_sig.batch_hash ||
            !m->u.settle_sig.tx_hash || !m->u.settle_sig.signer || !m->u.settle_sig.sig)
            return LX_EINVAL;
        put64(&w, m->u.settle_sig.number);
        putb(&w, m->u.settle_sig.batch_hash, 32);
        putb(&w, m->u.settle_sig.tx_hash, 32);
        putb(&w, m->u.settle_sig.signer, 20);
        putb(&w, m->u.settle_sig.sig, 65);
        break;
    case LX__P_VOTE_REQ:
    case LX__P_VOTE:
        if (m->u.vote.term == 0 || m->u.vote.prevote > 1 || m->u.vote.granted > 1)
            return LX_EINVAL;
        put64(&w, m->u.vote.term);
        put8(&w, m->u.vote.prevote);
        if (m->type == LX__P_VOTE)
            put8(&w, m->u.vote.granted);
        put64(&w, m->u.vote.last_seq);
        put64(&w, m->u.vote.last_term);
        break;
    case LX__P_SYNC_REQ: {
        uint8_t k = m->u.sync_req.count;
        if (m->u.sync_req.term == 0 || k > LX__TERMS_MAX ||
            (k && m->u.sync_req.bfirst[k - 1] > m->u.sync_req.seq))
            return LX_EINVAL;
        for (uint8_t i = 1; i < k; i++)
            if (m->u.sync_req.bterm[i] <= m->u.sync_req.bterm[i - 1] ||
                m->u.sync_req.bfirst[i] <= m->u.sync_req.bfirst[i - 1])
                return LX_EINVAL;
        put64(&w, m->u.sync_req.term);
        put64(&w, m->u.sync_req.seq);
        put8(&w, k);
        for (uint8_t i = 0; i < k; i++) {
            put64(&w, m->u.sync_req.bterm[i]);
            put64(&w, m->u.sync_req.bfirst[i]);
        }
        break;
    }
    case LX__P_SYNC_RESP:
        if (m->u.sync_resp.term == 0 || m->u.sync_resp.match > m->u.sync_resp.last)
            return LX_EINVAL;
        put64(&w, m->u.sync_resp.term);
        put64(&w, m->u.sync_resp.match);
        put64(&w, m->u.sync_resp.last);
        break;
    case LX__P_ACK:
        if (m->u.ack.term == 0)
            return LX_EINVAL;
        put64(&w, m->u.ack.term);
        put64(&w, m->u.ack.seq);
        break;
    case LX__P_SNAP_REQ:
        if (m->u.snap_req.seq == 0 && m->u.snap_req.offset != 0)
            return LX_EINVAL;
        put64(&w, m->u.snap_req.seq);
        put64(&w, m->u.snap_req.offset);
        break;
    case LX__P_SNAP_PART:
        if (!snap_part_ok(m))
            return LX_EINVAL;
        put_snap_part(&w, m);
        break;
    case LX__P_BATCH_REQ:
        if (m->u.batch_req.number == 0 || m->u.batch_req.kind > LX__BATCH_FILE_TIMES ||
            m->u.batch_req.offset >= LX__BATCH_FILE_MAX)
            return LX_EINVAL;
        put64(&w, m->u.batch_req.number);
        put8(&w, m->u.batch_req.kind);
        put64(&w, m->u.batch_req.offset);
        break;
    case LX__P_BATCH_PART:
        if (!batch_part_ok(m) || (m->u.batch_part.data_len && !m->u.batch_part.data))
            return LX_EINVAL;
        put64(&w, m->u.batch_part.number);
        put8(&w, m->u.batch_part.kind);
        put64(&w, m->u.batch_part.total);
        put64(&w, m->u.batch_part.offset);
        put32(&w, m->u.batch_part.data_len);
        putb(&w, m->u.batch_part.data, m->u.batch_part.data_len);
        break;
    case LX__P_RELAY:
        if (!lx__node_id_ok(m->u.relay.dest) || m->u.relay.ttl == 0 ||
            m->u.relay.ttl > LX__RELAY_TTL_MAX ||
            !relay_inner_ok(m->u.relay.inner, m->u.relay.inner_len))
            return LX_EINVAL;
        if (m->u.relay.inner_len > LX__PEER_MSG_MAX)
            return LX_ETOOBIG;
        put_id(&w, m->u.relay.dest);
        put8(&w, m->u.relay.ttl);
        put32(&w, m->u.relay.inner_len);
        putb(&w, m->u.relay.inner, m->u.relay.inner_len);
        break;
    default:
        return LX_EINVAL;
    }
    if (w.full || w.off > (m->type == LX__P_RELAY ? LX__RELAY_MSG_MAX : LX__PEER_MSG_MAX))
        return LX_ETOOBIG;
    *written = w.off;
    return LX_OK;
}

lx_err lx__peer_list_put(uint8_t *buf, size_t cap, size_t *off, const uint8_t *p, size_t len)
{
    if (!buf || !off || (!p && len) || len > UINT32_MAX)
        return LX_EINVAL;
    if (*off > cap || cap - *off < 4 + len)
        return LX_ETOOBIG;
    lx__put_u32(buf + *off, (uint32_t)len);
    if (len)
        memcpy(buf + *off + 4, p, len);
    *off += 4 + len;
    return LX_OK;
}

int lx__peer_list_next(const uint8_t *list, size_t list_len, size_t *off, const uint8_t **p,
                       size_t *len)
{
    if (!list || *off + 4 > list_len)
        return 0;
    uint32_t n = lx__get_u32(list + *off);
    if (list_len - *off - 4 < n)
        return 0;
    *p = list + *off + 4;
    *len = n;
    *off += 4 + (size_t)n;
    return 1;
}
