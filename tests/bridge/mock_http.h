/* A scriptable HTTP/1.1 JSON-RPC server on 127.0.0.1 for the client tests: a
 * thread serves one connection at a time and a test's handler decides each
 * reply (a body, an HTTP status, silence, a dropped or truncated reply). */
#ifndef LX_TEST_MOCK_HTTP_H
#define LX_TEST_MOCK_HTTP_H

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum mock_action {
    MOCK_REPLY = 0,   /* status and body, then keep the connection */
    MOCK_DROP = 1,    /* close without a reply */
    MOCK_PARTIAL = 2, /* headers promising more than the body, then close */
    MOCK_SILENT = 3,  /* never answer; wait until the client gives up */
    MOCK_CHUNKED = 4  /* status and body with chunked transfer encoding */
} mock_action;

typedef struct mock_request {
    char path[256];
    const char *method; /* the JSON-RPC method, "" if the body was not JSON-RPC */
    json_t *params;     /* borrowed, may be NULL */
    json_int_t id;
    const char *body;
    size_t n; /* index of this request, from 0 */
} mock_request;

typedef struct mock_reply {
    mock_action action;
    int status; /* 200 when 0 */
    char *body; /* malloc'd, freed by the server; NULL for empty */
    unsigned delay_ms;
} mock_reply;

typedef void (*mock_handler)(void *arg, const mock_request *req, mock_reply *out);

typedef struct mock_server {
    int lfd;
    unsigned short port;
    char url[64];
    pthread_t thread;
    atomic_int stop;
    mock_handler handler;
    void *arg;
    pthread_mutex_t mu;
    size_t requests;    /* requests served so far */
    size_t connections; /* connections accepted so far */
} mock_server;

static inline void mock_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Formats a malloc'd string. */
__attribute__((format(printf, 1, 2))) static inline char *mock_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A JSON-RPC success with result_json as the result. */
static inline void mock_result(mock_reply *out, const mock_request *req, const char *result_json)
{
    out->action = MOCK_REPLY;
    out->body = mock_fmt("{\"jsonrpc\":\"2.0\",\"result\":%s,\"id\":%lld}", result_json,
                         (long long)req->id);
}

/* A JSON-RPC error. */
static inline void mock_error(mock_reply *out, const mock_request *req, int code, const char *msg)
{
    out->action = MOCK_REPLY;
    out->body =
        mock_fmt("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":\"%s\"},\"id\":%lld}",
                 code, msg, (long long)req->id);
}

static inline size_t mock_requests(mock_server *m)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->requests;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static inline size_t mock_connections(mock_server *m)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->connections;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static inline bool mock_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Waits until fd is readable; false when the server stops or, with
 * idle_conn, when a new connection is waiting (the client left this one). */
static inline bool mock_wait(mock_server *m, int fd, bool idle_conn)
{
    while (!m->stop) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = m->lfd, .events = POLLIN}};
        int r = poll(p, idle_conn ? 2 : 1, 20);
        if (r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return true;
        if (r > 0 && idle_conn && (p[1].revents & POLLIN))
            return false;
        if (r < 0 && errno != EINTR)
            return false;
    }
    return false;
}

static inline bool mock_wait_readable(mock_server *m, int fd)
{
    return mock_wait(m, fd, false);
}

/* Reads one request from fd into buf (which keeps any bytes after it).
 * Returns the header length + body length consumed, 0 on EOF or error. */
static inline size_t mock_read_request(mock_server *m, int fd, char *buf, size_t cap, size_t *have,
                                       size_t *hdr_len, size_t *body_len)
{
    for (;;) {
        char *end = NULL;
        if (*have > 0) {
            buf[*have] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }
        if (end != NULL) {
            *hdr_len = (size_t)(end - buf) + 4;
            size_t clen = 0;
            for (char *l = buf; l < end; l = strstr(l, "\r\n") + 2) {
                if (strncasecmp(l, "Content-Length:", 15) == 0)
                    clen = (size_t)strtoul(l + 15, NULL, 10);
            }
            if (*hdr_len + clen <= *have) {
                *body_len = clen;
                return *hdr_len + clen;
            }
        }
        if (*have + 1 >= cap || !mock_wait(m, fd, *have == 0))
            return 0;
        ssize_t r = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        *have += (size_t)r;
    }
}

static inline void mock_serve_connection(mock_server *m, int fd)
{
    size_t cap = (size_t)4 << 20;
    char *buf = malloc(cap);
    size_t have = 0;
    bool open = buf != NULL;
    while (open && !m->stop) {
        size_t hdr = 0, blen = 0;
        size_t used = mock_read_request(m, fd, buf, cap, &have, &hdr, &blen);
        if (used == 0)
            break;
        mock_request req;
        memset(&req, 0, sizeof req);
        sscanf(buf, "%*s %255s", req.path);
        char *body = malloc(blen + 1);
        if (body == NULL)
            break;
        memcpy(body, buf + hdr, blen);
        body[blen] = '\0';
        memmove(buf, buf + used, have - used);
        have -= used;
        json_t *j = json_loadb(body, blen, 0, NULL);
        req.method = json_string_value(json_object_get(j, "method"));
        if (req.method == NULL)
            req.method = "";
        req.params = json_object_get(j, "params");
        req.id = json_integer_value(json_object_get(j, "id"));
        req.body = body;
        pthread_mutex_lock(&m->mu);
        req.n = m->requests++;
        pthread_mutex_unlock(&m->mu);

        mock_reply rep;
        memset(&rep, 0, sizeof rep);
        m->handler(m->arg, &req, &rep);
        json_decref(j);
        free(body);
        if (rep.delay_ms)
            mock_sleep_ms(rep.delay_ms);
        int status = rep.status ? rep.status : 200;
        size_t len = rep.body ? strlen(rep.body) : 0;
        char head[256];
        switch (rep.action) {
        case MOCK_REPLY:
        case MOCK_PARTIAL:
            snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     status, len + (rep.action == MOCK_PARTIAL ? 100 : 0));
            open = mock_send_all(fd, head, strlen(head)) && mock_send_all(fd, rep.body, len);
            if (rep.action == MOCK_PARTIAL)
                open = false;
            break;
        case MOCK_CHUNKED:
            snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                     status, len);
            open = mock_send_all(fd, head, strlen(head)) && mock_send_all(fd, rep.body, len) &&
                   mock_send_all(fd, "\r\n0\r\n\r\n", 7);
            break;
        case MOCK_DROP:
            open = false;
            break;
        case MOCK_SILENT:
            /* until the client hangs up (it reads 0 bytes) or we stop */
            while (mock_wait_readable(m, fd)) {
                char tmp[512];
                if (recv(fd, tmp, sizeof tmp, 0) <= 0)
                    break;
            }
            open = false;
            break;
        }
        free(rep.body);
    }
    free(buf);
    close(fd);
}

static inline void *mock_main(void *arg)
{
    mock_server *m = arg;
    while (mock_wait_readable(m, m->lfd)) {
        int fd = accept(m->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1; /* headers and body go in separate writes */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&m->mu);
        m->connections++;
        pthread_mutex_unlock(&m->mu);
        mock_serve_connection(m, fd);
    }
    return NULL;
}

/* Starts a server on an ephemeral loopback port; 0 on success. */
static inline int mock_start(mock_server *m, mock_handler handler, void *arg)
{
    memset(m, 0, sizeof *m);
    m->handler = handler;
    m->arg = arg;
    atomic_init(&m->stop, 0);
    pthread_mutex_init(&m->mu, NULL);
    m->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (m->lfd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(m->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(m->lfd, 16) != 0 ||
        getsockname(m->lfd, (struct sockaddr *)&a, &alen) != 0) {
        close(m->lfd);
        return -1;
    }
    m->port = ntohs(a.sin_port);
    snprintf(m->url, sizeof m->url, "http://127.0.0.1:%u", (unsigned)m->port);
    if (pthread_create(&m->thread, NULL, mock_main, m) != 0) {
        close(m->lfd);
        return -1;
    }
    return 0;
}

static inline void mock_stop(mock_server *m)
{
    m->stop = 1;
    pthread_join(m->thread, NULL);
    close(m->lfd);
    pthread_mutex_destroy(&m->mu);
}

#endif /* LX_TEST_MOCK_HTTP_H */
