/* The ZeroMQ adapter: contexts, sockets with lxdex's default options,
 * multipart send and receive, and polling. The only file that includes zmq.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "lx/node.h"

_Static_assert(sizeof(zmq_msg_t) <= sizeof(((lx_zmsg *)0)->store[0]),
               "lx_zmsg storage must hold a zmq_msg_t");

struct lx_zctx {
    void *z;
};

struct lx_zsock {
    void *z;
    lx_zsock_type type;
};

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
    [LX_ZDEALER] = ZMQ_DEALER, [LX_ZPAIR] = ZMQ_PAIR,
};

lx_err lx_zsock_new(lx_zsock **out, lx_zctx *c, lx_zsock_type type, const lx_zsock_opts *o)
{
    if (out == NULL || c == NULL || (unsigned)type > LX_ZPAIR)
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
    if (o->router_mandatory && type == LX_ZROUTER)
        rc |= set_int(s->z, ZMQ_ROUTER_MANDATORY, 1);
    if (o->identity != NULL && o->identity[0] != '\0')
        rc |= zmq_setsockopt(s->z, ZMQ_ROUTING_ID, o->identity, strlen(o->identity));
    if (rc != 0) {
        lx_err err = map_errno(errno);
        zmq_close(s->z);
        free(s);
        return err;
    }
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
    return zmq_bind(s->z, endpoint) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_connect(lx_zsock *s, const char *endpoint)
{
    if (s == NULL || endpoint == NULL)
        return LX_EINVAL;
    return zmq_connect(s->z, endpoint) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_disconnect(lx_zsock *s, const char *endpoint)
{
    if (s == NULL || endpoint == NULL)
        return LX_EINVAL;
    if (zmq_disconnect(s->z, endpoint) == 0)
        return LX_OK;
    return errno == ENOENT ? LX_ENOTFOUND : map_errno(errno);
}

lx_err lx_zsock_subscribe(lx_zsock *s, const void *prefix, size_t len)
{
    if (s == NULL || s->type != LX_ZSUB || (prefix == NULL && len > 0))
        return LX_EINVAL;
    return zmq_setsockopt(s->z, ZMQ_SUBSCRIBE, prefix, len) == 0 ? LX_OK : map_errno(errno);
}

lx_err lx_zsock_send(lx_zsock *s, const lx_zpart *parts, size_t nparts, int flags)
{
    if (s == NULL || parts == NULL || nparts == 0 || (flags & ~LX_ZDONTWAIT) != 0)
        return LX_EINVAL;
    int zflags = (flags & LX_ZDONTWAIT) ? ZMQ_DONTWAIT : 0;
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

lx_err lx_zsock_recv(lx_zsock *s, lx_zmsg *m, int flags)
{
    if (s == NULL || m == NULL || (flags & ~LX_ZDONTWAIT) != 0)
        return LX_EINVAL;
    m->n = 0;
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
            return err;
        }
        m->part[m->n].data = zmq_msg_data(zm);
        m->part[m->n].len = zmq_msg_size(zm);
        m->n++;
        if (!zmq_msg_more(zm))
            return LX_OK;
    }
}

lx_err lx_zpoll(int *nready, lx_zpollitem *items, size_t n, long timeout_ms)
{
    if (nready == NULL || (items == NULL && n > 0) || n > 64)
        return LX_EINVAL;
    zmq_pollitem_t zi[64];
    for (size_t i = 0; i < n; i++) {
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
