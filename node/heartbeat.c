/* The replication stream on PUB: heartbeat and block messages, and the ring
 * of recent (seq, state hash) pairs used to compare a replica with its
 * leader. */
#include <string.h>

#include "logio.h"
#include "node_int.h"

/* 'H', cluster tag, version, id_len, id, role, term, seq, hash, commit, beat */
#define HB_FIXED (LX__STREAM_PREFIX + 1 + 1 + 1 + 8 + 8 + LX_STATE_HASH_LEN + 8 + 8)
#define HB_VERSION 3    /* 1 had no beat, 2 no cluster tag */
#define BLOCK_VERSION 2 /* 1 had no cluster tag */

size_t lx__heartbeat_encode(uint8_t *buf, size_t cap, const lx__heartbeat *hb)
{
    if (!buf || !hb || !lx__node_id_ok(hb->node))
        return 0;
    size_t idn = strlen(hb->node);
    size_t need = HB_FIXED + idn;
    if (cap < need)
        return 0;
    uint8_t *p = buf;
    *p++ = LX__TOPIC_HEARTBEAT;
    memcpy(p, hb->cluster, LX__CLUSTER_TAG_LEN);
    p += LX__CLUSTER_TAG_LEN;
    *p++ = HB_VERSION;
    *p++ = (uint8_t)idn;
    memcpy(p, hb->node, idn);
    p += idn;
    *p++ = hb->role;
    lx__put_u64(p, hb->term);
    lx__put_u64(p + 8, hb->seq);
    memcpy(p + 16, hb->hash, LX_STATE_HASH_LEN);
    lx__put_u64(p + 16 + LX_STATE_HASH_LEN, hb->commit);
    lx__put_u64(p + 24 + LX_STATE_HASH_LEN, hb->beat);
    return need;
}

lx_err lx__heartbeat_decode(lx__heartbeat *out, const uint8_t *buf, size_t len)
{
    if (!out || !buf)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    if (len < HB_FIXED + 1 || buf[0] != LX__TOPIC_HEARTBEAT || buf[LX__STREAM_PREFIX] != HB_VERSION)
        return LX_EFORMAT;
    memcpy(out->cluster, buf + 1, LX__CLUSTER_TAG_LEN);
    const uint8_t *p = buf + LX__STREAM_PREFIX + 1;
    size_t idn = *p++;
    if (idn == 0 || idn > LX__NODE_ID_MAX || len != HB_FIXED + idn)
        return LX_EFORMAT;
    memcpy(out->node, p, idn);
    out->node[idn] = 0;
    if (!lx__node_id_ok(out->node))
        return LX_EFORMAT;
    p += idn;
    out->role = p[0];
    if (out->role > LX__ROLE_CANDIDATE)
        return LX_EFORMAT;
    out->term = lx__get_u64(p + 1);
    out->seq = lx__get_u64(p + 9);
    memcpy(out->hash, p + 17, LX_STATE_HASH_LEN);
    out->commit = lx__get_u64(p + 17 + LX_STATE_HASH_LEN);
    out->beat = lx__get_u64(p + 25 + LX_STATE_HASH_LEN);
    return LX_OK;
}

void lx__block_msg_header(uint8_t out[LX__BLOCK_MSG_HDR],
                          const uint8_t cluster[LX__CLUSTER_TAG_LEN],
                          const uint8_t hash[LX_STATE_HASH_LEN])
{
    out[0] = LX__TOPIC_BLOCK;
    memcpy(out + 1, cluster, LX__CLUSTER_TAG_LEN);
    out[LX__STREAM_PREFIX] = BLOCK_VERSION;
    memcpy(out + LX__STREAM_PREFIX + 1, hash, LX_STATE_HASH_LEN);
}

lx_err lx__block_msg_decode(const uint8_t **cluster, const uint8_t **hash, const uint8_t **block,
                            size_t *block_len, const uint8_t *buf, size_t len)
{
    if (!buf || len < LX__BLOCK_MSG_HDR + LX_BLOCK_HDR_LEN || buf[0] != LX__TOPIC_BLOCK ||
        buf[LX__STREAM_PREFIX] != BLOCK_VERSION)
        return LX_EFORMAT;
    if (len - LX__BLOCK_MSG_HDR > LX_BLOCK_BYTES_MAX)
        return LX_ETOOBIG;
    *cluster = buf + 1;
    *hash = buf + LX__STREAM_PREFIX + 1;
    *block = buf + LX__BLOCK_MSG_HDR;
    *block_len = len - LX__BLOCK_MSG_HDR;
    return LX_OK;
}

void lx__hash_ring_put(lx__hash_ring *r, uint64_t seq, const uint8_t hash[LX_STATE_HASH_LEN])
{
    if (seq == 0)
        return;
    size_t i = seq % LX__HASH_RING;
    r->seq[i] = seq;
    memcpy(r->hash[i], hash, LX_STATE_HASH_LEN);
}

const uint8_t *lx__hash_ring_get(const lx__hash_ring *r, uint64_t seq)
{
    size_t i = seq % LX__HASH_RING;
    return seq != 0 && r->seq[i] == seq ? r->hash[i] : NULL;
}

void lx__hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}
