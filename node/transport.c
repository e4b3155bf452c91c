/* The ZeroMQ adapter: contexts, sockets with lxdex's default options and
 * CURVE security, multipart send and receive, polling, CURVE keys and the ZAP
 * handler. The only file that includes zmq.h. */
#define _DEFAULT_SOURCE /* syscall() */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zmq.h>

#include "lx/node.h"

_Static_assert(sizeof(zmq_msg_t) <= sizeof(((lx_zmsg *)0)->store[0]),
               "lx_zmsg storage must hold a zmq_msg_t");

struct lx_zctx {
    void *z;
    /* The context's ZAP handler, if any. A CURVE server socket is refused
     * without one: libzmq would otherwise accept every CURVE client. */
    lx_zauth *auth;
};

struct lx_zsock {
    void *z;
    lx_zsock_type type;
    int fd; /* ZMQ_FD: readable when the socket's command mailbox is */
    /* May hold input that fd will not announce (lx_zwait): set by every
     * call that may read the mailbox, cleared when a read or ZMQ_EVENTS
     * finds no input. */
    bool maybe;
};

/* libzmq calls getpid() each time it checks a socket's command mailbox (to
 * notice a fork), several times per message, and glibc does not cache the
 * pid: it was a third of a node's system calls, and a system call is dear
 * on a virtual machine. This definition, in the executable, answers from a
 * cache that a fork clears in the child. */
static _Atomic pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forked(void)
{
    atomic_store(&cached_pid, 0);
}

static void pid_register(void)
{
    pthread_atfork(NULL, NULL, pid_forked);
}

pid_t getpid(void)
{
    pid_t p = atomic_load_explicit(&cached_pid, memory_order_relaxed);
    if (p)
        return p;
    pthread_once(&pid_once, pid_register);
    p = (pid_t)syscall(SYS_getpid);
    atomic_store(&cached_pid, p);
    return p;
}

static lx_err map_errno(int e)
{
    switch (e) {
    case EAGAIN:
        return LX_EAGAIN;
    case EINTR:
        return LX_EAGAIN;
    case EADDRINUSE:
        return LX_EEXIST;
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
    case EADDRNOTAVAIL:
    case ENODEV:
        return LX_EINVAL;
    case EHOSTUNREACH:
        return LX_ENOTFOUND;
    case ENOMEM:
        return LX_ENOMEM;
    case ETERM:
    case ENOTSOCK:
        return LX_ECLOSED;
    case EMSGSIZE:
        return LX_ETOOBIG;
    default:
        return LX_ETRANSPORT;
    }
}

void lx_zsock_opts_init(lx_zsock_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->sndhwm = LX_ZHWM_DEFAULT;
    o->rcvhwm = LX_ZHWM_DEFAULT;
    o->linger_ms = LX_ZLINGER_DEFAULT;
    o->tcp_keepalive = true;
}

lx_err lx_zctx_new(lx_zctx **out, int io_threads)
{
    if (out == NULL || io_threads < 1)
        return LX_EINVAL;
    *out = NULL;
    lx_zctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return LX_ENOMEM;
    c->z = zmq_ctx_new();
    if (c->z == NULL) {
        free(c);
        return LX_ENOMEM;
    }
    zmq_ctx_set(c->z, ZMQ_IO_THREADS, io_threads);
    *out = c;
    return LX_OK;
}

void lx_zctx_free(lx_zctx **c)
{
    if (c == NULL || *c == NULL)
        return;
    /* zmq_ctx_term blocks until every socket is closed and lingered. */
    while (zmq_ctx_term((*c)->z) != 0 && errno == EINTR)
        ;
    free(*c);
    *c = NULL;
}

static int set_int(void *z, int opt, int v)
{
    return zmq_setsockopt(z, opt, &v, sizeof(v));
}

static const int zmq_type[] = {
    [LX_ZPUB] = ZMQ_PUB,       [LX_ZSUB] = ZMQ_SUB,   [LX_ZROUTER] = ZMQ_ROUTER,
    [LX_ZDEALER] = ZMQ_DEALER, [LX_ZPAIR] = ZMQ_PAIR, [LX_ZXPUB] = ZMQ_XPUB,
};

/* libzmq's ZMQ_ZAP_ENFORCE_DOMAIN (a draft option): with it set, a CURVE
 * handshake fails when no ZAP handler answers, instead of being accepted. */
#define ZAP_ENFORCE_DOMAIN 93

static lx_err set_curve(void *z, lx_zctx *c, const lx_zsock_opts *o)
{
    lx_err err = lx_curve_available();
    if (err != LX_OK)
        return err;
    if (o->curve_secret == NULL)
        return LX_EINVAL;
    const char *domain = o->zap_domain != NULL ? o->zap_domain : "";
    if (strlen(domain) > LX_ZAP_DOMAIN_MAX)
        return LX_EINVAL;
    int rc = 0;
    if (o->curve == LX_ZCURVE_SERVER) {
        if (c->auth == NULL)
            return LX_ESTATE;
        rc |= set_int(z, ZMQ_CURVE_SERVER, 1);
        rc |= zmq_setsockopt(z, ZMQ_CURVE_SECRETKEY, o->curve_secret->b, LX_CURVE_KEY_LEN);
        /* The default domain is "", which libzmq will not take as a value. */
        if (domain[0] != '\0')
            rc |= zmq_setsockopt(z, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
        /* Best effort: libzmq built without draft options refuses it, and
         * then the lx_zauth that c must have is what keeps clients out. */
        (void)set_int(z, ZAP_ENFORCE_DOMAIN, 1);
    } else if (o->curve == LX_ZCURVE_CLIENT) {
        if (o->curve_server == NULL)
            return LX_EINVAL;
        lx_curve_key pub;
        if (o->curve_public != NULL)
            pub = *o->curve_public;
        else if ((err = lx_curve_public(&pub, o->curve_secret)) != LX_OK)
            return err;
        rc |= zmq_setsockopt(z, ZMQ_CURVE_SERVERKEY, o->curve_server->b, LX_CURVE_KEY_LEN);
        rc |= zmq_setsockopt(z, ZMQ_CURVE_PUBLICKEY, pub.b, LX_CURVE_KEY_LEN);
        rc |= zmq_setsockopt(z, ZMQ_CURVE_SECRETKEY, o->curve_secret->b, LX_CURVE_KEY_LEN);
    } else {
        return LX_EINVAL;
    }
    return rc == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_new(lx_zsock **out, lx_zctx *c, lx_zsock_type type, const lx_zsock_opts *o)
{
    if (out == NULL || c == NULL || (unsigned)type > LX_ZXPUB)
        return LX_EINVAL;
    *out = NULL;
    lx_zsock_opts defaults;
    if (o == NULL) {
        lx_zsock_opts_init(&defaults);
        o = &defaults;
    }
    if (o->sndhwm < 0 || o->rcvhwm < 0)
        return LX_EINVAL;
    lx_zsock *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return LX_ENOMEM;
    s->type = type;
    s->z = zmq_socket(c->z, zmq_type[type]);
    if (s->z == NULL) {
        lx_err err = map_errno(errno);
        free(s);
        return err;
    }
    int rc = 0;
    rc |= set_int(s->z, ZMQ_SNDHWM, o->sndhwm ? o->sndhwm : LX_ZHWM_DEFAULT);
    rc |= set_int(s->z, ZMQ_RCVHWM, o->rcvhwm ? o->rcvhwm : LX_ZHWM_DEFAULT);
    rc |= set_int(s->z, ZMQ_LINGER, o->linger_ms < 0 ? LX_ZLINGER_DEFAULT : o->linger_ms);
    if (o->tcp_keepalive) {
        rc |= set_int(s->z, ZMQ_TCP_KEEPALIVE, 1);
        rc |= set_int(s->z, ZMQ_TCP_KEEPALIVE_IDLE, 300);
    }
    if (o->immediate)
        rc |= set_int(s->z, ZMQ_IMMEDIATE, 1);
    if (o->reconnect_ms > 0)
        rc |= set_int(s->z, ZMQ_RECONNECT_IVL, o->reconnect_ms);
    if (o->router_mandatory && type == LX_ZROUTER)
        rc |= set_int(s->z, ZMQ_ROUTER_MANDATORY, 1);
    if (o->identity != NULL && o->identity[0] != '\0')
        rc |= zmq_setsockopt(s->z, ZMQ_ROUTING_ID, o->identity, strlen(o->identity));
    if (rc == 0 && o->curve != LX_ZCURVE_OFF) {
        lx_err err = set_curve(s->z, c, o);
        if (err != LX_OK) {
            zmq_close(s->z);
            free(s);
            return err;
        }
    }
    size_t fdlen = sizeof s->fd;
    if (rc == 0)
        rc = zmq_getsockopt(s->z, ZMQ_FD, &s->fd, &fdlen);
    if (rc != 0) {
        lx_err err = map_errno(errno);
        zmq_close(s->z);
        free(s);
        return err;
    }
    s->maybe = true;
    *out = s;
    return LX_OK;
}

void lx_zsock_free(lx_zsock **s)
{
    if (s == NULL || *s == NULL)
        return;
    zmq_close((*s)->z);
    free(*s);
    *s = NULL;
}

lx_err lx_zsock_bind(lx_zsock *s, const char *endpoint)
{
    if (s == NULL || endpoint == NULL)
        return LX_EINVAL;
    s->maybe = true; /* as every call below that may read the mailbox */
    return zmq_bind(s->z, endpoint) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_connect(lx_zsock *s, const char *endpoint)
{
    if (s == NULL || endpoint == NULL)
        return LX_EINVAL;
    s->maybe = true;
    return zmq_connect(s->z, endpoint) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_connect_curve(lx_zsock *s, const char *endpoint, const lx_curve_key *secret,
                              const lx_curve_key *server)
{
    if (s == NULL || endpoint == NULL || secret == NULL || server == NULL)
        return LX_EINVAL;
    lx_curve_key pub;
    lx_err err = lx_curve_public(&pub, secret);
    if (err != LX_OK)
        return err;
    /* libzmq copies a socket's options into each connection when it is
     * made: these keys (and the client role that setting a server key
     * implies) apply to this connection and to later ones, never to the
     * endpoints bound before. */
    s->maybe = true;
    int rc = 0;
    rc |= zmq_setsockopt(s->z, ZMQ_CURVE_SERVERKEY, server->b, LX_CURVE_KEY_LEN);
    rc |= zmq_setsockopt(s->z, ZMQ_CURVE_PUBLICKEY, pub.b, LX_CURVE_KEY_LEN);
    rc |= zmq_setsockopt(s->z, ZMQ_CURVE_SECRETKEY, secret->b, LX_CURVE_KEY_LEN);
    if (rc == 0)
        rc = zmq_connect(s->z, endpoint);
    return rc == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_disconnect(lx_zsock *s, const char *endpoint)
{
    if (s == NULL || endpoint == NULL)
        return LX_EINVAL;
    s->maybe = true;
    if (zmq_disconnect(s->z, endpoint) == 0)
        return LX_OK;
    return errno == ENOENT ? LX_ENOTFOUND : map_errno(errno);
}

lx_err lx_zsock_set_linger(lx_zsock *s, int ms)
{
    if (s == NULL || ms < 0)
        return LX_EINVAL;
    s->maybe = true;
    return set_int(s->z, ZMQ_LINGER, ms) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_subscribe(lx_zsock *s, const void *prefix, size_t len)
{
    if (s == NULL || s->type != LX_ZSUB || (prefix == NULL && len > 0))
        return LX_EINVAL;
    s->maybe = true;
    return zmq_setsockopt(s->z, ZMQ_SUBSCRIBE, prefix, len) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_send(lx_zsock *s, const lx_zpart *parts, size_t nparts, int flags)
{
    if (s == NULL || parts == NULL || nparts == 0 || (flags & ~LX_ZDONTWAIT) != 0)
        return LX_EINVAL;
    int zflags = (flags & LX_ZDONTWAIT) ? ZMQ_DONTWAIT : 0;
    /* A send may read the command mailbox, and with it the signal that
     * input arrived: the next lx_zwait must ask the socket itself. */
    s->maybe = true;
    for (size_t i = 0; i < nparts; i++) {
        int f = zflags | (i + 1 < nparts ? ZMQ_SNDMORE : 0);
        /* Once the first part is queued the rest go without blocking:
         * ZeroMQ sends a multipart message atomically. */
        if (zmq_send(s->z, parts[i].data, parts[i].len, f) < 0) {
            lx_err err = map_errno(errno);
            LX_ASSERT(i == 0 || err != LX_EAGAIN);
            return err;
        }
    }
    return LX_OK;
}

static zmq_msg_t *store_msg(lx_zmsg *m, size_t i)
{
    return (zmq_msg_t *)(void *)m->store[i];
}

void lx_zmsg_close(lx_zmsg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(store_msg(m, i));
    m->n = 0;
}

/* Copies the ZAP User-Id of m's connection into m->user_id. A ROUTER makes
 * the routing-id part itself, without the connection's metadata, so look at
 * the parts from the last. */
static void read_user_id(lx_zmsg *m)
{
    for (size_t i = m->n; i-- > 0;) {
        const char *uid = zmq_msg_gets(store_msg(m, i), "User-Id");
        if (uid != NULL) {
            size_t len = strlen(uid);
            if (len < sizeof(m->user_id)) {
                memcpy(m->user_id, uid, len + 1);
                return;
            }
        }
    }
}

lx_err lx_zmsg_user_id(uint64_t *label, const lx_zmsg *m)
{
    if (label == NULL || m == NULL)
        return LX_EINVAL;
    const char *p = m->user_id;
    if (p[0] == '\0')
        return LX_ENOTFOUND;
    uint64_t v = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return LX_ENOTFOUND;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *label = v;
    return LX_OK;
}

lx_err lx_zsock_recv(lx_zsock *s, lx_zmsg *m, int flags)
{
    if (s == NULL || m == NULL || (flags & ~(LX_ZDONTWAIT | LX_ZUSERID)) != 0)
        return LX_EINVAL;
    m->n = 0;
    m->user_id[0] = '\0';
    int zflags = (flags & LX_ZDONTWAIT) ? ZMQ_DONTWAIT : 0;
    for (;;) {
        if (m->n == LX_ZMSG_PARTS) {
            /* Too many parts: drain the rest of this message and drop it. */
            zmq_msg_t junk;
            int more = 1;
            while (more) {
                zmq_msg_init(&junk);
                if (zmq_msg_recv(&junk, s->z, 0) < 0) {
                    zmq_msg_close(&junk);
                    break;
                }
                more = zmq_msg_more(&junk);
                zmq_msg_close(&junk);
            }
            lx_zmsg_close(m);
            return LX_ETOOBIG;
        }
        zmq_msg_t *zm = store_msg(m, m->n);
        zmq_msg_init(zm);
        if (zmq_msg_recv(zm, s->z, m->n == 0 ? zflags : 0) < 0) {
            lx_err err = map_errno(errno);
            zmq_msg_close(zm);
            lx_zmsg_close(m);
            /* Drained, and the mailbox read: its fd announces the next. */
            s->maybe = err != LX_EAGAIN;
            return err;
        }
        s->maybe = true;
        m->part[m->n].data = zmq_msg_data(zm);
        m->part[m->n].len = zmq_msg_size(zm);
        m->n++;
        if (!zmq_msg_more(zm)) {
            if (flags & LX_ZUSERID)
                read_user_id(m);
            return LX_OK;
        }
    }
}

lx_err lx_zpoll(int *nready, lx_zpollitem *items, size_t n, long timeout_ms)
{
    if (nready == NULL || (items == NULL && n > 0) || n > 64)
        return LX_EINVAL;
    zmq_pollitem_t zi[64];
    for (size_t i = 0; i < n; i++) {
        if (items[i].sock != NULL)
            items[i].sock->maybe = true; /* zmq_poll reads the mailbox */
        zi[i].socket = items[i].sock ? items[i].sock->z : NULL;
        zi[i].fd = items[i].fd;
        zi[i].events = (short)(((items[i].events & LX_ZPOLLIN) ? ZMQ_POLLIN : 0) |
                               ((items[i].events & LX_ZPOLLOUT) ? ZMQ_POLLOUT : 0));
        zi[i].revents = 0;
    }
    int rc = zmq_poll(zi, (int)n, timeout_ms);
    if (rc < 0) {
        *nready = 0;
        return map_errno(errno);
    }
    for (size_t i = 0; i < n; i++)
        items[i].revents = (short)(((zi[i].revents & ZMQ_POLLIN) ? LX_ZPOLLIN : 0) |
                                   ((zi[i].revents & ZMQ_POLLOUT) ? LX_ZPOLLOUT : 0));
    *nready = rc;
    return LX_OK;
}

lx_err lx_zwait(int *nready, lx_zpollitem *items, size_t n, long timeout_ms)
{
    if (nready == NULL || (items == NULL && n > 0) || n > 64)
        return LX_EINVAL;
    *nready = 0;
    struct pollfd pf[64];
    int ready = 0;
    for (size_t i = 0; i < n; i++) {
        lx_zsock *s = items[i].sock;
        items[i].revents = 0;
        pf[i] = (struct pollfd){s ? s->fd : items[i].fd, (short)(s ? POLLIN : 0), 0};
        if (s == NULL) {
            pf[i].events = (short)(((items[i].events & LX_ZPOLLIN) ? POLLIN : 0) |
                                   ((items[i].events & LX_ZPOLLOUT) ? POLLOUT : 0));
            continue;
        }
        if (items[i].events & ~LX_ZPOLLIN)
            return LX_EINVAL;
        if (!s->maybe)
            continue;
        /* Input the fd may not announce: ask the socket (this reads its
         * mailbox, so from here the fd is exact). */
        uint32_t ev = 0;
        size_t len = sizeof ev;
        if (zmq_getsockopt(s->z, ZMQ_EVENTS, &ev, &len) != 0)
            return map_errno(errno);
        s->maybe = (ev & ZMQ_POLLIN) != 0;
        if (s->maybe) {
            items[i].revents = LX_ZPOLLIN;
            ready++;
        }
    }
    int rc = poll(pf, (nfds_t)n, ready ? 0 : (int)timeout_ms);
    if (rc < 0) {
        *nready = ready;
        return ready ? LX_OK : map_errno(errno);
    }
    for (size_t i = 0; i < n && rc > 0; i++) {
        short r = pf[i].revents;
        if (r == 0)
            continue;
        if (items[i].sock != NULL) {
            /* Commands arrived: perhaps input, which a read finds out. */
            if (items[i].revents == 0 && (r & (POLLIN | POLLERR))) {
                items[i].sock->maybe = true;
                items[i].revents = LX_ZPOLLIN;
                ready++;
            }
            continue;
        }
        items[i].revents = (short)(((r & (POLLIN | POLLHUP | POLLERR)) ? LX_ZPOLLIN : 0) |
                                   ((r & POLLOUT) ? LX_ZPOLLOUT : 0));
        items[i].revents &= items[i].events;
        if (items[i].revents)
            ready++;
    }
    *nready = ready;
    return LX_OK;
}

/* ---- CURVE keys ---- */

lx_err lx_curve_available(void)
{
    return zmq_has("curve") ? LX_OK : LX_EUNSUPPORTED;
}

lx_err lx_z85_encode(char *out, size_t out_cap, const void *data, size_t len)
{
    if (out == NULL || (data == NULL && len > 0) || len % 4 != 0 || out_cap < len / 4 * 5 + 1)
        return LX_EINVAL;
    if (len == 0) {
        out[0] = '\0';
        return LX_OK;
    }
    return zmq_z85_encode(out, data, len) != NULL ? LX_OK : LX_EINVAL;
}

/* Longest text lx_z85_decode takes: twice a key, which is all lxdex needs. */
#define Z85_TEXT_MAX 200

lx_err lx_z85_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *text, size_t len)
{
    if (out_len == NULL || (text == NULL && len > 0) || (out == NULL && len > 0))
        return LX_EINVAL;
    *out_len = 0;
    if (len % 5 != 0 || memchr(text, '\0', len) != NULL)
        return LX_EFORMAT;
    if (len > Z85_TEXT_MAX)
        return LX_ETOOBIG;
    if (out_cap < len / 5 * 4)
        return LX_EINVAL;
    if (len == 0)
        return LX_OK;
    /* zmq_z85_decode reads a NUL-terminated string. */
    char copy[Z85_TEXT_MAX + 1];
    memcpy(copy, text, len);
    copy[len] = '\0';
    uint8_t *r = zmq_z85_decode(out, copy);
    lx_wipe(copy, sizeof(copy));
    if (r == NULL)
        return LX_EFORMAT;
    *out_len = len / 5 * 4;
    return LX_OK;
}

lx_err lx_curve_key_parse(lx_curve_key *key, const void *data, size_t len)
{
    if (key == NULL || data == NULL)
        return LX_EINVAL;
    if (len == LX_CURVE_KEY_LEN) {
        memcpy(key->b, data, LX_CURVE_KEY_LEN);
        return LX_OK;
    }
    if (len != LX_CURVE_Z85_LEN)
        return LX_EFORMAT;
    size_t n = 0;
    return lx_z85_decode(key->b, sizeof(key->b), &n, data, len);
}

lx_err lx_curve_key_z85(char *out, size_t out_cap, const lx_curve_key *key)
{
    if (key == NULL)
        return LX_EINVAL;
    return lx_z85_encode(out, out_cap, key->b, LX_CURVE_KEY_LEN);
}

lx_err lx_curve_keypair(lx_curve_key *pub, lx_curve_key *sec)
{
    if (pub == NULL || sec == NULL)
        return LX_EINVAL;
    lx_err err = lx_curve_available();
    if (err != LX_OK)
        return err;
    char zpub[LX_CURVE_Z85_LEN + 1], zsec[LX_CURVE_Z85_LEN + 1];
    if (zmq_curve_keypair(zpub, zsec) != 0)
        err = errno == ENOTSUP ? LX_EUNSUPPORTED : LX_ECRYPTO;
    if (err == LX_OK)
        err = lx_curve_key_parse(pub, zpub, LX_CURVE_Z85_LEN);
    if (err == LX_OK)
        err = lx_curve_key_parse(sec, zsec, LX_CURVE_Z85_LEN);
    lx_wipe(zsec, sizeof(zsec));
    if (err != LX_OK)
        lx_wipe(sec, sizeof(*sec));
    return err == LX_EFORMAT ? LX_ECRYPTO : err;
}

lx_err lx_curve_public(lx_curve_key *pub, const lx_curve_key *sec)
{
    if (pub == NULL || sec == NULL)
        return LX_EINVAL;
    lx_err err = lx_curve_available();
    if (err != LX_OK)
        return err;
    char zpub[LX_CURVE_Z85_LEN + 1], zsec[LX_CURVE_Z85_LEN + 1];
    err = lx_curve_key_z85(zsec, sizeof(zsec), sec);
    if (err == LX_OK && zmq_curve_public(zpub, zsec) != 0)
        err = errno == ENOTSUP ? LX_EUNSUPPORTED : LX_ECRYPTO;
    lx_wipe(zsec, sizeof(zsec));
    if (err == LX_OK)
        err = lx_curve_key_parse(pub, zpub, LX_CURVE_Z85_LEN);
    return err;
}

/* ---- ZAP handler ---- */

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES_MAX 16

/* One ZAP domain's allow-list, sorted by key for binary search. */
typedef struct zap_domain {
    char name[LX_ZAP_DOMAIN_MAX + 1];
    lx_curve_allow *v;
    size_t n, cap;
} zap_domain;

struct lx_zauth {
    lx_zctx *ctx;
    void *zap;     /* REP on ZAP_ENDPOINT; the thread's only */
    void *ctl_out; /* PAIR: lx_zauth_free sends the stop message here */
    void *ctl_in;  /* PAIR: the thread's end */
    pthread_t thread;
    pthread_mutex_t mu; /* guards domains */
    zap_domain *domains;
    size_t ndomains;
    _Atomic uint64_t accepted, refused;
};

static int key_cmp(const void *a, const void *b)
{
    return memcmp(((const lx_curve_allow *)a)->key.b, ((const lx_curve_allow *)b)->key.b,
                  LX_CURVE_KEY_LEN);
}

/* Index of key in d, or where it would go; *found says which. */
static size_t domain_find(const zap_domain *d, const uint8_t *key, bool *found)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(d->v[mid].key.b, key, LX_CURVE_KEY_LEN);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* The domain named name, or NULL; with create, adds it when missing (NULL
 * then means out of memory). Caller holds a->mu. */
static zap_domain *domain_get(lx_zauth *a, const char *name, size_t name_len, bool create)
{
    for (size_t i = 0; i < a->ndomains; i++)
        if (strlen(a->domains[i].name) == name_len &&
            memcmp(a->domains[i].name, name, name_len) == 0)
            return &a->domains[i];
    if (!create || name_len > LX_ZAP_DOMAIN_MAX)
        return NULL;
    zap_domain *grown = realloc(a->domains, (a->ndomains + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    a->domains = grown;
    zap_domain *d = &a->domains[a->ndomains++];
    memset(d, 0, sizeof(*d));
    memcpy(d->name, name, name_len);
    return d;
}

/* Looks the CURVE key up in domain; on a match writes its label. */
static bool zap_lookup(lx_zauth *a, const char *domain, size_t domain_len, const uint8_t *key,
                       uint64_t *label)
{
    bool found = false;
    pthread_mutex_lock(&a->mu);
    const zap_domain *d = domain_get(a, domain, domain_len, false);
    if (d != NULL) {
        size_t i = domain_find(d, key, &found);
        if (found)
            *label = d->v[i].label;
    }
    pthread_mutex_unlock(&a->mu);
    return found;
}

static void close_frames(zmq_msg_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

static bool frame_is(zmq_msg_t *f, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

/* Answers one ZAP request (RFC 27): version, request id, domain, address,
 * routing id, mechanism, credentials. Only CURVE with an allowed key gets
 * 200; the reply's User-Id is the key's label in decimal. */
static void zap_answer(lx_zauth *a)
{
    zmq_msg_t f[ZAP_FRAMES_MAX];
    size_t n = 0;
    bool more = true, overflow = false;
    while (more) {
        zmq_msg_t *m = n < ZAP_FRAMES_MAX ? &f[n] : NULL;
        zmq_msg_t junk;
        if (m == NULL) {
            overflow = true;
            m = &junk;
        }
        zmq_msg_init(m);
        if (zmq_msg_recv(m, a->zap, 0) < 0) {
            zmq_msg_close(m);
            close_frames(f, n);
            return;
        }
        more = zmq_msg_more(m);
        if (m == &junk)
            zmq_msg_close(m);
        else
            n++;
    }
    /* A REP socket must answer every request, even a malformed one. */
    const char *status = "400", *text = "not allowed";
    char uid[24] = "";
    if (!overflow && n >= 7 && frame_is(&f[0], "1.0") && frame_is(&f[5], "CURVE") &&
        zmq_msg_size(&f[6]) == LX_CURVE_KEY_LEN) {
        uint64_t label = 0;
        if (zap_lookup(a, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), zmq_msg_data(&f[6]), &label)) {
            status = "200";
            text = "OK";
            snprintf(uid, sizeof(uid), "%" PRIu64, label);
        }
    } else if (n < 2 || !frame_is(&f[0], "1.0")) {
        status = "500";
        text = "bad request";
    }
    if (status[0] == '2')
        atomic_fetch_add(&a->accepted, 1);
    else
        atomic_fetch_add(&a->refused, 1);
    const void *rid = n >= 2 ? zmq_msg_data(&f[1]) : "";
    size_t rid_len = n >= 2 ? zmq_msg_size(&f[1]) : 0;
    zmq_send(a->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(a->zap, rid, rid_len, ZMQ_SNDMORE);
    zmq_send(a->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(a->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(a->zap, uid, strlen(uid), ZMQ_SNDMORE);
    zmq_send(a->zap, "", 0, 0);
    close_frames(f, n);
}

static void *zap_thread(void *arg)
{
    lx_zauth *a = arg;
    for (;;) {
        zmq_pollitem_t it[2] = {{a->zap, 0, ZMQ_POLLIN, 0}, {a->ctl_in, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (it[1].revents & ZMQ_POLLIN) {
            char stop;
            (void)zmq_recv(a->ctl_in, &stop, sizeof(stop), ZMQ_DONTWAIT);
            break;
        }
        if (it[0].revents & ZMQ_POLLIN)
            zap_answer(a);
    }
    return NULL;
}

static void zauth_close(lx_zauth *a)
{
    if (a->zap != NULL)
        zmq_close(a->zap);
    if (a->ctl_in != NULL)
        zmq_close(a->ctl_in);
    if (a->ctl_out != NULL)
        zmq_close(a->ctl_out);
    for (size_t i = 0; i < a->ndomains; i++) {
        lx_wipe(a->domains[i].v, a->domains[i].n * sizeof(*a->domains[i].v));
        free(a->domains[i].v);
    }
    free(a->domains);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

lx_err lx_zauth_new(lx_zauth **out, lx_zctx *c)
{
    if (out == NULL || c == NULL)
        return LX_EINVAL;
    *out = NULL;
    lx_err err = lx_curve_available();
    if (err != LX_OK)
        return err;
    if (c->auth != NULL)
        return LX_EEXIST;
    lx_zauth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return LX_ENOMEM;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return LX_ENOMEM;
    }
    a->ctx = c;
    atomic_init(&a->accepted, 0);
    atomic_init(&a->refused, 0);
    char ctl[64];
    snprintf(ctl, sizeof(ctl), "inproc://lx-zauth-ctl-%p", (void *)a);
    a->zap = zmq_socket(c->z, ZMQ_REP);
    a->ctl_in = zmq_socket(c->z, ZMQ_PAIR);
    a->ctl_out = zmq_socket(c->z, ZMQ_PAIR);
    if (a->zap == NULL || a->ctl_in == NULL || a->ctl_out == NULL)
        err = map_errno(errno);
    /* Bound here, before the thread starts, so the handler is in place when
     * this returns; the thread then owns the sockets alone. */
    if (err == LX_OK &&
        (set_int(a->zap, ZMQ_LINGER, 0) != 0 || set_int(a->ctl_in, ZMQ_LINGER, 0) != 0 ||
         set_int(a->ctl_out, ZMQ_LINGER, 0) != 0 || zmq_bind(a->zap, ZAP_ENDPOINT) != 0))
        err = map_errno(errno);
    if (err == LX_OK && (zmq_bind(a->ctl_in, ctl) != 0 || zmq_connect(a->ctl_out, ctl) != 0))
        err = map_errno(errno);
    if (err == LX_OK && pthread_create(&a->thread, NULL, zap_thread, a) != 0)
        err = LX_ENOMEM;
    if (err != LX_OK) {
        zauth_close(a);
        return err;
    }
    c->auth = a;
    *out = a;
    return LX_OK;
}

void lx_zauth_free(lx_zauth **p)
{
    if (p == NULL || *p == NULL)
        return;
    lx_zauth *a = *p;
    zmq_send(a->ctl_out, "", 0, 0);
    pthread_join(a->thread, NULL);
    if (a->ctx->auth == a)
        a->ctx->auth = NULL;
    zauth_close(a);
    *p = NULL;
}

static bool domain_ok(const char *domain)
{
    return domain != NULL && strlen(domain) <= LX_ZAP_DOMAIN_MAX;
}

lx_err lx_zauth_allow(lx_zauth *a, const char *domain, const lx_curve_key *key, uint64_t label)
{
    if (a == NULL || !domain_ok(domain) || key == NULL)
        return LX_EINVAL;
    lx_err err = LX_OK;
    pthread_mutex_lock(&a->mu);
    zap_domain *d = domain_get(a, domain, strlen(domain), true);
    bool found = false;
    size_t i = d != NULL ? domain_find(d, key->b, &found) : 0;
    if (d == NULL) {
        err = LX_ENOMEM;
    } else if (found) {
        d->v[i].label = label;
    } else if (d->n >= LX_ALLOWLIST_MAX) {
        err = LX_ETOOBIG;
    } else {
        if (d->n == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 16;
            lx_curve_allow *v = realloc(d->v, cap * sizeof(*v));
            if (v == NULL)
                err = LX_ENOMEM;
            else {
                d->v = v;
                d->cap = cap;
            }
        }
        if (err == LX_OK) {
            memmove(&d->v[i + 1], &d->v[i], (d->n - i) * sizeof(*d->v));
            d->v[i] = (lx_curve_allow){*key, label};
            d->n++;
        }
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

lx_err lx_zauth_revoke(lx_zauth *a, const char *domain, const lx_curve_key *key)
{
    if (a == NULL || !domain_ok(domain) || key == NULL)
        return LX_EINVAL;
    lx_err err = LX_ENOTFOUND;
    pthread_mutex_lock(&a->mu);
    zap_domain *d = domain_get(a, domain, strlen(domain), false);
    bool found = false;
    size_t i = d != NULL ? domain_find(d, key->b, &found) : 0;
    if (found) {
        memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(*d->v));
        d->n--;
        err = LX_OK;
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

lx_err lx_zauth_set(lx_zauth *a, const char *domain, const lx_curve_allow *list, size_t n)
{
    if (a == NULL || !domain_ok(domain) || (list == NULL && n > 0))
        return LX_EINVAL;
    if (n > LX_ALLOWLIST_MAX)
        return LX_ETOOBIG;
    lx_curve_allow *v = NULL;
    if (n > 0) {
        v = malloc(n * sizeof(*v));
        if (v == NULL)
            return LX_ENOMEM;
        memcpy(v, list, n * sizeof(*v));
        qsort(v, n, sizeof(*v), key_cmp);
        for (size_t i = 1; i < n; i++)
            if (key_cmp(&v[i - 1], &v[i]) == 0) {
                free(v);
                return LX_EINVAL;
            }
    }
    lx_err err = LX_OK;
    pthread_mutex_lock(&a->mu);
    zap_domain *d = domain_get(a, domain, strlen(domain), true);
    if (d == NULL) {
        err = LX_ENOMEM;
        free(v);
    } else {
        free(d->v);
        d->v = v;
        d->n = d->cap = n;
    }
    pthread_mutex_unlock(&a->mu);
    return err;
}

void lx_zauth_stats(const lx_zauth *a, uint64_t *accepted, uint64_t *refused)
{
    if (a == NULL)
        return;
    if (accepted != NULL)
        *accepted = atomic_load(&((lx_zauth *)a)->accepted);
    if (refused != NULL)
        *refused = atomic_load(&((lx_zauth *)a)->refused);
}
