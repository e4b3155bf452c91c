/* Relaying for the star and ring topologies (docs/topologies.md): blocks and
 * heartbeats are republished once each on this node's PUB, so that they
 * reach nodes this one has no link to, and peer messages for such nodes go
 * in RELAY messages along the way their heartbeats came. In a mesh none of
 * this runs and every message goes straight to its node. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "logio.h"
#include "node_int.h"

#define ENVELOPE_TOPIC LX__TOPIC_RELAYED
#define ENVELOPE_VERSION 2 /* 1 had no cluster tag */
/* 'R', cluster tag, version, hops, id_len, id */
#define ENVELOPE_FIXED (LX__STREAM_PREFIX + 3)
#define ENVELOPE_MAX (ENVELOPE_FIXED + LX__NODE_ID_MAX)
#define BLOCKS_SEEN 4096u /* recent (term, seq) pairs, by seq */
#define BEATS_SEEN 8u     /* recent heartbeat numbers per node */
/* A route that no heartbeat confirmed for this many heartbeat periods gives
 * way to any other. */
#define ROUTE_STALE_BEATS 3u

typedef struct beats {
    char id[LX__NODE_ID_MAX + 1];
    int direct; /* its heartbeats come straight in: it is a link */
    uint64_t beat[BEATS_SEEN];
    uint32_t next;
} beats;

typedef struct lx__topo {
    uint64_t block_term[BLOCKS_SEEN], block_seq[BLOCKS_SEEN];
    beats seen[LX__CLUSTER_MAX];
    size_t nseen;
    uint8_t *buf; /* LX__RELAY_MSG_MAX: an outgoing RELAY */
    uint64_t relayed, dropped;
    unsigned told_full, told_unroutable;
} lx__topo;

lx_err lx__topo_init(lx__node *n)
{
    if (n->cfg.topology == LX__TOPO_MESH)
        return LX_OK;
    lx__topo *t = calloc(1, sizeof *t);
    if (!t || !(t->buf = malloc(LX__RELAY_MSG_MAX))) {
        free(t);
        return LX_ENOMEM;
    }
    n->topo = t;
    return LX_OK;
}

void lx__topo_free(lx__node *n)
{
    if (!n->topo)
        return;
    free(n->topo->buf);
    free(n->topo);
    n->topo = NULL;
}

/* Relays may cross at most cluster_size - 1 links: no shortest way is
 * longer. */
static uint32_t hop_limit(const lx__node *n)
{
    size_t l = n->cfg.cluster_size > 1 ? n->cfg.cluster_size - 1 : 1;
    return (uint32_t)(l < LX__RELAY_TTL_MAX ? l : LX__RELAY_TTL_MAX);
}

/* ---- the stream ---- */

int lx__topo_unwrap(lx__node *n, const lx_zmsg *zm, const uint8_t **msg, size_t *len,
                    uint32_t *hops, int *link)
{
    if (!n->topo || zm->n != 2)
        return 0;
    const uint8_t *e = zm->part[0].data;
    size_t el = zm->part[0].len;
    if (el < ENVELOPE_FIXED + 1 || e[0] != ENVELOPE_TOPIC ||
        memcmp(e + 1, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN) != 0)
        return 0;
    e += LX__STREAM_PREFIX;
    el -= LX__STREAM_PREFIX;
    if (e[0] != ENVELOPE_VERSION || e[1] == 0 || e[1] > LX__RELAY_TTL_MAX || e[2] == 0 ||
        e[2] > LX__NODE_ID_MAX || el != 3u + e[2] || zm->part[1].len == 0)
        return 0;
    char relayer[LX__NODE_ID_MAX + 1];
    memcpy(relayer, e + 3, e[2]);
    relayer[e[2]] = 0;
    if (!lx__node_id_ok(relayer))
        return 0;
    int s = lx__slot_of_peer(n, relayer);
    *link = s >= 0 && (size_t)s < n->cfg.npeers ? s : -1;
    *hops = e[1];
    *msg = zm->part[1].data;
    *len = zm->part[1].len;
    return 1;
}

/* Republishes a stream message that has been relayed `hops` times, if one
 * more relay stays within the hop limit (a message relayed k times has
 * crossed k + 1 links). */
static void republish(lx__node *n, uint32_t hops, const uint8_t *msg, size_t len)
{
    if (hops + 2 > hop_limit(n))
        return;
    uint8_t env[ENVELOPE_MAX];
    size_t idn = strlen(n->cfg.node_id);
    env[0] = ENVELOPE_TOPIC;
    memcpy(env + 1, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    env[LX__STREAM_PREFIX] = ENVELOPE_VERSION;
    env[LX__STREAM_PREFIX + 1] = (uint8_t)(hops + 1);
    env[LX__STREAM_PREFIX + 2] = (uint8_t)idn;
    memcpy(env + ENVELOPE_FIXED, n->cfg.node_id, idn);
    lx_zpart parts[2] = {{env, ENVELOPE_FIXED + idn}, {msg, len}};
    if (lx_zsock_send(n->pub, parts, 2, LX_ZDONTWAIT) == LX_OK) {
        n->m.msgs_out++;
        n->topo->relayed++;
    }
}

int lx__topo_block(lx__node *n, const lx_block_hdr *h, uint32_t hops, const uint8_t *msg,
                   size_t len)
{
    lx__topo *t = n->topo;
    size_t k = h->seq % BLOCKS_SEEN;
    if (t->block_seq[k] == h->seq && t->block_term[k] == h->term)
        return 0;
    t->block_seq[k] = h->seq;
    t->block_term[k] = h->term;
    /* A leader's own blocks come back to it; a block of an older term is
     * refused everywhere, so neither goes further. */
    if (!n->is_leader && h->term >= n->term)
        republish(n, hops, msg, len);
    return 1;
}

static beats *beats_of(lx__topo *t, const char *id)
{
    for (size_t i = 0; i < t->nseen; i++)
        if (strcmp(t->seen[i].id, id) == 0)
            return &t->seen[i];
    if (t->nseen == LX__CLUSTER_MAX)
        return NULL;
    beats *b = &t->seen[t->nseen++];
    memset(b, 0, sizeof *b);
    snprintf(b->id, sizeof b->id, "%s", id);
    return b;
}

/* A new slot for a node without a link, or -1 when every slot is taken. */
static int new_slot(lx__node *n, const char *id)
{
    size_t s = n->cfg.npeers;
    while (s < n->nslots && n->peer_id[s][0])
        s++;
    if (s == LX__PEERS_MAX) {
        if (!n->topo->told_full++)
            lx__log(n, "cannot route to %s: already %d other nodes known (the most a cluster has)",
                    id, LX__PEERS_MAX);
        return -1;
    }
    snprintf(n->peer_id[s], sizeof n->peer_id[s], "%s", id);
    if (s == n->nslots)
        n->nslots++;
    n->granted[s] = 0;
    n->peer_durable[s] = 0;
    return (int)s;
}

/* A heartbeat of node id came in on link `link`, having crossed `dist`
 * links: the way to it, if it has no link of its own. */
static void learn_route(lx__node *n, const char *id, int link, uint32_t dist, uint64_t now)
{
    if (link < 0)
        return;
    int s = lx__slot_of_peer(n, id);
    if (s >= 0 && (size_t)s < n->cfg.npeers)
        return; /* a link: it is reached directly */
    if (s < 0) {
        if ((s = new_slot(n, id)) < 0)
            return;
        n->routes[s] = (lx__route){link, dist, now};
        lx__log(n, "node %s reached through %s (%" PRIu32 " links)", id, n->peer_id[link], dist);
        return;
    }
    lx__route *r = &n->routes[s];
    uint64_t stale = (uint64_t)ROUTE_STALE_BEATS * n->cfg.heartbeat_ms * 1000;
    if (r->via == link) {
        r->seen_us = now;
        if (dist < r->hops)
            r->hops = dist;
        return;
    }
    if (dist < r->hops || now - r->seen_us > stale) {
        lx__log(n, "node %s now reached through %s (%" PRIu32 " links)", id, n->peer_id[link],
                dist);
        *r = (lx__route){link, dist, now};
    }
}

int lx__topo_heartbeat(lx__node *n, const lx__heartbeat *hb, uint32_t hops, int link,
                       const uint8_t *msg, size_t len)
{
    lx__topo *t = n->topo;
    beats *b = beats_of(t, hb->node);
    if (!b)
        return 0;
    if (hops == 0) {
        /* Straight from its node: a link, even before HELLO says which. */
        b->direct = 1;
    } else if (!b->direct) {
        learn_route(n, hb->node, link, hops + 1, lx_now_us());
    }
    for (uint32_t i = 0; i < BEATS_SEEN; i++)
        if (b->beat[i] == hb->beat)
            return 0;
    b->beat[b->next] = hb->beat;
    b->next = (b->next + 1) % BEATS_SEEN;
    republish(n, hops, msg, len);
    return 1;
}

/* ---- peer messages ---- */

/* Sends a RELAY of msg, for dest, on link slot `link`. */
static lx_err send_relay(lx__node *n, int link, const char *dest, uint8_t ttl, const uint8_t *msg,
                         size_t len)
{
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_RELAY;
    snprintf(m.from, sizeof m.from, "%s", n->cfg.node_id);
    memcpy(m.cluster, n->cfg.cluster_tag, LX__CLUSTER_TAG_LEN);
    snprintf(m.u.relay.dest, sizeof m.u.relay.dest, "%s", dest);
    m.u.relay.ttl = ttl;
    m.u.relay.inner = msg;
    m.u.relay.inner_len = (uint32_t)len;
    size_t w;
    lx_err rc = len > LX__PEER_MSG_MAX ? LX_ETOOBIG
                                       : lx__peer_encode(n->topo->buf, LX__RELAY_MSG_MAX, &w, &m);
    if (rc != LX_OK)
        return rc;
    return lx__send_peer(n, link, n->topo->buf, w);
}

lx_err lx__topo_send(lx__node *n, int slot, const uint8_t *msg, size_t len)
{
    if (!n->topo || slot < 0 || (size_t)slot >= n->nslots || !n->peer_id[slot][0])
        return LX_EINVAL;
    return send_relay(n, n->routes[slot].via, n->peer_id[slot], (uint8_t)hop_limit(n), msg, len);
}

int lx__topo_relay_in(lx__node *n, const lx__peer_msg *m, lx__peer_msg *inner, int *slot)
{
    lx__topo *t = n->topo;
    if (!t)
        return 0; /* a mesh relays nothing */
    if (strcmp(m->u.relay.dest, n->cfg.node_id) != 0) {
        int s = lx__slot_of_peer(n, m->u.relay.dest);
        if (m->u.relay.ttl <= 1 || s < 0) {
            t->dropped++;
            if (t->told_unroutable++ % 1000 == 0)
                lx__log(n, "dropping a relay for %s: %s (%" PRIu64 " dropped)", m->u.relay.dest,
                        s < 0 ? "no way to it known" : "its hop limit is reached", t->dropped);
            return 0;
        }
        int link = (size_t)s < n->cfg.npeers ? s : n->routes[s].via;
        if (send_relay(n, link, m->u.relay.dest, (uint8_t)(m->u.relay.ttl - 1), m->u.relay.inner,
                       m->u.relay.inner_len) != LX_OK)
            t->dropped++;
        else
            t->relayed++;
        return 0;
    }
    if (lx__peer_decode(inner, m->u.relay.inner, m->u.relay.inner_len) != LX_OK ||
        inner->type == LX__P_HELLO || inner->type == LX__P_HELLO_ACK ||
        strcmp(inner->from, n->cfg.node_id) == 0) {
        lx__log(n, "dropping a malformed message relayed by %s", m->from);
        return 0;
    }
    if (!lx__cluster_ours(n, inner->cluster, inner->from, "a relayed peer message"))
        return 0;
    *slot = lx__slot_of_peer(n, inner->from);
    if (*slot < 0) {
        /* No heartbeat of the sender has come yet: answer the way its
         * message came until one does. */
        int s = lx__slot_of_peer(n, m->from);
        if (s >= 0 && (size_t)s < n->cfg.npeers)
            learn_route(n, inner->from, s, hop_limit(n), lx_now_us());
        *slot = lx__slot_of_peer(n, inner->from);
    }
    return 1;
}

void lx__topo_link_known(lx__node *n, int link)
{
    for (size_t s = n->cfg.npeers; s < n->nslots; s++) {
        if (strcmp(n->peer_id[s], n->peer_id[link]) != 0)
            continue;
        n->peer_id[s][0] = 0;
        if (n->granted[s]) {
            n->granted[s] = 0;
            n->ngranted--;
        }
        n->peer_durable[s] = 0;
        if (n->leader_slot == (int)s)
            n->leader_slot = link;
        if (n->src_slot == (int)s)
            n->src_slot = link;
        if (n->best_slot == (int)s)
            n->best_slot = link;
    }
}
