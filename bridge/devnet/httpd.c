/* The HTTP server of lx-devnet: the only file that uses libmicrohttpd. It
 * caps request bodies, injects faults when asked, and hands each POST body
 * to the JSON-RPC layer. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "devnet.h"

struct lx__dn_httpd {
    struct MHD_Daemon *daemon;
    lx__dn *d;
    lx__dn_httpd_cfg cfg;
    pthread_mutex_t rng_mu;
    uint64_t rng;
};

/* One request's body as it arrives. */
typedef struct body {
    char *buf;
    size_t len, cap;
    size_t discarded; /* bytes past the cap, thrown away */
} body;

static double roll(lx__dn_httpd *h)
{
    /* splitmix64: a seeded, reproducible sequence of fault decisions */
    pthread_mutex_lock(&h->rng_mu);
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15u);
    pthread_mutex_unlock(&h->rng_mu);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static enum MHD_Result send_text(struct MHD_Connection *mc, unsigned status, char *text,
                                 const char *type)
{
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ok;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static enum MHD_Result too_big(struct MHD_Connection *mc, size_t max)
{
    char m[160];
    snprintf(m, sizeof m,
             "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":\"request body over "
             "the %zu-byte limit\"},\"id\":null}",
             max);
    return send_text(mc, MHD_HTTP_CONTENT_TOO_LARGE, dup_str(m), "application/json");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    lx__dn_httpd *h = cls;
    body *b = *con_cls;
    (void)version;
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return MHD_NO;
        *con_cls = b;
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return send_text(mc, MHD_HTTP_METHOD_NOT_ALLOWED,
                             dup_str("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":"
                                     "\"only POST is served\"},\"id\":null}"),
                             "application/json");
        const char *cl =
            MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* Refuse a declared oversize body before reading any of it. */
        if (cl && strtoull(cl, NULL, 10) > h->cfg.max_body)
            return too_big(mc, h->cfg.max_body);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (b->discarded || b->len + n > h->cfg.max_body) {
            b->discarded += n;
            /* A chunked body that goes on and on: stop listening. */
            return b->discarded > 16 * h->cfg.max_body ? MHD_NO : MHD_YES;
        }
        if (b->len + n + 1 > b->cap) {
            size_t cap = b->cap ? b->cap : 1024;
            while (cap < b->len + n + 1)
                cap *= 2;
            char *p = realloc(b->buf, cap);
            if (!p)
                return MHD_NO;
            b->buf = p;
            b->cap = cap;
        }
        memcpy(b->buf + b->len, upload, n);
        b->len += n;
        return MHD_YES;
    }
    if (b->discarded)
        return too_big(mc, h->cfg.max_body);
    if (h->cfg.fault_latency_ms) {
        struct timespec ts = {(time_t)(h->cfg.fault_latency_ms / 1000),
                              (long)(h->cfg.fault_latency_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (h->cfg.fault_503_rate > 0 && roll(h) < h->cfg.fault_503_rate)
        return send_text(mc, MHD_HTTP_SERVICE_UNAVAILABLE, dup_str("service unavailable\n"),
                         "text/plain");
    int status = 200;
    char *out = lx__dn_rpc(h->d, &status, url, b->buf ? b->buf : "", b->len);
    if (h->cfg.fault_drop_rate > 0 && roll(h) < h->cfg.fault_drop_rate) {
        /* The request took effect; the client never hears about it. */
        free(out);
        return MHD_NO;
    }
    return send_text(mc, (unsigned)status, out, "application/json");
}

static void on_done(void *cls, struct MHD_Connection *mc, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)mc;
    (void)code;
    body *b = *con_cls;
    if (b) {
        free(b->buf);
        free(b);
        *con_cls = NULL;
    }
}

lx_err lx__dn_httpd_start(lx__dn_httpd **out, char *msg, size_t msglen, const lx__dn_httpd_cfg *cfg,
                          lx__dn *d)
{
    if (!out || !cfg || !d)
        return LX_EINVAL;
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
    if (strchr(cfg->bind, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(cfg->port);
        if (inet_pton(AF_INET6, cfg->bind, &a->sin6_addr) != 1)
            goto bad_bind;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(cfg->port);
        if (inet_pton(AF_INET, cfg->bind, &a->sin_addr) != 1)
            goto bad_bind;
    }
    lx__dn_httpd *h = calloc(1, sizeof *h);
    if (!h)
        return LX_ENOMEM;
    h->d = d;
    h->cfg = *cfg;
    h->rng = cfg->fault_seed;
    pthread_mutex_init(&h->rng_mu, NULL);
    h->daemon = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
                                 (unsigned)(cfg->threads ? cfg->threads : 1),
                                 MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_CONNECTION_TIMEOUT,
                                 60u, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(msg, msglen, "cannot listen on %s port %u (in use?)", cfg->bind,
                 (unsigned)cfg->port);
        pthread_mutex_destroy(&h->rng_mu);
        free(h);
        return LX_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        h->cfg.port = info->port;
    *out = h;
    return LX_OK;
bad_bind:
    snprintf(msg, msglen, "--bind %s is not an IP address", cfg->bind);
    return LX_EINVAL;
}

uint16_t lx__dn_httpd_port(const lx__dn_httpd *h)
{
    return h->cfg.port;
}

void lx__dn_httpd_stop(lx__dn_httpd **h)
{
    if (!h || !*h)
        return;
    MHD_stop_daemon((*h)->daemon);
    pthread_mutex_destroy(&(*h)->rng_mu);
    free(*h);
    *h = NULL;
}
