/* The daemon's CURVE security (docs/security.md): checks the key options,
 * loads the node's key and the two allow-lists, runs the ZAP handler, gives
 * every socket its CURVE role, and binds a client connection to the account
 * its key is registered for. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_int.h"

/* The ZAP domains: a key on one list is a stranger on the other's sockets. */
#define ZAP_CLIENTS "lx-clients"
#define ZAP_PEERS "lx-peers"

struct lx__auth {
    lx_zauth *zauth;
    lx_curve_key secret; /* this node's; wiped by lx__auth_seal */
    lx_curve_key pub;
    lx_curve_key peer[LX__PEERS_MAX]; /* the server key of each --peers entry */
    int sealed;
};

/* ---- pure checks ---- */

/* One decimal part of a dotted quad, 0..255, no sign or leading junk. */
static int octet(const char **p)
{
    const char *s = *p;
    unsigned v = 0, n = 0;
    while (*s >= '0' && *s <= '9' && n < 4) {
        v = v * 10 + (unsigned)(*s - '0');
        s++;
        n++;
    }
    if (n == 0 || n > 3 || v > 255)
        return -1;
    *p = s;
    return (int)v;
}

int lx__host_is_loopback(const char *host)
{
    if (host == NULL)
        return 0;
    if (strcmp(host, "localhost") == 0)
        return 1;
    /* 127.0.0.0/8, written as a dotted quad. */
    const char *p = host;
    for (int i = 0; i < 4; i++) {
        int v = octet(&p);
        if (v < 0 || (i == 0 && v != 127))
            return 0;
        if (i < 3 && *p++ != '.')
            return 0;
    }
    return *p == '\0';
}

static lx_err fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static lx_err fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LX_EINVAL;
}

lx_err lx__auth_check_config(const lx__config *cfg, char *err, size_t errlen)
{
    if (cfg == NULL)
        return LX_EINVAL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    const lx__curve_cfg *c = &cfg->curve;
    if (!c->key_file[0]) {
        if (c->peer_keys[0] || c->client_keys[0] || c->nnumbers)
            return fail(err, errlen,
                        "--peer-keys, --client-keys and --peer-numbers need --curve-key");
        if (!lx__host_is_loopback(cfg->bind) && !c->insecure)
            return fail(err, errlen,
                        "--bind %s is not a loopback address and no CURVE keys are given: "
                        "pass --curve-key, --peer-keys and --client-keys (docs/security.md), "
                        "or --insecure to serve plain ZeroMQ there",
                        cfg->bind);
        return LX_OK;
    }
    if (c->insecure)
        return fail(err, errlen, "--insecure and --curve-key exclude each other");
    if (!c->peer_keys[0])
        return fail(err, errlen, "--curve-key needs --peer-keys (the cluster's node keys)");
    if (!c->client_keys[0])
        return fail(err, errlen, "--curve-key needs --client-keys (the clients' keys)");
    if (c->nnumbers != cfg->npeers)
        return fail(err, errlen,
                    "--peer-numbers lists %zu node number(s) for %zu --peers entr%s: give the "
                    "number of each peer, in the order of --peers",
                    c->nnumbers, cfg->npeers, cfg->npeers == 1 ? "y" : "ies");
    for (size_t i = 0; i < c->nnumbers; i++)
        for (size_t j = i + 1; j < c->nnumbers; j++)
            if (c->numbers[i] == c->numbers[j])
                return fail(err, errlen, "--peer-numbers: node %" PRIu64 " is listed twice",
                            c->numbers[i]);
    return LX_OK;
}

/* Entry i of a NEW_ORDER_BATCH or CANCEL_BATCH: its order id and account. */
static lx_err batch_entry(const lx_proto_msg *m, size_t i, uint64_t *id, uint64_t *account)
{
    lx_order_cmd o = {0};
    lx_cancel_cmd c = {0};
    lx_err rc;
    if (m->hdr.type == LX_PROTO_NEW_ORDER_BATCH) {
        rc = lx_proto_batch_get(m, &o, i);
        *id = o.id;
        *account = o.account;
    } else {
        rc = lx_proto_cancel_batch_get(m, &c, i);
        *id = c.id;
        *account = c.account;
    }
    return rc;
}

int lx__auth_owns(const lx_proto_msg *m, uint64_t account)
{
    switch (m->hdr.type) {
    case LX_PROTO_NEW_ORDER:
        return m->u.order.account == account;
    case LX_PROTO_NEW_ORDER_BATCH:
    case LX_PROTO_CANCEL_BATCH:
        for (size_t i = 0; i < m->u.batch.count; i++) {
            uint64_t id, acc;
            if (batch_entry(m, i, &id, &acc) != LX_OK || acc != account)
                return 0;
        }
        return 1;
    case LX_PROTO_CANCEL:
        return m->u.cancel.account == account;
    case LX_PROTO_REPLACE:
        return m->u.replace.account == account;
    case LX_PROTO_DEPOSIT:
    case LX_PROTO_WITHDRAW:
        return m->u.transfer.account == account;
    default:
        return 1; /* queries and PING act for no account */
    }
}

lx_err lx__auth_not_owner(uint8_t *buf, size_t cap, size_t *written, const lx_proto_msg *m)
{
    if (buf == NULL || written == NULL || m == NULL)
        return LX_EINVAL;
    if (m->hdr.type == LX_PROTO_NEW_ORDER_BATCH || m->hdr.type == LX_PROTO_CANCEL_BATCH) {
        lx_proto_batch_item items[LX_PROTO_BATCH_MAX];
        size_t n = m->u.batch.count;
        if (n == 0 || n > LX_PROTO_BATCH_MAX)
            return LX_EINVAL;
        for (size_t i = 0; i < n; i++) {
            uint64_t id, account;
            if (batch_entry(m, i, &id, &account) != LX_OK)
                return LX_EINVAL;
            items[i] = (lx_proto_batch_item){id, 0, LX_R_NOT_OWNER};
        }
        return lx_proto_encode_batch_result(buf, cap, written, m->hdr.req_id, 0, items, n);
    }
    lx_proto_msg r;
    memset(&r, 0, sizeof r);
    r.hdr.type = LX_PROTO_REJECT;
    r.hdr.req_id = m->hdr.req_id;
    r.u.reject.reason = LX_R_NOT_OWNER;
    switch (m->hdr.type) {
    case LX_PROTO_NEW_ORDER:
        r.u.reject.id = m->u.order.id;
        break;
    case LX_PROTO_CANCEL:
        r.u.reject.id = m->u.cancel.id;
        break;
    case LX_PROTO_REPLACE:
        r.u.reject.id = m->u.replace.id;
        break;
    case LX_PROTO_DEPOSIT:
    case LX_PROTO_WITHDRAW:
        break; /* order id 0 */
    default:
        return LX_EINVAL;
    }
    return lx_proto_encode(buf, cap, written, &r);
}

/* ---- the node's keys and sockets ---- */

static const char *file_why(lx_err rc)
{
    switch (rc) {
    case LX_EPERM:
        return "readable by group or others (chmod 600 it), or not readable";
    case LX_ENOTFOUND:
        return "no such file";
    case LX_EFORMAT:
        return "not a key file (one line of 40 Z85 characters; lx-keys generate writes one)";
    default:
        return lx_strerror(rc);
    }
}

/* Reads an allow-list file; logs why it cannot. */
static lx_err read_list(lx__node *n, lx_curve_allow **out, size_t *count, const char *flag,
                        const char *path)
{
    char why[256];
    lx_err rc = lx_allowlist_read(out, count, why, sizeof why, path);
    if (rc != LX_OK)
        lx__log(n, "%s %s: %s", flag, path, why[0] ? why : lx_strerror(rc));
    return rc;
}

lx_err lx__auth_open(lx__node *n)
{
    const lx__curve_cfg *c = &n->cfg.curve;
    n->auth = NULL;
    if (!c->key_file[0]) {
        if (c->insecure || !lx__host_is_loopback(n->cfg.bind))
            lx__log(n,
                    "WARNING: running insecure: no CURVE keys, so every port on %s takes "
                    "plain, unauthenticated ZeroMQ from anyone who can reach it",
                    n->cfg.bind);
        return LX_OK;
    }
    lx_err rc = lx_curve_available();
    if (rc != LX_OK) {
        lx__log(n, "--curve-key: this libzmq has no CURVE support");
        return rc;
    }
    lx__auth *a = calloc(1, sizeof *a);
    if (a == NULL)
        return LX_ENOMEM;
    lx_curve_allow *peers = NULL, *clients = NULL;
    size_t npeers = 0, nclients = 0;
    if ((rc = lx_curve_keyfile_read(&a->secret, c->key_file)) != LX_OK) {
        lx__log(n, "--curve-key %s: %s", c->key_file, file_why(rc));
        goto out;
    }
    if ((rc = lx_curve_public(&a->pub, &a->secret)) != LX_OK ||
        (rc = read_list(n, &peers, &npeers, "--peer-keys", c->peer_keys)) != LX_OK ||
        (rc = read_list(n, &clients, &nclients, "--client-keys", c->client_keys)) != LX_OK)
        goto out;
    /* Each peer's server key, by its node number. */
    int own_listed = 0;
    for (size_t k = 0; k < npeers; k++)
        if (memcmp(peers[k].key.b, a->pub.b, LX_CURVE_KEY_LEN) == 0)
            own_listed = 1;
    for (size_t i = 0; i < n->cfg.npeers; i++) {
        size_t found = 0;
        for (size_t k = 0; k < npeers; k++)
            if (peers[k].label == c->numbers[i]) {
                a->peer[i] = peers[k].key;
                found++;
            }
        if (found != 1) {
            lx__log(n, "--peer-keys %s %s node %" PRIu64 " (--peers entry tcp://%s:%u)",
                    c->peer_keys, found ? "lists more than one key for" : "has no key for",
                    c->numbers[i], n->cfg.peers[i].host, n->cfg.peers[i].port);
            rc = LX_EINVAL;
            goto out;
        }
    }
    if ((rc = lx_zauth_new(&a->zauth, n->ctx)) != LX_OK ||
        (rc = lx_zauth_set(a->zauth, ZAP_PEERS, peers, npeers)) != LX_OK ||
        (rc = lx_zauth_set(a->zauth, ZAP_CLIENTS, clients, nclients)) != LX_OK) {
        lx__log(n, "cannot start the CURVE authentication handler: %s", lx_strerror(rc));
        goto out;
    }
    char z[LX_CURVE_Z85_LEN + 1];
    lx_curve_key_z85(z, sizeof z, &a->pub);
    lx__log(n, "CURVE on: public key %s, %zu node key(s), %zu client key(s)", z, npeers, nclients);
    if (!own_listed)
        lx__log(n,
                "WARNING: this node's public key %s is not on --peer-keys %s: its peers will "
                "refuse it",
                z, c->peer_keys);
out:
    free(peers);
    free(clients);
    if (rc != LX_OK) {
        lx__auth_free(&a);
        return rc;
    }
    n->auth = a;
    return LX_OK;
}

void lx__auth_free(lx__auth **p)
{
    if (p == NULL || *p == NULL)
        return;
    lx_zauth_free(&(*p)->zauth);
    lx_wipe(*p, sizeof **p);
    free(*p);
    *p = NULL;
}

void lx__auth_server_opts(const lx__auth *a, lx_zsock_opts *o, int peers)
{
    if (a == NULL)
        return;
    LX_ASSERT(!a->sealed);
    o->curve = LX_ZCURVE_SERVER;
    o->curve_secret = &a->secret;
    o->zap_domain = peers ? ZAP_PEERS : ZAP_CLIENTS;
}

void lx__auth_peer_opts(const lx__auth *a, lx_zsock_opts *o, size_t slot)
{
    if (a == NULL)
        return;
    LX_ASSERT(!a->sealed && slot < LX__PEERS_MAX);
    o->curve = LX_ZCURVE_CLIENT;
    o->curve_secret = &a->secret;
    o->curve_public = &a->pub;
    o->curve_server = &a->peer[slot];
}

lx_err lx__auth_connect_peer(const lx__auth *a, lx_zsock *s, const char *ep, size_t slot)
{
    if (a == NULL)
        return lx_zsock_connect(s, ep);
    LX_ASSERT(!a->sealed && slot < LX__PEERS_MAX);
    return lx_zsock_connect_curve(s, ep, &a->secret, &a->peer[slot]);
}

void lx__auth_seal(lx__auth *a)
{
    if (a == NULL)
        return;
    /* The sockets hold their own copies now. */
    lx_wipe(&a->secret, sizeof a->secret);
    a->sealed = 1;
}

uint64_t lx__auth_refused(const lx__auth *a)
{
    uint64_t refused = 0;
    if (a != NULL)
        lx_zauth_stats(a->zauth, NULL, &refused);
    return refused;
}

int lx__auth_admit(lx__node *n, const lx__origin *o, const lx_zmsg *zm, const lx_proto_msg *m)
{
    if (n->auth == NULL)
        return 1;
    uint64_t account;
    if (lx_zmsg_user_id(&account, zm) != LX_OK) {
        /* Cannot happen on a CURVE ROUTER: ZAP labels every connection. */
        lx__reply_error(n, o, m->hdr.req_id, LX_PROTO_E_UNAUTHORIZED, "connection has no account");
        return 0;
    }
    if (lx__auth_owns(m, account))
        return 1;
    uint8_t buf[LX_PROTO_HDR_LEN + 2 + 17 * LX_PROTO_BATCH_MAX];
    size_t w;
    if (lx__auth_not_owner(buf, sizeof buf, &w, m) == LX_OK)
        lx__reply_frames(n, o, buf, &w, 1, 1);
    else
        lx__reply_error(n, o, m->hdr.req_id, LX_PROTO_E_UNAUTHORIZED, "not your account");
    return 0;
}
