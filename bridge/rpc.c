/* The X-Chain JSON-RPC 2.0 client: the one adapter of libcurl. Requests and
 * results are JSON (jansson); every failure becomes an lx_err plus a message. */
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

#define MSG_MAX 512
#define PREFIX_PROBE_MISS "can't find service"
#define UTXO_ADDR_GROUP 1024
#define UTXO_PAGE_MAX 1024

struct lx_rpc {
    CURL *curl;
    struct curl_slist *headers;
    char *url_chain;    /* <base>/ext/bc/<chain> */
    char *url_info;     /* <base>/ext/info */
    char *url_platform; /* <base>/ext/bc/P */
    lx_rpc_options opt;
    lx_rpc_prefix prefix; /* AUTO until probed */
    uint64_t deadline_at; /* absolute, 0 for none */
    uint64_t rng;
    json_int_t next_id;

    /* the response body of the current attempt */
    char *body;
    size_t body_len, body_cap;
    bool body_over;

    /* the last call's outcome */
    char msg[MSG_MAX];
    int64_t rpc_code;
    int http_status;
    uint32_t attempts;
    char curl_err[CURL_ERROR_SIZE];
};

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

__attribute__((format(printf, 3, 4))) static lx_err fail(lx_rpc *c, lx_err e, const char *fmt, ...)
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
static uint64_t next_random(lx_rpc *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
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
    lx_rpc *c = arg;
    size_t n = size * nmemb;
    if (n > c->opt.max_response_bytes - c->body_len) {
        c->body_over = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        char *p = realloc(c->body, cap);
        if (p == NULL)
            return 0;
        c->body = p;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
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

    lx_rpc *c = calloc(1, sizeof *c);
    if (c == NULL)
        return LX_ENOMEM;
    c->opt = o;
    c->prefix = o.prefix;
    c->next_id = 1;
    c->rng = o.jitter_seed ? o.jitter_seed : (lx_rpc_now_ms() ^ (uint64_t)(uintptr_t)c) | 1u;

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
        c->url_chain = join(base, chain_path);
        c->url_info = join(base, "/ext/info");
        c->url_platform = join(base, "/ext/bc/P");
    }
    free(base);
    free(chain_path);
    c->opt.chain = NULL; /* the caller's string is not kept */
    c->curl = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* An empty Expect stops curl from waiting for "100 Continue" on big txs. */
    struct curl_slist *h2 = c->headers ? curl_slist_append(c->headers, "Expect:") : NULL;
    if (h2 != NULL)
        c->headers = h2;
    if (c->url_chain == NULL || c->url_info == NULL || c->url_platform == NULL || c->curl == NULL ||
        h2 == NULL) {
        lx_rpc_free(&c);
        return LX_ENOMEM;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
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
    lx_rpc *c = *pc;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->url_chain);
    free(c->url_info);
    free(c->url_platform);
    free(c->body);
    free(c);
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
        c->deadline_at = at_ms;
}

uint64_t lx_rpc_deadline(const lx_rpc *c)
{
    return c ? c->deadline_at : 0;
}

const char *lx_rpc_prefix_name(const lx_rpc *c)
{
    if (c == NULL)
        return NULL;
    switch (c->prefix) {
    case LX_RPC_PREFIX_XVM:
        return "xvm";
    case LX_RPC_PREFIX_AVM:
        return "avm";
    default:
        return NULL;
    }
}

const char *lx_tx_status_str(lx_tx_status s)
{
    switch (s) {
    case LX_TX_UNKNOWN:
        return "Unknown";
    case LX_TX_PROCESSING:
        return "Processing";
    case LX_TX_ACCEPTED:
        return "Accepted";
    case LX_TX_REJECTED:
        return "Rejected";
    }
    return "?";
}

/* Starts a public call: clears the last outcome. */
static void begin(lx_rpc *c)
{
    c->msg[0] = '\0';
    c->rpc_code = 0;
    c->http_status = 0;
    c->attempts = 0;
}

/* ---- one HTTP exchange and the retry loop ---- */

typedef enum attempt_kind { ATTEMPT_DONE, ATTEMPT_RETRY } attempt_kind;

/* One POST. On a 200 leaves the body in c->body and returns LX_OK; otherwise
 * returns the error and sets *kind to whether it may be retried. */
static lx_err post_once(lx_rpc *c, attempt_kind *kind, const char *url, const char *req,
                        size_t req_len, uint64_t timeout_ms)
{
    CURL *h = c->curl;
    c->body_len = 0;
    c->body_over = false;
    c->curl_err[0] = '\0';
    c->http_status = 0;
    if (c->body != NULL)
        c->body[0] = '\0';
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
        const char *why = c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_WRITE_ERROR:
            if (c->body_over)
                return fail(c, LX_ETOOBIG, "response body over %zu bytes",
                            c->opt.max_response_bytes);
            return fail(c, LX_ENOMEM, "out of memory reading the response");
        case CURLE_FILESIZE_EXCEEDED:
            return fail(c, LX_ETOOBIG, "response body over %zu bytes", c->opt.max_response_bytes);
        case CURLE_OUT_OF_MEMORY:
            return fail(c, LX_ENOMEM, "%s", why);
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            return fail(c, LX_EINVAL, "%s", why);
        case CURLE_OPERATION_TIMEDOUT:
            *kind = ATTEMPT_RETRY;
            return fail(c, LX_ETIMEDOUT, "%s", why);
        default:
            *kind = ATTEMPT_RETRY;
            return fail(c, LX_ETRANSPORT, "%s", why);
        }
    }
    if (status != 200) {
        char ex[192];
        body_excerpt(ex, sizeof ex, c->body ? c->body : "", c->body_len);
        if (status >= 500 || status == 429)
            *kind = ATTEMPT_RETRY;
        return fail(c, LX_EHTTP, "HTTP %ld: %s", status, ex);
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
    return d / 2 + next_random(c) % (d - d / 2 + 1);
}

/* POSTs req with retries. LX_OK leaves a 200 body in c->body. */
static lx_err post(lx_rpc *c, const char *url, const char *req, size_t req_len)
{
    uint64_t start = lx_rpc_now_ms();
    uint64_t deadline = start + c->opt.retry_deadline_ms;
    if (c->deadline_at != 0 && c->deadline_at < deadline)
        deadline = c->deadline_at;
    lx_err err = LX_ETIMEDOUT;
    for (uint32_t attempt = 0;; attempt++) {
        uint64_t now = lx_rpc_now_ms();
        if (now >= deadline) {
            if (attempt == 0)
                return fail(c, LX_ETIMEDOUT, "deadline passed before the request was sent");
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

static const char *endpoint_url(const lx_rpc *c, lx_rpc_endpoint ep)
{
    switch (ep) {
    case LX_RPC_CHAIN:
        return c->url_chain;
    case LX_RPC_INFO:
        return c->url_info;
    case LX_RPC_PLATFORM:
        return c->url_platform;
    }
    return NULL;
}

/* Sends one JSON-RPC request and returns its "result" in *result (a new
 * reference). params is stolen. A JSON-RPC error gives LX_ERPC with the code
 * and message kept. */
static lx_err call_full(lx_rpc *c, json_t **result, lx_rpc_endpoint ep, const char *method,
                        json_t *params)
{
    *result = NULL;
    if (params == NULL)
        return fail(c, LX_ENOMEM, "out of memory building the request");
    json_int_t id = c->next_id++;
    json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                            "params", params);
    if (req == NULL)
        return fail(c, LX_ENOMEM, "out of memory building the request");
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (text == NULL)
        return fail(c, LX_ENOMEM, "out of memory building the request");
    lx_err err = post(c, endpoint_url(c, ep), text, strlen(text));
    free(text);
    if (err != LX_OK)
        return err;

    json_error_t jerr;
    json_t *resp = json_loadb(c->body ? c->body : "", c->body_len, 0, &jerr);
    if (resp == NULL)
        return fail(c, LX_EFORMAT, "response is not JSON: %s (line %d)", jerr.text, jerr.line);
    if (!json_is_object(resp)) {
        json_decref(resp);
        return fail(c, LX_EFORMAT, "response is not a JSON object");
    }
    json_t *rid = json_object_get(resp, "id");
    if (rid != NULL && !json_is_null(rid) &&
        !(json_is_integer(rid) && json_integer_value(rid) == id)) {
        json_decref(resp);
        return fail(c, LX_EFORMAT, "response id does not match the request");
    }
    json_t *e = json_object_get(resp, "error");
    if (e != NULL && !json_is_null(e)) {
        json_t *code = json_object_get(e, "code");
        json_t *m = json_object_get(e, "message");
        if (!json_is_object(e) || !json_is_integer(code) || (m != NULL && !json_is_string(m))) {
            json_decref(resp);
            return fail(c, LX_EFORMAT, "malformed JSON-RPC error object");
        }
        c->rpc_code = (int64_t)json_integer_value(code);
        err = fail(c, LX_ERPC, "%s", m ? json_string_value(m) : "");
        json_decref(resp);
        return err;
    }
    json_t *r = json_object_get(resp, "result");
    if (r == NULL) {
        json_decref(resp);
        return fail(c, LX_EFORMAT, "response has neither result nor error");
    }
    *result = json_incref(r);
    json_decref(resp);
    return LX_OK;
}

/* Like call_full but the result must be an object. */
static lx_err call(lx_rpc *c, json_t **result, lx_rpc_endpoint ep, const char *method,
                   json_t *params)
{
    lx_err err = call_full(c, result, ep, method, params);
    if (err == LX_OK && !json_is_object(*result)) {
        json_decref(*result);
        *result = NULL;
        return fail(c, LX_EFORMAT, "%s: result is not an object", method);
    }
    return err;
}

/* ---- the method prefix ---- */

static bool service_missing(const lx_rpc *c, lx_err err)
{
    if (err == LX_ERPC)
        return c->rpc_code == -32000 && strstr(c->msg, PREFIX_PROBE_MISS) != NULL;
    return err == LX_EHTTP && c->http_status == 404;
}

/* Probes unless known. When the probe itself succeeded, *height_result (if
 * not NULL) receives the xvm.getHeight result. */
static lx_err ensure_prefix(lx_rpc *c, json_t **height_result)
{
    if (height_result != NULL)
        *height_result = NULL;
    if (c->prefix != LX_RPC_PREFIX_AUTO)
        return LX_OK;
    json_t *r = NULL;
    lx_err err = call(c, &r, LX_RPC_CHAIN, "xvm.getHeight", json_object());
    if (err == LX_OK) {
        c->prefix = LX_RPC_PREFIX_XVM;
        if (height_result != NULL)
            *height_result = r;
        else
            json_decref(r);
        return LX_OK;
    }
    if (service_missing(c, err)) {
        c->prefix = LX_RPC_PREFIX_AVM;
        c->msg[0] = '\0';
        c->rpc_code = 0;
        return LX_OK;
    }
    if (err == LX_ERPC) {
        /* The xvm service answered, just not with a height: it exists. */
        c->prefix = LX_RPC_PREFIX_XVM;
        c->msg[0] = '\0';
        c->rpc_code = 0;
        return LX_OK;
    }
    return err;
}

lx_err lx_rpc_probe(lx_rpc *c)
{
    if (c == NULL)
        return LX_EINVAL;
    begin(c);
    return ensure_prefix(c, NULL);
}

/* Calls <prefix>.<name> on the chain endpoint, probing first if needed. */
static lx_err chain_call(lx_rpc *c, json_t **result, const char *name, json_t *params)
{
    lx_err err = ensure_prefix(c, NULL);
    if (err != LX_OK) {
        json_decref(params);
        return err;
    }
    char method[64];
    snprintf(method, sizeof method, "%s.%s", lx_rpc_prefix_name(c), name);
    return call(c, result, LX_RPC_CHAIN, method, params);
}

lx_err lx_rpc_call_raw(lx_rpc *c, char **result_json, lx_rpc_endpoint endpoint, const char *method,
                       const char *params_json)
{
    if (c == NULL || result_json == NULL || method == NULL || endpoint > LX_RPC_PLATFORM)
        return LX_EINVAL;
    *result_json = NULL;
    begin(c);
    json_t *params;
    if (params_json == NULL) {
        params = json_object();
    } else {
        json_error_t jerr;
        params = json_loads(params_json, 0, &jerr);
        if (params == NULL || !json_is_object(params)) {
            json_decref(params);
            return fail(c, LX_EINVAL, "params are not a JSON object");
        }
    }
    json_t *r = NULL;
    lx_err err = call_full(c, &r, endpoint, method, params);
    if (err != LX_OK)
        return err;
    *result_json = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(r);
    return *result_json ? LX_OK : fail(c, LX_ENOMEM, "out of memory");
}

/* ---- result fields ---- */

/* A non-negative decimal integer, quoted as the API does, or a plain JSON
 * integer. Anything else, or a value over max, is LX_EFORMAT. */
static lx_err field_u64(lx_rpc *c, uint64_t *out, const json_t *obj, const char *key, uint64_t max)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
            return fail(c, LX_EFORMAT, "result.%s is out of range", key);
        *out = (uint64_t)i;
        return LX_OK;
    }
    if (!json_is_string(v))
        return fail(c, LX_EFORMAT, "result.%s is missing or not a quoted integer", key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || len > 20 || strlen(s) != len)
        return fail(c, LX_EFORMAT, "result.%s is not a decimal integer", key);
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(c, LX_EFORMAT, "result.%s is not a decimal integer", key);
        uint64_t d = (uint64_t)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return fail(c, LX_EFORMAT, "result.%s overflows", key);
        x = x * 10 + d;
    }
    if (x > max)
        return fail(c, LX_EFORMAT, "result.%s is out of range", key);
    *out = x;
    return LX_OK;
}

static lx_err field_id(lx_rpc *c, uint8_t id[LX_ID_LEN], const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return fail(c, LX_EFORMAT, "result.%s is missing or not a string", key);
    if (lx_id_from_cb58(id, json_string_value(v)) != LX_OK)
        return fail(c, LX_EFORMAT, "result.%s is not a cb58 ID", key);
    return LX_OK;
}

/* Copies a string member into out[cap]; too long is LX_EFORMAT. */
static lx_err field_str(lx_rpc *c, char *out, size_t cap, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return fail(c, LX_EFORMAT, "result.%s is missing or not a string", key);
    size_t len = json_string_length(v);
    if (len >= cap || strlen(json_string_value(v)) != len)
        return fail(c, LX_EFORMAT, "result.%s is too long", key);
    memcpy(out, json_string_value(v), len + 1);
    return LX_OK;
}

/* Decodes the API's "0x…" hex with checksum into a new blob. */
static lx_err hexcs_to_blob(lx_rpc *c, lx_rpc_blob *out, const json_t *v, const char *what)
{
    if (!json_is_string(v))
        return fail(c, LX_EFORMAT, "%s is missing or not a string", what);
    size_t slen = json_string_length(v);
    size_t cap = slen / 2 + 1;
    uint8_t *b = malloc(cap);
    if (b == NULL)
        return fail(c, LX_ENOMEM, "out of memory");
    size_t n = 0;
    lx_err err = lx_hexcs_decode(b, cap, &n, json_string_value(v));
    if (err != LX_OK) {
        free(b);
        return fail(c, LX_EFORMAT, "%s is not checksummed hex (%s)", what, lx_strerror(err));
    }
    out->bytes = b;
    out->len = n;
    return LX_OK;
}

static json_t *id_json(const uint8_t id[LX_ID_LEN])
{
    char s[LX_CB58_ID_MAX];
    if (lx_id_to_cb58(s, id) != LX_OK)
        return NULL;
    return json_string(s);
}

void lx_rpc_blob_free(lx_rpc_blob *b)
{
    if (b == NULL)
        return;
    free(b->bytes);
    b->bytes = NULL;
    b->len = 0;
}

/* ---- the chain API ---- */

static bool msg_has(const lx_rpc *c, const char *needle)
{
    return strstr(c->msg, needle) != NULL;
}

lx_err lx_rpc_issue_tx(lx_rpc *c, uint8_t tx_id[32], const uint8_t *tx, size_t tx_len)
{
    if (c == NULL || tx == NULL || tx_len == 0)
        return LX_EINVAL;
    begin(c);
    size_t cap = lx_hexcs_len(tx_len);
    char *hex = malloc(cap);
    if (hex == NULL)
        return fail(c, LX_ENOMEM, "out of memory");
    lx_err err = lx_hexcs_encode(hex, cap, tx, tx_len);
    if (err != LX_OK) {
        free(hex);
        return fail(c, err, "cannot encode the tx");
    }
    json_t *params = json_pack("{s:s, s:s}", "tx", hex, "encoding", "hex");
    free(hex);
    json_t *r = NULL;
    err = chain_call(c, &r, "issueTx", params);
    if (err == LX_ERPC) {
        if (msg_has(c, "duplicate") || msg_has(c, "already issued") ||
            msg_has(c, "already in mempool"))
            return LX_EEXIST;
        if (c->rpc_code == -32000 && !msg_has(c, PREFIX_PROBE_MISS))
            return LX_EREJECTED;
        return err;
    }
    if (err != LX_OK)
        return err;
    uint8_t id[LX_ID_LEN];
    err = field_id(c, id, r, "txID");
    json_decref(r);
    if (err == LX_OK && tx_id != NULL)
        memcpy(tx_id, id, LX_ID_LEN);
    return err;
}

lx_err lx_rpc_get_tx_status(lx_rpc *c, lx_tx_status *status, const uint8_t tx_id[32])
{
    if (c == NULL || status == NULL || tx_id == NULL)
        return LX_EINVAL;
    begin(c);
    json_t *r = NULL;
    lx_err err = chain_call(c, &r, "getTxStatus", json_pack("{s:o}", "txID", id_json(tx_id)));
    if (err != LX_OK)
        return err;
    const char *s = json_string_value(json_object_get(r, "status"));
    static const lx_tx_status all[] = {LX_TX_UNKNOWN, LX_TX_PROCESSING, LX_TX_ACCEPTED,
                                       LX_TX_REJECTED};
    err = fail(c, LX_EFORMAT, "result.status is not a known tx status");
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, lx_tx_status_str(all[i])) == 0) {
            *status = all[i];
            c->msg[0] = '\0';
            err = LX_OK;
        }
    }
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_tx(lx_rpc *c, lx_rpc_blob *tx, const uint8_t tx_id[32])
{
    if (c == NULL || tx == NULL || tx_id == NULL)
        return LX_EINVAL;
    tx->bytes = NULL;
    tx->len = 0;
    begin(c);
    json_t *r = NULL;
    lx_err err = chain_call(c, &r, "getTx",
                            json_pack("{s:o, s:s}", "txID", id_json(tx_id), "encoding", "hex"));
    if (err != LX_OK)
        return err;
    err = hexcs_to_blob(c, tx, json_object_get(r, "tx"), "result.tx");
    json_decref(r);
    return err;
}

void lx_rpc_utxos_free(lx_rpc_utxos *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i].bytes);
    free(u->v);
    u->v = NULL;
    u->n = 0;
}

typedef struct utxo_acc {
    lx_rpc_utxos *u;
    size_t cap;
} utxo_acc;

static lx_err utxo_push(lx_rpc *c, utxo_acc *a, const json_t *hex)
{
    if (a->u->n >= c->opt.max_utxos)
        return fail(c, LX_ETOOBIG, "more than %zu UTXOs", c->opt.max_utxos);
    if (a->u->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        lx_rpc_blob *v = realloc(a->u->v, cap * sizeof *v);
        if (v == NULL)
            return fail(c, LX_ENOMEM, "out of memory");
        a->u->v = v;
        a->cap = cap;
    }
    lx_err err = hexcs_to_blob(c, &a->u->v[a->u->n], hex, "result.utxos[i]");
    if (err == LX_OK)
        a->u->n++;
    return err;
}

/* One group of at most 1024 addresses, page by page. */
static lx_err utxos_group(lx_rpc *c, utxo_acc *a, const char *const *addresses, size_t n,
                          const char *source_chain)
{
    json_t *start = NULL; /* the endIndex of the previous page */
    lx_err err = LX_OK;
    for (;;) {
        json_t *addrs = json_array();
        for (size_t i = 0; addrs != NULL && i < n; i++) {
            if (json_array_append_new(addrs, json_string(addresses[i])) != 0) {
                json_decref(addrs);
                addrs = NULL;
            }
        }
        json_t *params = json_pack("{s:o, s:I, s:s}", "addresses", addrs, "limit",
                                   (json_int_t)c->opt.utxo_page_limit, "encoding", "hex");
        if (params != NULL && source_chain != NULL &&
            json_object_set_new(params, "sourceChain", json_string(source_chain)) != 0) {
            json_decref(params);
            params = NULL;
        }
        if (params != NULL && start != NULL && json_object_set(params, "startIndex", start) != 0) {
            json_decref(params);
            params = NULL;
        }
        json_t *r = NULL;
        err = chain_call(c, &r, "getUTXOs", params);
        if (err != LX_OK)
            break;
        uint64_t fetched = 0;
        json_t *list = json_object_get(r, "utxos");
        json_t *end = json_object_get(r, "endIndex");
        err = field_u64(c, &fetched, r, "numFetched", UINT32_MAX);
        if (err == LX_OK && (!json_is_array(list) || json_array_size(list) != fetched))
            err = fail(c, LX_EFORMAT, "result.utxos does not hold numFetched UTXOs");
        for (size_t i = 0; err == LX_OK && i < json_array_size(list); i++)
            err = utxo_push(c, a, json_array_get(list, i));
        bool more = err == LX_OK && fetched >= c->opt.utxo_page_limit;
        if (more && !(json_is_object(end) && json_is_string(json_object_get(end, "address")) &&
                      json_is_string(json_object_get(end, "utxo"))))
            err = fail(c, LX_EFORMAT, "result.endIndex is missing on a full page");
        if (more && err == LX_OK && start != NULL && json_equal(start, end))
            err = fail(c, LX_EFORMAT, "result.endIndex did not advance");
        if (err == LX_OK && more) {
            json_decref(start);
            start = json_incref(end);
        }
        json_decref(r);
        if (err != LX_OK || !more)
            break;
    }
    json_decref(start);
    return err;
}

static int blob_cmp(const void *pa, const void *pb)
{
    const lx_rpc_blob *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int d = memcmp(a->bytes, b->bytes, n);
    if (d != 0)
        return d;
    return (a->len > b->len) - (a->len < b->len);
}

lx_err lx_rpc_get_utxos(lx_rpc *c, lx_rpc_utxos *out, const char *const *addresses,
                        size_t n_addresses, const char *source_chain)
{
    if (c == NULL || out == NULL || addresses == NULL || n_addresses == 0)
        return LX_EINVAL;
    out->v = NULL;
    out->n = 0;
    for (size_t i = 0; i < n_addresses; i++)
        if (addresses[i] == NULL)
            return LX_EINVAL;
    begin(c);
    utxo_acc a = {.u = out, .cap = 0};
    uint32_t attempts = 0;
    lx_err err = LX_OK;
    for (size_t off = 0; err == LX_OK && off < n_addresses; off += UTXO_ADDR_GROUP) {
        size_t n = n_addresses - off < UTXO_ADDR_GROUP ? n_addresses - off : UTXO_ADDR_GROUP;
        err = utxos_group(c, &a, addresses + off, n, source_chain);
        attempts += c->attempts;
        c->attempts = 0;
    }
    c->attempts = attempts;
    if (err != LX_OK) {
        lx_rpc_utxos_free(out);
        return err;
    }
    if (n_addresses > UTXO_ADDR_GROUP && out->n > 1) {
        /* A multisig UTXO is owned by addresses of several groups. */
        qsort(out->v, out->n, sizeof out->v[0], blob_cmp);
        size_t w = 1;
        for (size_t i = 1; i < out->n; i++) {
            if (blob_cmp(&out->v[w - 1], &out->v[i]) == 0)
                free(out->v[i].bytes);
            else
                out->v[w++] = out->v[i];
        }
        out->n = w;
    }
    return LX_OK;
}

void lx_rpc_balance_free(lx_rpc_balance *b)
{
    if (b == NULL)
        return;
    free(b->utxo_ids);
    memset(b, 0, sizeof *b);
}

lx_err lx_rpc_get_balance(lx_rpc *c, lx_rpc_balance *out, const char *address,
                          const uint8_t asset_id[32])
{
    if (c == NULL || out == NULL || address == NULL || asset_id == NULL)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    begin(c);
    json_t *r = NULL;
    lx_err err =
        chain_call(c, &r, "getBalance",
                   json_pack("{s:s, s:o}", "address", address, "assetID", id_json(asset_id)));
    if (err != LX_OK)
        return err;
    err = field_u64(c, &out->balance, r, "balance", UINT64_MAX);
    json_t *ids = json_object_get(r, "utxoIDs");
    if (err == LX_OK && ids != NULL && !json_is_null(ids)) {
        if (!json_is_array(ids)) {
            err = fail(c, LX_EFORMAT, "result.utxoIDs is not an array");
        } else if (json_array_size(ids) > 0) {
            out->utxo_ids = calloc(json_array_size(ids), sizeof out->utxo_ids[0]);
            if (out->utxo_ids == NULL)
                err = fail(c, LX_ENOMEM, "out of memory");
        }
        for (size_t i = 0; err == LX_OK && i < json_array_size(ids); i++) {
            json_t *o = json_array_get(ids, i);
            uint64_t idx = 0;
            if (!json_is_object(o)) {
                err = fail(c, LX_EFORMAT, "result.utxoIDs[%zu] is not an object", i);
                break;
            }
            err = field_id(c, out->utxo_ids[i].tx_id, o, "txID");
            if (err == LX_OK)
                err = field_u64(c, &idx, o, "outputIndex", UINT32_MAX);
            if (err == LX_OK) {
                out->utxo_ids[i].output_index = (uint32_t)idx;
                out->n_utxo_ids = i + 1;
            }
        }
    }
    json_decref(r);
    if (err != LX_OK)
        lx_rpc_balance_free(out);
    return err;
}

lx_err lx_rpc_get_asset_description(lx_rpc *c, lx_rpc_asset *out, const uint8_t asset_id[32])
{
    if (c == NULL || out == NULL || asset_id == NULL)
        return LX_EINVAL;
    memset(out, 0, sizeof *out);
    begin(c);
    json_t *r = NULL;
    lx_err err =
        chain_call(c, &r, "getAssetDescription", json_pack("{s:o}", "assetID", id_json(asset_id)));
    if (err != LX_OK)
        return err;
    uint64_t denom = 0;
    err = field_id(c, out->asset_id, r, "assetID");
    if (err == LX_OK)
        err = field_str(c, out->name, sizeof out->name, r, "name");
    if (err == LX_OK)
        err = field_str(c, out->symbol, sizeof out->symbol, r, "symbol");
    if (err == LX_OK)
        err = field_u64(c, &denom, r, "denomination", 32);
    if (err == LX_OK)
        out->denomination = (uint8_t)denom;
    else
        memset(out, 0, sizeof *out);
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_height(lx_rpc *c, uint64_t *height)
{
    if (c == NULL || height == NULL)
        return LX_EINVAL;
    begin(c);
    json_t *r = NULL;
    lx_err err = ensure_prefix(c, &r); /* the probe is a getHeight itself */
    if (err == LX_OK && r == NULL)
        err = chain_call(c, &r, "getHeight", json_object());
    if (err != LX_OK)
        return err;
    err = field_u64(c, height, r, "height", UINT64_MAX);
    json_decref(r);
    return err;
}

/* ---- info and platform ---- */

lx_err lx_rpc_get_network_id(lx_rpc *c, uint32_t *network_id)
{
    if (c == NULL || network_id == NULL)
        return LX_EINVAL;
    begin(c);
    json_t *r = NULL;
    lx_err err = call(c, &r, LX_RPC_INFO, "info.getNetworkID", json_object());
    if (err != LX_OK)
        return err;
    uint64_t v = 0;
    err = field_u64(c, &v, r, "networkID", UINT32_MAX);
    if (err == LX_OK)
        *network_id = (uint32_t)v;
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_blockchain_id(lx_rpc *c, uint8_t blockchain_id[32], const char *alias)
{
    if (c == NULL || blockchain_id == NULL || alias == NULL)
        return LX_EINVAL;
    begin(c);
    json_t *r = NULL;
    lx_err err =
        call(c, &r, LX_RPC_INFO, "info.getBlockchainID", json_pack("{s:s}", "alias", alias));
    if (err != LX_OK)
        return err;
    err = field_id(c, blockchain_id, r, "blockchainID");
    json_decref(r);
    return err;
}

lx_err lx_rpc_get_tx_fee(lx_rpc *c, lx_rpc_tx_fee *out)
{
    if (c == NULL || out == NULL)
        return LX_EINVAL;
    begin(c);
    json_t *r = NULL;
    lx_err err = call(c, &r, LX_RPC_INFO, "info.getTxFee", json_object());
    if (err != LX_OK)
        return err;
    lx_rpc_tx_fee f;
    err = field_u64(c, &f.tx_fee, r, "txFee", UINT64_MAX);
    if (err == LX_OK)
        err = field_u64(c, &f.create_asset_tx_fee, r, "createAssetTxFee", UINT64_MAX);
    if (err == LX_OK)
        *out = f;
    json_decref(r);
    return err;
}

void lx_rpc_validators_free(lx_rpc_validators *vs)
{
    if (vs == NULL)
        return;
    free(vs->v);
    vs->v = NULL;
    vs->n = 0;
}

static lx_err parse_validator(lx_rpc *c, lx_rpc_validator *v, const json_t *o)
{
    if (!json_is_object(o))
        return fail(c, LX_EFORMAT, "result.validators[i] is not an object");
    lx_err err = field_str(c, v->node_id, sizeof v->node_id, o, "nodeID");
    if (err == LX_OK)
        err = field_u64(c, &v->weight, o, json_object_get(o, "weight") ? "weight" : "stakeAmount",
                        UINT64_MAX);
    if (err == LX_OK)
        err = field_u64(c, &v->start_time, o, "startTime", UINT64_MAX);
    if (err == LX_OK)
        err = field_u64(c, &v->end_time, o, "endTime", UINT64_MAX);
    const json_t *conn = json_object_get(o, "connected");
    if (err == LX_OK && conn != NULL && !json_is_boolean(conn))
        err = fail(c, LX_EFORMAT, "result.validators[i].connected is not a boolean");
    v->connected = json_is_true(conn);
    return err;
}

lx_err lx_rpc_get_current_validators(lx_rpc *c, lx_rpc_validators *out, const char *subnet_id)
{
    if (c == NULL || out == NULL)
        return LX_EINVAL;
    out->v = NULL;
    out->n = 0;
    begin(c);
    json_t *params = subnet_id ? json_pack("{s:s}", "subnetID", subnet_id) : json_object();
    json_t *r = NULL;
    lx_err err = call(c, &r, LX_RPC_PLATFORM, "platform.getCurrentValidators", params);
    if (err != LX_OK)
        return err;
    json_t *list = json_object_get(r, "validators");
    if (!json_is_array(list)) {
        json_decref(r);
        return fail(c, LX_EFORMAT, "result.validators is not an array");
    }
    size_t n = json_array_size(list);
    if (n > 0) {
        out->v = calloc(n, sizeof out->v[0]);
        if (out->v == NULL)
            err = fail(c, LX_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == LX_OK && i < n; i++) {
        err = parse_validator(c, &out->v[i], json_array_get(list, i));
        if (err == LX_OK)
            out->n = i + 1;
    }
    json_decref(r);
    if (err != LX_OK)
        lx_rpc_validators_free(out);
    return err;
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
