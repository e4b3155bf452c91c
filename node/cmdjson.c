/* JSON Lines commands and events: the lx-replay format (docs/replay.md). The
 * parser is strict; the formatter writes keys in a fixed order. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lx/node.h"

#define FEE_NAME_DEFAULT "fees"
#define ECHO_MAX 32 /* bytes of a user string quoted back in an error */

/* ---------------------------------------------------------------------------
 * Account names.
 * ------------------------------------------------------------------------- */

typedef struct account_name {
    char s[LX_ACCOUNT_NAME_MAX + 1];
} account_name;

struct lx_cmdjson {
    account_name *names; /* indexed by account id */
    size_t nnames, capnames;
    uint64_t *slots; /* open addressing: 0 empty, else account id + 1 */
    size_t nslots;   /* a power of two, kept over twice nnames */
    int last_type;   /* lx_cmd_type of the last command parsed, or -1 */
    char last_market[LX_NAME_MAX];
    char last_asset[LX_SYMBOL_MAX];
};

/* True if the n bytes at s are exactly word. */
static bool is_word(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return h;
}

/* Returns the slot that holds name, or the empty slot where it would go. */
static size_t name_slot(const lx_cmdjson *cj, const char *s, size_t n)
{
    size_t mask = cj->nslots - 1;
    size_t i = (size_t)name_hash(s, n) & mask;
    while (cj->slots[i] != 0) {
        if (is_word(s, n, cj->names[cj->slots[i] - 1].s))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static lx_err slots_grow(lx_cmdjson *cj)
{
    size_t nslots = cj->nslots ? cj->nslots * 2 : 64;
    uint64_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots)
        return LX_ENOMEM;
    free(cj->slots);
    cj->slots = slots;
    cj->nslots = nslots;
    for (size_t id = 0; id < cj->nnames; id++) {
        const char *s = cj->names[id].s;
        cj->slots[name_slot(cj, s, strlen(s))] = (uint64_t)id + 1;
    }
    return LX_OK;
}

/* Finds name (n bytes, already checked) or gives it the next id. */
static lx_err name_intern(lx_cmdjson *cj, uint64_t *id, const char *s, size_t n)
{
    size_t i = name_slot(cj, s, n);
    if (cj->slots[i] != 0) {
        *id = cj->slots[i] - 1;
        return LX_OK;
    }
    if (cj->nnames == cj->capnames) {
        size_t cap = cj->capnames ? cj->capnames * 2 : 16;
        account_name *names = realloc(cj->names, cap * sizeof(*names));
        if (!names)
            return LX_ENOMEM;
        cj->names = names;
        cj->capnames = cap;
    }
    if ((cj->nnames + 1) * 2 > cj->nslots) {
        lx_err rc = slots_grow(cj);
        if (rc != LX_OK)
            return rc;
        i = name_slot(cj, s, n);
    }
    memcpy(cj->names[cj->nnames].s, s, n);
    cj->names[cj->nnames].s[n] = '\0';
    cj->slots[i] = (uint64_t)cj->nnames + 1;
    *id = cj->nnames++;
    return LX_OK;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

lx_err lx_cmdjson_new(lx_cmdjson **out)
{
    if (!out)
        return LX_EINVAL;
    *out = NULL;
    lx_cmdjson *cj = calloc(1, sizeof(*cj));
    if (!cj)
        return LX_ENOMEM;
    cj->last_type = -1;
    uint64_t id;
    if (slots_grow(cj) != LX_OK ||
        name_intern(cj, &id, FEE_NAME_DEFAULT, strlen(FEE_NAME_DEFAULT)) != LX_OK) {
        lx_cmdjson_free(&cj);
        return LX_ENOMEM;
    }
    LX_ASSERT(id == 0);
    *out = cj;
    return LX_OK;
}

void lx_cmdjson_free(lx_cmdjson **p)
{
    if (!p || !*p)
        return;
    free((*p)->names);
    free((*p)->slots);
    free(*p);
    *p = NULL;
}

lx_err lx_cmdjson_set_fee_name(lx_cmdjson *cj, const char *name)
{
    if (!cj || !name)
        return LX_EINVAL;
    size_t n = strlen(name);
    if (n == 0 || n > LX_ACCOUNT_NAME_MAX || has_control(name, n))
        return LX_EINVAL;
    if (cj->nnames != 1)
        return LX_ESTATE;
    memcpy(cj->names[0].s, name, n + 1);
    memset(cj->slots, 0, cj->nslots * sizeof(*cj->slots));
    cj->slots[name_slot(cj, name, n)] = 1;
    return LX_OK;
}

const char *lx_cmdjson_account_name(const lx_cmdjson *cj, uint64_t account)
{
    if (!cj || account >= cj->nnames)
        return NULL;
    return cj->names[account].s;
}

/* ---------------------------------------------------------------------------
 * Parsing.
 * ------------------------------------------------------------------------- */

typedef struct parser {
    json_t *obj;
    char *err;
    size_t errlen;
} parser;

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

/* Writes a reason to p->err and returns LX_EFORMAT. */
static lx_err fail(parser *p, const char *fmt, ...) PRINTF_LIKE(2, 3);

static lx_err fail(parser *p, const char *fmt, ...)
{
    if (p->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    return LX_EFORMAT;
}

/* Copies at most ECHO_MAX bytes of s into dst for quoting in a reason, with
 * '?' for any byte that is not printable ASCII and "..." when cut short, so a
 * reason is always short, readable and valid UTF-8. */
static const char *echo(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t k = 0;
    LX_ASSERT(dstlen > ECHO_MAX + 3);
    for (size_t i = 0; i < n && i < ECHO_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > ECHO_MAX) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
    return dst;
}

#define ECHO_BUF (ECHO_MAX + 4)

/* A number field: a JSON integer or a string of decimal digits, 0..2^63-1. */
static lx_err get_u64(parser *p, uint64_t *out, const char *key, bool required, uint64_t dflt)
{
    json_t *v = json_object_get(p->obj, key);
    if (!v) {
        if (required)
            return fail(p, "missing field \"%s\"", key);
        *out = dflt;
        return LX_OK;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return fail(p, "field \"%s\" is negative", key);
        *out = (uint64_t)x;
        return LX_OK;
    }
    if (json_is_real(v))
        return fail(p, "field \"%s\" is not an integer", key);
    if (!json_is_string(v))
        return fail(p, "field \"%s\" must be an integer or a decimal string", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0)
        return fail(p, "field \"%s\" is an empty string", key);
    if (s[0] == '-')
        return fail(p, "field \"%s\" is negative", key);
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return fail(p, "field \"%s\" is not a decimal integer", key);
        unsigned d = (unsigned)(s[i] - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return fail(p, "field \"%s\" exceeds 9223372036854775807", key);
        x = x * 10 + d;
    }
    if (n > 1 && s[0] == '0')
        return fail(p, "field \"%s\" has a leading zero", key);
    *out = x;
    return LX_OK;
}

/* A required name field of 1..max bytes with no control characters; out has
 * room for max + 1 bytes. */
static lx_err get_name(parser *p, char *out, const char *key, size_t max)
{
    json_t *v = json_object_get(p->obj, key);
    if (!v)
        return fail(p, "missing field \"%s\"", key);
    if (!json_is_string(v))
        return fail(p, "field \"%s\" must be a string", key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0)
        return fail(p, "field \"%s\" is empty", key);
    if (n > max)
        return fail(p, "field \"%s\" is longer than %zu bytes", key, max);
    if (has_control(s, n))
        return fail(p, "field \"%s\" contains a control character", key);
    memcpy(out, s, n);
    out[n] = '\0';
    return LX_OK;
}

typedef struct enum_def {
    const char *key;
    const char *names[3];
    size_t count;
    const char *expected; /* for the reason */
} enum_def;

static const enum_def side_def = {"side", {"buy", "sell"}, 2, "buy or sell"};
static const enum_def type_def = {"type", {"limit", "market"}, 2, "limit or market"};
static const enum_def tif_def = {"tif", {"gtc", "ioc", "fok"}, 3, "gtc, ioc or fok"};
static const enum_def stp_def = {"stp",
                                 {"expire_maker", "expire_taker", "expire_both"},
                                 3,
                                 "expire_maker, expire_taker or expire_both"};

/* An enumeration field: its index in d->names. */
static lx_err get_enum(parser *p, uint8_t *out, const enum_def *d, bool required, uint8_t dflt)
{
    json_t *v = json_object_get(p->obj, d->key);
    if (!v) {
        if (required)
            return fail(p, "missing field \"%s\"", d->key);
        *out = dflt;
        return LX_OK;
    }
    if (!json_is_string(v))
        return fail(p, "field \"%s\" must be a string", d->key);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    for (size_t i = 0; i < d->count; i++) {
        if (is_word(s, n, d->names[i])) {
            *out = (uint8_t)i;
            return LX_OK;
        }
    }
    char q[ECHO_BUF];
    return fail(p, "unknown %s \"%s\": expected %s", d->key, echo(q, sizeof(q), s, n), d->expected);
}

static lx_err get_bool(parser *p, bool *out, const char *key, bool dflt)
{
    json_t *v = json_object_get(p->obj, key);
    if (!v) {
        *out = dflt;
        return LX_OK;
    }
    if (!json_is_boolean(v))
        return fail(p, "field \"%s\" must be true or false", key);
    *out = json_is_true(v);
    return LX_OK;
}

/* Every key of the object must be one of allowed (NULL-terminated). */
static lx_err check_keys(parser *p, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(p->obj, key, v)
    {
        (void)v;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            char q[ECHO_BUF];
            return fail(p, "unknown field \"%s\"", echo(q, sizeof(q), key, strlen(key)));
        }
    }
    return LX_OK;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        lx_err rc_ = (expr);                                                                       \
        if (rc_ != LX_OK)                                                                          \
            return rc_;                                                                            \
    } while (0)

static const char *const market_keys[] = {
    "op",   "market",  "base",          "quote",         "lot",
    "tick", "min_qty", "maker_fee_bps", "taker_fee_bps", NULL};
static const char *const transfer_keys[] = {"op", "account", "asset", "amount", NULL};
static const char *const order_keys[] = {"op",  "id",        "account", "market", "side", "type",
                                         "tif", "post_only", "price",   "qty",    "stp",  NULL};
static const char *const cancel_keys[] = {"op", "id", "account", NULL};
static const char *const replace_keys[] = {"op", "id", "account", "price", "qty", NULL};

static lx_err get_fee(parser *p, uint32_t *out, const char *key)
{
    uint64_t v;
    TRY(get_u64(p, &v, key, false, 0));
    /* Anything over 10000 is the engine's bad_market; saturating keeps that. */
    *out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return LX_OK;
}

static lx_err parse_market(parser *p, lx_market_spec *m)
{
    memset(m, 0, sizeof(*m));
    TRY(check_keys(p, market_keys));
    TRY(get_name(p, m->name, "market", LX_NAME_MAX - 1));
    TRY(get_name(p, m->base, "base", LX_SYMBOL_MAX - 1));
    TRY(get_name(p, m->quote, "quote", LX_SYMBOL_MAX - 1));
    TRY(get_u64(p, &m->lot, "lot", true, 0));
    TRY(get_u64(p, &m->tick, "tick", true, 0));
    TRY(get_u64(p, &m->min_qty, "min_qty", false, 1));
    TRY(get_fee(p, &m->maker_fee_bps, "maker_fee_bps"));
    TRY(get_fee(p, &m->taker_fee_bps, "taker_fee_bps"));
    return LX_OK;
}

static lx_err parse_transfer(parser *p, lx_transfer_cmd *t, char *account)
{
    TRY(check_keys(p, transfer_keys));
    TRY(get_name(p, account, "account", LX_ACCOUNT_NAME_MAX));
    TRY(get_name(p, t->asset, "asset", LX_SYMBOL_MAX - 1));
    TRY(get_u64(p, &t->amount, "amount", true, 0));
    return LX_OK;
}

static lx_err parse_order(parser *p, lx_order_cmd *o, char *account, const lx_engine *e)
{
    char market[LX_NAME_MAX];
    uint8_t side, type, tif, stp;
    TRY(check_keys(p, order_keys));
    TRY(get_u64(p, &o->id, "id", true, 0));
    TRY(get_name(p, account, "account", LX_ACCOUNT_NAME_MAX));
    TRY(get_name(p, market, "market", LX_NAME_MAX - 1));
    TRY(get_enum(p, &side, &side_def, true, 0));
    TRY(get_enum(p, &type, &type_def, false, LX_LIMIT));
    TRY(get_enum(p, &tif, &tif_def, false, LX_GTC));
    TRY(get_bool(p, &o->post_only, "post_only", false));
    TRY(get_u64(p, &o->price, "price", true, 0));
    TRY(get_u64(p, &o->qty, "qty", true, 0));
    TRY(get_enum(p, &stp, &stp_def, false, LX_STP_EXPIRE_MAKER));
    o->side = side;
    o->type = type;
    o->tif = tif;
    o->stp = stp;
    if (!e || lx_engine_market_find(e, &o->market, market) != LX_OK)
        o->market = UINT32_MAX;
    return LX_OK;
}

static lx_err parse_cancel(parser *p, lx_cancel_cmd *c, char *account)
{
    TRY(check_keys(p, cancel_keys));
    TRY(get_u64(p, &c->id, "id", true, 0));
    TRY(get_name(p, account, "account", LX_ACCOUNT_NAME_MAX));
    return LX_OK;
}

static lx_err parse_replace(parser *p, lx_replace_cmd *r, char *account)
{
    TRY(check_keys(p, replace_keys));
    TRY(get_u64(p, &r->id, "id", true, 0));
    TRY(get_name(p, account, "account", LX_ACCOUNT_NAME_MAX));
    TRY(get_u64(p, &r->price, "price", true, 0));
    TRY(get_u64(p, &r->qty, "qty", true, 0));
    return LX_OK;
}

/* Turns a jansson decode error into a reason. */
static lx_err json_fail(parser *p, const json_error_t *je)
{
    switch (json_error_code(je)) {
    case json_error_out_of_memory:
        snprintf(p->err, p->errlen, "out of memory");
        return LX_ENOMEM;
    case json_error_numeric_overflow:
        if (strstr(je->text, "negative"))
            return fail(p, "a number is negative and out of range");
        return fail(p, "a number exceeds 9223372036854775807");
    default:
        break;
    }
    char q[sizeof(je->text)];
    size_t k = 0;
    for (size_t i = 0; je->text[i] && k + 1 < sizeof(q); i++) {
        unsigned char c = (unsigned char)je->text[i];
        q[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    q[k] = '\0';
    return fail(p, "invalid JSON: %s", q);
}

static lx_err parse_object(lx_cmdjson *cj, lx_parsed *out, parser *p, const lx_engine *e)
{
    char account[LX_ACCOUNT_NAME_MAX + 1];
    uint64_t *account_id = NULL;

    json_t *op = json_object_get(p->obj, "op");
    if (!op)
        return fail(p, "missing field \"op\"");
    if (!json_is_string(op))
        return fail(p, "field \"op\" must be a string");
    const char *s = json_string_value(op);
    size_t n = json_string_length(op);

    memset(out, 0, sizeof(*out));
    if (is_word(s, n, "market")) {
        TRY(parse_market(p, &out->market));
        out->is_market = 1;
        cj->last_type = LX_CMD_MARKET;
        memcpy(cj->last_market, out->market.name, sizeof(cj->last_market));
        return LX_OK;
    }
    if (is_word(s, n, "deposit") || is_word(s, n, "withdraw")) {
        out->cmd.type = s[0] == 'd' ? LX_CMD_DEPOSIT : LX_CMD_WITHDRAW;
        TRY(parse_transfer(p, &out->cmd.u.transfer, account));
        account_id = &out->cmd.u.transfer.account;
    } else if (is_word(s, n, "order")) {
        out->cmd.type = LX_CMD_ORDER;
        TRY(parse_order(p, &out->cmd.u.order, account, e));
        account_id = &out->cmd.u.order.account;
    } else if (is_word(s, n, "cancel")) {
        out->cmd.type = LX_CMD_CANCEL;
        TRY(parse_cancel(p, &out->cmd.u.cancel, account));
        account_id = &out->cmd.u.cancel.account;
    } else if (is_word(s, n, "replace")) {
        out->cmd.type = LX_CMD_REPLACE;
        TRY(parse_replace(p, &out->cmd.u.replace, account));
        account_id = &out->cmd.u.replace.account;
    } else {
        char q[ECHO_BUF];
        return fail(p, "unknown op \"%s\"", echo(q, sizeof(q), s, n));
    }

    /* Only a line that parsed names an account, so bad lines never shift ids. */
    if (name_intern(cj, account_id, account, strlen(account)) != LX_OK) {
        snprintf(p->err, p->errlen, "out of memory");
        return LX_ENOMEM;
    }
    cj->last_type = out->cmd.type;
    if (out->cmd.type == LX_CMD_DEPOSIT || out->cmd.type == LX_CMD_WITHDRAW)
        memcpy(cj->last_asset, out->cmd.u.transfer.asset, sizeof(cj->last_asset));
    return LX_OK;
}

lx_err lx_cmdjson_parse(lx_cmdjson *cj, lx_parsed *out, char *err, size_t errlen,
                        const lx_engine *e, const char *line, size_t len)
{
    if (!cj || !out || (!line && len > 0) || (!err && errlen > 0))
        return LX_EINVAL;
    parser p = {NULL, err, errlen};
    if (errlen > 0)
        err[0] = '\0';
    cj->last_type = -1;
    if (len > LX_CMDJSON_LINE_MAX) {
        fail(&p, "line is longer than %zu bytes", LX_CMDJSON_LINE_MAX);
        return LX_ETOOBIG;
    }
    json_error_t je;
    p.obj = json_loadb(line ? line : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!p.obj)
        return json_fail(&p, &je);
    lx_err rc;
    if (!json_is_object(p.obj))
        rc = fail(&p, "line is not a JSON object");
    else
        rc = parse_object(cj, out, &p, e);
    json_decref(p.obj);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Formatting.
 * ------------------------------------------------------------------------- */

typedef struct writer {
    char *buf;
    size_t len, pos; /* pos < len whenever !full: room is kept for the NUL */
    bool full;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->full || n >= w->len - w->pos) {
        w->full = true;
        return;
    }
    memcpy(w->buf + w->pos, s, n);
    w->pos += n;
}

static void lit(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void num(writer *w, uint64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%" PRIu64, v);
    put(w, t, (size_t)n);
}

static void str(writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    lit(w, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            put(w, esc, 2);
        } else if (c < 0x20) {
            put(w, esc, 6);
        } else {
            put(w, s, 1);
        }
    }
    lit(w, "\"");
}

static void account(writer *w, const lx_cmdjson *cj, uint64_t id)
{
    const char *name = lx_cmdjson_account_name(cj, id);
    if (name)
        str(w, name);
    else
        num(w, id);
}

static void market(writer *w, const lx_engine *e, uint32_t id)
{
    lx_market_spec spec;
    if (e && lx_engine_market_info(e, &spec, id) == LX_OK)
        str(w, spec.name);
    else
        num(w, id);
}

static void asset(writer *w, const lx_engine *e, uint32_t id)
{
    const char *sym = e ? lx_engine_asset_symbol(e, id) : NULL;
    if (sym)
        str(w, sym);
    else
        num(w, id);
}

static const char *side_str(uint8_t side)
{
    return side == LX_SELL ? "sell" : "buy";
}

static size_t finish(writer *w)
{
    lit(w, "}\n");
    if (w->full) {
        if (w->len > 0)
            w->buf[0] = '\0';
        return 0;
    }
    w->buf[w->pos] = '\0';
    return w->pos;
}

static void reason(writer *w, uint8_t r)
{
    lit(w, ",\"reason\":");
    str(w, lx_reason_str((lx_reason)r));
}

static void format_rejected(writer *w, const lx_cmdjson *cj, const lx_event *ev)
{
    bool known = cj && cj->last_type == ev->cmd;
    lit(w, "{\"ev\":\"rejected\"");
    switch (ev->cmd) {
    case LX_CMD_MARKET:
        lit(w, ",\"op\":\"market\"");
        if (known) {
            lit(w, ",\"market\":");
            str(w, cj->last_market);
        }
        break;
    case LX_CMD_DEPOSIT:
    case LX_CMD_WITHDRAW:
        lit(w, ev->cmd == LX_CMD_DEPOSIT ? ",\"op\":\"deposit\"" : ",\"op\":\"withdraw\"");
        lit(w, ",\"account\":");
        account(w, cj, ev->account);
        if (known) {
            lit(w, ",\"asset\":");
            str(w, cj->last_asset);
        }
        break;
    default:
        lit(w, ",\"id\":");
        num(w, ev->id);
        break;
    }
    reason(w, ev->reason);
}

size_t lx_cmdjson_format_event(const lx_cmdjson *cj, const lx_engine *e, char *buf, size_t len,
                               const lx_event *ev)
{
    if (!buf || len == 0 || !ev)
        return 0;
    writer w = {buf, len, 0, false};
    switch (ev->type) {
    case LX_EV_ACCEPTED:
        lit(&w, "{\"ev\":\"accepted\",\"id\":");
        num(&w, ev->id);
        break;
    case LX_EV_REJECTED:
        format_rejected(&w, cj, ev);
        break;
    case LX_EV_FILL:
        lit(&w, "{\"ev\":\"fill\",\"market\":");
        market(&w, e, ev->market);
        lit(&w, ",\"maker\":");
        num(&w, ev->u.fill.maker);
        lit(&w, ",\"taker\":");
        num(&w, ev->id);
        lit(&w, ",\"price\":");
        num(&w, ev->u.fill.price);
        lit(&w, ",\"qty\":");
        num(&w, ev->u.fill.qty);
        lit(&w, ",\"taker_side\":");
        str(&w, side_str(ev->side));
        lit(&w, ",\"maker_fee\":");
        num(&w, ev->u.fill.maker_fee);
        lit(&w, ",\"taker_fee\":");
        num(&w, ev->u.fill.taker_fee);
        break;
    case LX_EV_CANCELLED:
        lit(&w, "{\"ev\":\"cancelled\",\"id\":");
        num(&w, ev->id);
        lit(&w, ",\"remaining\":");
        num(&w, ev->u.cancel.remaining);
        reason(&w, ev->reason);
        break;
    case LX_EV_REPLACED:
        lit(&w, "{\"ev\":\"replaced\",\"id\":");
        num(&w, ev->id);
        lit(&w, ",\"price\":");
        num(&w, ev->u.order.price);
        lit(&w, ",\"qty\":");
        num(&w, ev->u.order.qty);
        break;
    case LX_EV_BALANCE:
        lit(&w, ev->cmd == LX_CMD_WITHDRAW ? "{\"ev\":\"withdraw\"" : "{\"ev\":\"deposit\"");
        lit(&w, ",\"account\":");
        account(&w, cj, ev->account);
        lit(&w, ",\"asset\":");
        asset(&w, e, ev->market);
        lit(&w, ",\"amount\":");
        num(&w, ev->u.balance.amount);
        lit(&w, ",\"available\":");
        num(&w, ev->u.balance.available);
        lit(&w, ",\"reserved\":");
        num(&w, ev->u.balance.reserved);
        break;
    case LX_EV_MARKET: {
        lx_market_spec spec;
        lit(&w, "{\"ev\":\"market\",\"market\":");
        market(&w, e, ev->market);
        lit(&w, ",\"id\":");
        num(&w, ev->market);
        if (e && lx_engine_market_info(e, &spec, ev->market) == LX_OK) {
            lit(&w, ",\"base\":");
            str(&w, spec.base);
            lit(&w, ",\"quote\":");
            str(&w, spec.quote);
        }
        break;
    }
    default:
        buf[0] = '\0';
        return 0;
    }
    return finish(&w);
}

size_t lx_cmdjson_format_balance(const lx_cmdjson *cj, const lx_engine *e, char *buf, size_t len,
                                 const lx_balance *b)
{
    if (!buf || len == 0 || !b)
        return 0;
    writer w = {buf, len, 0, false};
    lit(&w, "{\"ev\":\"balance\",\"account\":");
    account(&w, cj, b->account);
    lit(&w, ",\"asset\":");
    asset(&w, e, b->asset);
    lit(&w, ",\"available\":");
    num(&w, b->available);
    lit(&w, ",\"reserved\":");
    num(&w, b->reserved);
    return finish(&w);
}

static void levels(writer *w, const lx_level *v, size_t n)
{
    lit(w, "[");
    for (size_t i = 0; i < n; i++) {
        lit(w, i ? ",[" : "[");
        num(w, v[i].price);
        lit(w, ",");
        num(w, v[i].qty);
        lit(w, "]");
    }
    lit(w, "]");
}

size_t lx_cmdjson_format_book(const lx_engine *e, char *buf, size_t len, uint32_t market_id,
                              const lx_level *bids, size_t nbids, const lx_level *asks,
                              size_t nasks)
{
    if (!buf || len == 0 || (!bids && nbids > 0) || (!asks && nasks > 0))
        return 0;
    writer w = {buf, len, 0, false};
    lit(&w, "{\"ev\":\"book\",\"market\":");
    market(&w, e, market_id);
    lit(&w, ",\"bids\":");
    levels(&w, bids, nbids);
    lit(&w, ",\"asks\":");
    levels(&w, asks, nasks);
    return finish(&w);
}

size_t lx_cmdjson_format_error(char *buf, size_t len, uint64_t line, const char *why)
{
    if (!buf || len == 0 || !why)
        return 0;
    writer w = {buf, len, 0, false};
    lit(&w, "{\"ev\":\"error\",\"line\":");
    num(&w, line);
    lit(&w, ",\"reason\":");
    str(&w, why);
    return finish(&w);
}
