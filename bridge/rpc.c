/* The X-Chain JSON-RPC 2.0 transport: the one adapter of libcurl. It owns the
 * HTTP handle, the request/response exchange, timeouts, retries and caps. */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <jansson.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lx/bridge.h"
#include "rpc_int.h"

#define UTXO_PAGE_MAX 1024

/* A client handle: the shared part first, so an lx_rpc * is a rpc_http *. */
typedef struct rpc_http {
    lx_rpc rpc;
    CURL *curl;
    struct curl_slist *headers;
    char *url_chain;      /* <base>/ext/bc/<chain> */
    char *url_info;       /* <base>/ext/info */
    char *url_platform;   /* <base>/ext/bc/P */
    uint64_t deadline_at; /* absolute, 0 for none */
    uint64_t rng;
    json_int_t next_id;

    /* the response body of the current attempt */
    char *body;
    size_t body_len, body_cap;
    bool body_over;
    char curl_err[CURL_ERROR_SIZE];
} rpc_http;

static rpc_http *http_of(lx_rpc *c)
{
    return (rpc_http *)(void *)c;
}

static const rpc_http *http_of_const(const lx_rpc *c)
{
    return (const rpc_http *)(const void *)c;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ---- */

uint64_t lx_rpc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

lx_err lx__rpc_fail(lx_rpc *c, lx_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return e;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* xorshift64*: only spreads retry times apart, so any decent mixer will do. */
static uint64_t next_random(rpc_http *http)
{
    uint64_t x = http->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    http->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Copies printable bytes of an HTTP body into the message so an operator can
 * see what a proxy or a broken server said. */
static void body_excerpt(char *out, size_t cap, const char *body, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap && n < 160; i++) {
        unsigned char ch = (unsigned char)body[i];
        out[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    out[n] = '\0';
}

/* ---- options and lifecycle ---- */

void lx_rpc_options_init(lx_rpc_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 2000;
    o->timeout_ms = 10000;
    o->retry_deadline_ms = 30000;
    o->max_retries = 8;
    o->backoff_initial_ms = 50;
    o->backoff_max_ms = 2000;
    o->max_response_bytes = (size_t)8 << 20;
    o->max_utxos = (size_t)1 << 20;
    o->utxo_page_limit = UTXO_PAGE_MAX;
    o->jitter_seed = 0;
    o->prefix = LX_RPC_PREFIX_AUTO;
    o->chain = "X";
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    rpc_http *http = arg;
    size_t n = size * nmemb;
    if (n > http->rpc.opt.max_response_bytes - http->body_len) {
        http->body_over = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (http->body_len + n + 1 > http->body_cap) {
        size_t cap = http->body_cap ? http->body_cap : 4096;
        while (cap < http->body_len + n + 1)
            cap *= 2;
        char *p = realloc(http->body, cap);
        if (p == NULL)
            return 0;
        http->body = p;
        http->body_cap = cap;
    }
    memcpy(http->body + http->body_len, data, n);
    http->body_len += n;
    http->body[http->body_len] = '\0';
    return n;
}

static bool valid_chain_alias(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

lx_err lx_rpc_new(lx_rpc **out, const char *base_url, const lx_rpc_options *opts)
{
    if (out == NULL || base_url == NULL)
        return LX_EINVAL;
    *out = NULL;
    lx_rpc_options o;
    if (opts != NULL)
        o = *opts;
    else
        lx_rpc_options_init(&o);
    if (o.chain == NULL)
        o.chain = "X";
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return LX_EINVAL;
    if (!valid_chain_alias(o.chain) || o.timeout_ms == 0 || o.connect_timeout_ms == 0 ||
        o.max_response_bytes == 0 || o.utxo_page_limit == 0 || o.utxo_page_limit > UTXO_PAGE_MAX ||
        o.prefix > LX_RPC_PREFIX_AVM)
        return LX_EINVAL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return LX_ETRANSPORT;

    rpc_http *http = calloc(1, sizeof *http);
    if (http == NULL)
        return LX_ENOMEM;
    lx_rpc *c = &http->rpc;
    c->opt = o;
    c->prefix = o.prefix;
    http->next_id = 1;
    http->rng = o.jitter_seed ? o.jitter_seed : (lx_rpc_now_ms() ^ (uint64_t)(uintptr_t)c) | 1u;

    /* base without trailing slashes, so paths join cleanly */
    size_t blen = strlen(base_url);
    while (blen > 8 && base_url[blen - 1] == '/')
        blen--;
    char *base = malloc(blen + 1);
    char *chain_path = join("/ext/bc/", o.chain);
    if (base != NULL) {
        memcpy(base, base_url, blen);
        base[blen] = '\0';
    }
    if (base != NULL && chain_path != NULL) {
        http->url_chain = join(base, chain_path);
        http->url_info = join(base, "/ext/info");
        http->url_platform = join(base, "/ext/bc/P");
    }
    free(base);
    free(chain_path);
    c->opt.chain = NULL; /* the caller's string is not kept */
    http->curl = curl_easy_init();
    http->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* An empty Expect stops curl from waiting for "100 Continue" on big txs. */
    struct curl_slist *h2 = http->headers ? curl_slist_append(http->headers, "Expect:") : NULL;
    if (h2 != NULL)
        http->headers = h2;
    if (http->url_chain == NULL || http->url_info == NULL || http->url_platform == NULL ||
        http->curl == NULL || h2 == NULL) {
        lx_rpc_free(&c);
        return LX_ENOMEM;
    }
    CURL *h = http->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, http->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, http);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, http->curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o.max_response_bytes);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    *out = c;
    return LX_OK;
}

void lx_rpc_free(lx_rpc **pc)
{
    if (pc == NULL || *pc == NULL)
        return;
    rpc_http *http = http_of(*pc);
    if (http->curl != NULL)
        curl_easy_cleanup(http->curl);
    curl_slist_free_all(http->headers);
    free(http->url_chain);
    free(http->url_info);
    free(http->url_platform);
    free(http->body);
    free(http);
    *pc = NULL;
}

const char *lx_rpc_last_error(const lx_rpc *c, int64_t *rpc_code, int *http_status)
{
    if (rpc_code != NULL)
        *rpc_code = c ? c->rpc_code : 0;
    if (http_status != NULL)
        *http_status = c ? c->http_status : 0;
    return c ? c->msg : "";
}

uint32_t lx_rpc_last_attempts(const lx_rpc *c)
{
    return c ? c->attempts : 0;
}

void lx_rpc_set_deadline(lx_rpc *c, uint64_t at_ms)
{
    if (c != NULL)
        http_of(c)->deadline_at = at_ms;
}

uint64_t lx_rpc_deadline(const lx_rpc *c)
{
    return c ? http_of_const(c)->deadline_at : 0;
}

void lx__rpc_begin(lx_rpc *c)
{
    c->msg[0] = '\0';
    c->rpc_code = 0;
    c->http_status = 0;
    c->attempts = 0;
}

/* ---- one HTTP exchange and the retry loop ---- */

typedef enum attempt_kind { ATTEMPT_DONE, ATTEMPT_RETRY } attempt_kind;

/* One POST. On a 200 leaves the body in the handle's body and returns LX_OK; otherwise
 * returns the error and sets *kind to whether it may be retried. */
static lx_err post_once(lx_rpc *c, attempt_kind *kind, const char *url, const char *req,
                        size_t req_len, uint64_t timeout_ms)
{
    rpc_http *http = http_of(c);
    CURL *h = http->curl;
    http->body_len = 0;
    http->body_over = false;
    http->curl_err[0] = '\0';
    c->http_status = 0;
    if (http->body != NULL)
        http->body[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req_len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    c->attempts++;
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    c->http_status = (int)status;
    *kind = ATTEMPT_DONE;
    if (rc != CURLE_OK) {
        const char *why = http->curl_err[0] ? http->curl_err : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_WRITE_ERROR:
            if (http->body_over)
                return lx__rpc_fail(c, LX_ETOOBIG, "response body over %zu bytes",
                                    c->opt.max_response_bytes);
            return lx__rpc_fail(c, LX_ENOMEM, "out of memory reading the response");
        case CURLE_FILESIZE_EXCEEDED:
            return lx__rpc_fail(c, LX_ETOOBIG, "response body over %zu bytes",
                                c->opt.max_response_bytes);
        case CURLE_OUT_OF_MEMORY:
            return lx__rpc_fail(c, LX_ENOMEM, "%s", why);
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return lx__rpc_fail(c, LX_EINVAL, "%s", why);
        case CURLE_OPERATION_TIMEDOUT:
            *kind = ATTEMPT_RETRY;
            return lx__rpc_fail(c, LX_ETIMEDOUT, "%s", why);
        default:
            *kind = ATTEMPT_RETRY;
            return lx__rpc_fail(c, LX_ETRANSPORT, "%s", why);
        }
    }
    if (status != 200) {
        char ex[192];
        body_excerpt(ex, sizeof ex, http->body ? http->body : "", http->body_len);
        if (status >= 500 || status == 429)
            *kind = ATTEMPT_RETRY;
        return lx__rpc_fail(c, LX_EHTTP, "HTTP %ld: %s", status, ex);
    }
    return LX_OK;
}

/* The delay before retry number n (1-based): exponential, capped, with the
 * upper half jittered so that clients that failed together spread out. */
static uint64_t backoff_ms(lx_rpc *c, uint32_t n)
{
    uint64_t d = c->opt.backoff_initial_ms;
    for (uint32_t i = 1; i < n && d < c->opt.backoff_max_ms; i++)
        d *= 2;
    if (d > c->opt.backoff_max_ms)
        d = c->opt.backoff_max_ms;
    if (d < 2)
        return d;
    return d / 2 + next_random(http_of(c)) % (d - d / 2 + 1);
}

/* POSTs req with retries. LX_OK leaves a 200 body in the handle's body. */
static lx_err post(lx_rpc *c, const char *url, const char *req, size_t req_len)
{
    uint64_t start = lx_rpc_now_ms();
    uint64_t deadline = start + c->opt.retry_deadline_ms;
    const rpc_http *http = http_of(c);
    if (http->deadline_at != 0 && http->deadline_at < deadline)
        deadline = http->deadline_at;
    lx_err err = LX_ETIMEDOUT;
    for (uint32_t attempt = 0;; attempt++) {
        uint64_t now = lx_rpc_now_ms();
        if (now >= deadline) {
            if (attempt == 0)
                return lx__rpc_fail(c, LX_ETIMEDOUT, "deadline passed before the request was sent");
            return err; /* the message of the last attempt stays */
        }
        uint64_t t = deadline - now;
        if (t > c->opt.timeout_ms)
            t = c->opt.timeout_ms;
        attempt_kind kind;
        err = post_once(c, &kind, url, req, req_len, t);
        if (err == LX_OK || kind == ATTEMPT_DONE || attempt >= c->opt.max_retries)
            return err;
        uint64_t wait = backoff_ms(c, attempt + 1);
        now = lx_rpc_now_ms();
        if (now + wait >= deadline)
            return err;
        sleep_ms(wait);
    }
}

static const char *endpoint_url(const rpc_http *http, lx_rpc_endpoint ep)
{
    switch (ep) {
    case LX_RPC_CHAIN:
        return http->url_chain;
    case LX_RPC_INFO:
        return http->url_info;
    case LX_RPC_PLATFORM:
        return http->url_platform;
    }
    return NULL;
}

/* ---- JSON-RPC requests ---- */

/* Sends one JSON-RPC request and returns its "result" in *result (a new
 * reference). params is stolen. A JSON-RPC error gives LX_ERPC with the code
 * and message kept. */
static lx_err call_full(lx_rpc *c, json_t **result, lx_rpc_endpoint ep, const char *method,
                        json_t *params)
{
    *result = NULL;
    if (params == NULL)
        return lx__rpc_fail(c, LX_ENOMEM, "out of memory building the request");
    rpc_http *http = http_of(c);
    json_int_t id = http->next_id++;
    json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                            "params", params);
    if (req == NULL)
        return lx__rpc_fail(c, LX_ENOMEM, "out of memory building the request");
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (text == NULL)
        return lx__rpc_fail(c, LX_ENOMEM, "out of memory building the request");
    lx_err err = post(c, endpoint_url(http, ep), text, strlen(text));
    free(text);
    if (err != LX_OK)
        return err;

    json_error_t jerr;
    json_t *resp = json_loadb(http->body ? http->body : "", http->body_len, 0, &jerr);
    if (resp == NULL)
        return lx__rpc_fail(c, LX_EFORMAT, "response is not JSON: %s (line %d)", jerr.text,
                            jerr.line);
    if (!json_is_object(resp)) {
        json_decref(resp);
        return lx__rpc_fail(c, LX_EFORMAT, "response is not a JSON object");
    }
    json_t *rid = json_object_get(resp, "id");
    if (rid != NULL && !json_is_null(rid) &&
        !(json_is_integer(rid) && json_integer_value(rid) == id)) {
        json_decref(resp);
        return lx__rpc_fail(c, LX_EFORMAT, "response id does not match the request");
    }
    json_t *e = json_object_get(resp, "error");
    if (e != NULL && !json_is_null(e)) {
        json_t *code = json_object_get(e, "code");
        json_t *m = json_object_get(e, "message");
        if (!json_is_object(e) || !json_is_integer(code) || (m != NULL && !json_is_string(m))) {
            json_decref(resp);
            return lx__rpc_fail(c, LX_EFORMAT, "malformed JSON-RPC error object");
        }
        c->rpc_code = (int64_t)json_integer_value(code);
        err = lx__rpc_fail(c, LX_ERPC, "%s", m ? json_string_value(m) : "");
        json_decref(resp);
        return err;
    }
    json_t *r = json_object_get(resp, "result");
    if (r == NULL) {
        json_decref(resp);
        return lx__rpc_fail(c, LX_EFORMAT, "response has neither result nor error");
    }
    *result = json_incref(r);
    json_decref(resp);
    return LX_OK;
}

lx_err lx__rpc_call(lx_rpc *c, json_t **result, lx_rpc_endpoint ep, const char *method,
                    json_t *params)
{
    lx_err err = call_full(c, result, ep, method, params);
    if (err == LX_OK && !json_is_object(*result)) {
        json_decref(*result);
        *result = NULL;
        return lx__rpc_fail(c, LX_EFORMAT, "%s: result is not an object", method);
    }
    return err;
}

lx_err lx_rpc_call_raw(lx_rpc *c, char **result_json, lx_rpc_endpoint endpoint, const char *method,
                       const char *params_json)
{
    if (c == NULL || result_json == NULL || method == NULL || endpoint > LX_RPC_PLATFORM)
        return LX_EINVAL;
    *result_json = NULL;
    lx__rpc_begin(c);
    json_t *params;
    if (params_json == NULL) {
        params = json_object();
    } else {
        json_error_t jerr;
        params = json_loads(params_json, 0, &jerr);
        if (params == NULL || !json_is_object(params)) {
            json_decref(params);
            return lx__rpc_fail(c, LX_EINVAL, "params are not a JSON object");
        }
    }
    json_t *r = NULL;
    lx_err err = call_full(c, &r, endpoint, method, params);
    if (err != LX_OK)
        return err;
    *result_json = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(r);
    return *result_json ? LX_OK : lx__rpc_fail(c, LX_ENOMEM, "out of memory");
}

/* ---- the benchmark baseline ---- */

static size_t discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

lx_err lx_rpc_bench_bare_posts(uint64_t *elapsed_ns, const char *url, const char *body,
                               uint32_t count)
{
    if (elapsed_ns == NULL || url == NULL || body == NULL)
        return LX_EINVAL;
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return LX_ETRANSPORT;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (h == NULL || hdr == NULL) {
        curl_slist_free_all(hdr);
        if (h != NULL)
            curl_easy_cleanup(h);
        return LX_ENOMEM;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
    lx_err err = LX_OK;
    uint64_t t0 = 0;
    for (uint32_t i = 0; i <= count && err == LX_OK; i++) {
        if (i == 1)
            t0 = now_ns(); /* post 0 warms the connection up */
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OPERATION_TIMEDOUT)
            err = LX_ETIMEDOUT;
        else if (rc != CURLE_OK)
            err = LX_ETRANSPORT;
        else if (status != 200)
            err = LX_EHTTP;
    }
    *elapsed_ns = count ? now_ns() - t0 : 0;
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return err;
}
