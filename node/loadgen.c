/* The pure parts of the load generator (test-client): latency histogram,
 * open-loop schedule, order generator, malformed frames and summary JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

/* ---- histogram ---- */

#define SUB_BITS 7u
#define SUB LX_HIST_SUB
_Static_assert(SUB == (1u << SUB_BITS), "LX_HIST_SUB must be 2^SUB_BITS");
/* Values below SUB get one bucket each; each shift 0 .. 63 - SUB_BITS gets
 * SUB more. */
#define NBUCKETS (SUB * (64u - SUB_BITS + 1u))

struct lx_hist {
    uint64_t n;
    uint64_t min, max;
    uint64_t counts[NBUCKETS];
};

static unsigned log2_u64(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

static size_t bucket_of(uint64_t v)
{
    if (v < SUB)
        return (size_t)v;
    unsigned shift = log2_u64(v) - SUB_BITS;
    return (size_t)SUB * (shift + 1u) + (size_t)((v >> shift) - SUB);
}

/* The highest value that lands in bucket i. */
static uint64_t bucket_high(size_t i)
{
    if (i < SUB)
        return (uint64_t)i;
    unsigned shift = (unsigned)(i / SUB) - 1u;
    uint64_t m = (uint64_t)(i % SUB) + SUB;
    return (m << shift) + ((UINT64_C(1) << shift) - 1u);
}

lx_err lx_hist_new(lx_hist **out)
{
    if (out == NULL)
        return LX_EINVAL;
    *out = calloc(1, sizeof(lx_hist));
    return *out == NULL ? LX_ENOMEM : LX_OK;
}

void lx_hist_free(lx_hist **p)
{
    if (p == NULL)
        return;
    free(*p);
    *p = NULL;
}

void lx_hist_reset(lx_hist *h)
{
    if (h != NULL)
        memset(h, 0, sizeof *h);
}

void lx_hist_record(lx_hist *h, uint64_t v)
{
    if (h == NULL)
        return;
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->n++;
    h->counts[bucket_of(v)]++;
}

lx_err lx_hist_merge(lx_hist *dst, const lx_hist *src)
{
    if (dst == NULL || src == NULL)
        return LX_EINVAL;
    if (src->n == 0)
        return LX_OK;
    if (dst->n == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->n += src->n;
    for (size_t i = 0; i < NBUCKETS; i++)
        dst->counts[i] += src->counts[i];
    return LX_OK;
}

uint64_t lx_hist_count(const lx_hist *h)
{
    return h == NULL ? 0 : h->n;
}

uint64_t lx_hist_min(const lx_hist *h)
{
    return h == NULL ? 0 : h->min;
}

uint64_t lx_hist_max(const lx_hist *h)
{
    return h == NULL ? 0 : h->max;
}

double lx_hist_mean(const lx_hist *h)
{
    if (h == NULL || h->n == 0)
        return 0.0;
    double sum = 0.0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (h->counts[i] == 0)
            continue;
        uint64_t v = bucket_high(i);
        if (v > h->max)
            v = h->max;
        sum += (double)v * (double)h->counts[i];
    }
    return sum / (double)h->n;
}

uint64_t lx_hist_percentile(const lx_hist *h, double q)
{
    if (h == NULL || h->n == 0)
        return 0;
    if (!(q > 0.0))
        q = 0.0;
    if (q > 100.0)
        q = 100.0;
    /* The small shave keeps 99.9% of 1000 at rank 999 despite rounding. */
    double x = q / 100.0 * (double)h->n;
    double r = ceil(x - x * 1e-12);
    uint64_t rank = r < 1.0 ? 1 : (uint64_t)r;
    if (rank > h->n)
        rank = h->n;
    uint64_t seen = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- open-loop schedule ---- */

uint64_t lx_pace_time(uint64_t start_ns, double rate, uint64_t k)
{
    if (!(rate > 0.0))
        return UINT64_MAX;
    double off = (double)k * 1e9 / rate;
    if (off >= 1.8e19)
        return UINT64_MAX;
    uint64_t o = (uint64_t)off;
    return o > UINT64_MAX - start_ns ? UINT64_MAX : start_ns + o;
}

uint64_t lx_pace_due(uint64_t start_ns, double rate, uint64_t now_ns)
{
    if (!(rate > 0.0) || now_ns < start_ns)
        return 0;
    double kd = floor((double)(now_ns - start_ns) * rate / 1e9);
    uint64_t k = kd >= 1.8e19 ? UINT64_MAX - 1 : (uint64_t)kd;
    /* The double estimate may be off by one either way; settle it against
     * lx_pace_time so that both functions agree exactly. */
    while (k > 0 && lx_pace_time(start_ns, rate, k) > now_ns)
        k--;
    while (k < UINT64_MAX - 1 && lx_pace_time(start_ns, rate, k + 1) <= now_ns)
        k++;
    return k + 1;
}

/* ---- order generator ---- */

#define MID_LOW (LX_ORDERGEN_MID_TICKS / 2u)
#define MID_HIGH (LX_ORDERGEN_MID_TICKS * 2u)
#define PRICE_TICKS_MAX ((uint64_t)MID_HIGH + LX_ORDERGEN_SPREAD_TICKS)
#define LIMIT62 (UINT64_C(1) << 62)

typedef struct gen_market {
    lx_proto_market m;
    uint64_t mid; /* in ticks */
} gen_market;

struct lx_ordergen {
    uint64_t rng;
    uint64_t id_base;
    uint64_t account_first, accounts;
    uint64_t next; /* orders generated so far */
    gen_market *mk;
    size_t nmk;
};

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: a full-period 64-bit stream, good enough for load shapes. */
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t qty_max(const lx_market_spec *s)
{
    return s->min_qty + LX_ORDERGEN_QTY_SPAN - 1u;
}

/* The most quote units one buy order of this market can reserve: price *
 * qty, plus fee and rounding slack (see plugin.h, "Reservations"). */
static uint64_t buy_cost_max(const lx_market_spec *s)
{
    uint64_t notional = sat_mul(sat_mul(PRICE_TICKS_MAX, s->tick), qty_max(s));
    return sat_add(sat_mul(notional, 2), qty_max(s));
}

static uint64_t sell_cost_max(const lx_market_spec *s)
{
    return sat_mul(qty_max(s), s->lot);
}

lx_err lx_ordergen_new(lx_ordergen **out, const lx_ordergen_opts *o)
{
    if (out == NULL)
        return LX_EINVAL;
    *out = NULL;
    if (o == NULL || o->markets == NULL || o->nmarkets == 0 || o->nmarkets > LX_PROTO_LIST_MAX ||
        o->id_base == 0 || o->id_base > LX_ORDERGEN_ID_BASE_MAX || o->accounts == 0 ||
        o->account_first > UINT64_MAX - o->accounts)
        return LX_EINVAL;
    for (size_t i = 0; i < o->nmarkets; i++) {
        const lx_market_spec *s = &o->markets[i].spec;
        if (s->tick == 0 || s->lot == 0 || s->min_qty == 0 || s->min_qty > LIMIT62)
            return LX_EINVAL;
        if (buy_cost_max(s) >= LIMIT62 || sell_cost_max(s) >= LIMIT62)
            return LX_EINVAL;
    }
    lx_ordergen *g = calloc(1, sizeof *g);
    if (g == NULL)
        return LX_ENOMEM;
    g->mk = calloc(o->nmarkets, sizeof *g->mk);
    if (g->mk == NULL) {
        free(g);
        return LX_ENOMEM;
    }
    g->nmk = o->nmarkets;
    g->rng = o->seed;
    g->id_base = o->id_base;
    g->account_first = o->account_first;
    g->accounts = o->accounts;
    for (size_t i = 0; i < o->nmarkets; i++) {
        g->mk[i].m = o->markets[i];
        g->mk[i].mid = LX_ORDERGEN_MID_TICKS;
    }
    *out = g;
    return LX_OK;
}

void lx_ordergen_free(lx_ordergen **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->mk);
    free(*p);
    *p = NULL;
}

uint64_t lx_ordergen_random(lx_ordergen *g)
{
    return g == NULL ? 0 : rng_next(&g->rng);
}

int lx_ordergen_chance(lx_ordergen *g, double p)
{
    if (g == NULL || !(p > 0.0))
        return 0;
    if (p >= 1.0)
        return 1;
    /* 53 random bits give a uniform double in [0, 1). */
    double u = (double)(rng_next(&g->rng) >> 11) * (1.0 / 9007199254740992.0);
    return u < p;
}

void lx_ordergen_next(lx_ordergen *g, lx_order_cmd *out, uint32_t group, uint32_t ngroups)
{
    if (g == NULL || out == NULL)
        return;
    uint64_t r = rng_next(&g->rng);
    gen_market *mk = &g->mk[r % g->nmk];
    r = rng_next(&g->rng);

    /* A small random walk of the mid keeps the books moving so that resting
     * orders on both sides keep getting taken. */
    if ((r & 31u) == 0) {
        if ((r & 32u) != 0 && mk->mid < MID_HIGH)
            mk->mid++;
        else if ((r & 32u) == 0 && mk->mid > MID_LOW)
            mk->mid--;
    }
    r >>= 6;
    uint64_t side = r & 1u;
    r >>= 1;
    uint64_t off = r % (2u * LX_ORDERGEN_SPREAD_TICKS + 1u);
    r /= 2u * LX_ORDERGEN_SPREAD_TICKS + 1u;
    uint64_t lots = r % LX_ORDERGEN_QTY_SPAN;
    r /= LX_ORDERGEN_QTY_SPAN;

    uint64_t ng = ngroups == 0 ? 1 : ngroups;
    uint64_t gi = group % ng;
    uint64_t in_group = g->accounts / ng + (gi < g->accounts % ng ? 1u : 0u);
    uint64_t account;
    uint64_t r2 = rng_next(&g->rng);
    if (in_group == 0)
        account = g->account_first + r2 % g->accounts;
    else
        account = g->account_first + gi + ng * (r2 % in_group);

    memset(out, 0, sizeof *out);
    out->id = (g->id_base << LX_ORDERGEN_ID_BITS) | (g->next + 1u);
    g->next++;
    out->account = account;
    out->market = mk->m.id;
    out->side = (uint8_t)side;
    out->type = LX_LIMIT;
    out->tif = LX_GTC;
    out->stp = LX_STP_EXPIRE_MAKER;
    out->post_only = false;
    out->price = (mk->mid + off - LX_ORDERGEN_SPREAD_TICKS) * mk->m.spec.tick;
    out->qty = mk->m.spec.min_qty + lots;
}

uint64_t lx_ordergen_index(const lx_ordergen *g, uint64_t id)
{
    if (g == NULL || (id >> LX_ORDERGEN_ID_BITS) != g->id_base)
        return UINT64_MAX;
    uint64_t k1 = id & ((UINT64_C(1) << LX_ORDERGEN_ID_BITS) - 1u);
    if (k1 == 0 || k1 > g->next)
        return UINT64_MAX;
    return k1 - 1u;
}

uint64_t lx_ordergen_deposit(const lx_ordergen *g, const char *asset, uint64_t orders_per_account)
{
    if (g == NULL || asset == NULL)
        return 0;
    uint64_t per_order = 0;
    for (size_t i = 0; i < g->nmk; i++) {
        const lx_market_spec *s = &g->mk[i].m.spec;
        if (strcmp(s->base, asset) == 0)
            per_order = sat_add(per_order, sell_cost_max(s));
        if (strcmp(s->quote, asset) == 0)
            per_order = sat_add(per_order, buy_cost_max(s));
    }
    if (per_order == 0)
        return 0;
    /* Twice the need leaves room for orders an account happens to get more
     * of than its share. */
    uint64_t need = sat_mul(sat_mul(per_order, orders_per_account < 1 ? 1 : orders_per_account), 2);
    uint64_t cap = LIMIT62 / g->accounts;
    return need < cap ? need : cap;
}

/* ---- malformed frames ---- */

static const char *const mal_names[LX_MAL_COUNT] = {
    [LX_MAL_EMPTY] = "empty",
    [LX_MAL_BAD_MAGIC] = "bad_magic",
    [LX_MAL_BAD_VERSION] = "bad_version",
    [LX_MAL_SHORT_HEADER] = "short_header",
    [LX_MAL_SHORT_BODY] = "short_body",
    [LX_MAL_LONG_BODY] = "long_body",
    [LX_MAL_OVERSIZED] = "oversized",
    [LX_MAL_BODY_LEN_HUGE] = "body_len_huge",
    [LX_MAL_UNKNOWN_TYPE] = "unknown_type",
    [LX_MAL_REPLY_TYPE] = "reply_type",
    [LX_MAL_BAD_FLAGS] = "bad_flags",
    [LX_MAL_BAD_ENUM] = "bad_enum",
    [LX_MAL_BAD_BOOL] = "bad_bool",
    [LX_MAL_BATCH_COUNT] = "batch_count_mismatch",
    [LX_MAL_BATCH_ZERO] = "batch_count_zero",
    [LX_MAL_BATCH_OVER_CAP] = "batch_over_cap",
    [LX_MAL_BAD_SYMBOL] = "bad_symbol",
};

const char *lx_malformed_name(lx_malformed_kind kind)
{
    if ((unsigned)kind >= LX_MAL_COUNT)
        return "unknown";
    return mal_names[kind];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void header(uint8_t *p, uint8_t type, uint16_t flags, uint64_t req_id, uint32_t body_len)
{
    p[0] = (uint8_t)(LX_PROTO_MAGIC >> 8);
    p[1] = (uint8_t)LX_PROTO_MAGIC;
    p[2] = LX_PROTO_VERSION;
    p[3] = type;
    put16(p + 4, flags);
    for (int i = 0; i < 8; i++)
        p[6 + i] = (uint8_t)(req_id >> (56 - 8 * i));
    put32(p + 14, body_len);
}

static lx_order_cmd sample_order(uint64_t i)
{
    lx_order_cmd o;
    memset(&o, 0, sizeof o);
    o.id = 1000 + i;
    o.account = 1;
    o.market = 0;
    o.side = LX_BUY;
    o.type = LX_LIMIT;
    o.tif = LX_GTC;
    o.price = 100;
    o.qty = 1;
    return o;
}

/* A valid NEW_ORDER frame (59 bytes). */
static lx_err new_order(uint8_t *buf, size_t cap, size_t *n, uint64_t req_id)
{
    lx_proto_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.type = LX_PROTO_NEW_ORDER;
    m.hdr.req_id = req_id;
    m.u.order = sample_order(0);
    return lx_proto_encode(buf, cap, n, &m);
}

lx_err lx_malformed_frame(uint8_t *buf, size_t cap, size_t *written, lx_proto_error *code,
                          uint64_t *echo, lx_malformed_kind kind, uint64_t req_id)
{
    if (buf == NULL || written == NULL || code == NULL || echo == NULL || cap < LX_MALFORMED_MAX ||
        (unsigned)kind >= LX_MAL_COUNT)
        return LX_EINVAL;
    memset(buf, 0, LX_MALFORMED_MAX);
    size_t n = 0;
    *echo = req_id;
    lx_err err = LX_OK;
    const size_t H = LX_PROTO_HDR_LEN;
    switch (kind) {
    case LX_MAL_EMPTY:
        *code = LX_PROTO_E_TRUNCATED;
        *echo = 0;
        break;
    case LX_MAL_BAD_MAGIC:
        header(buf, LX_PROTO_PING, 0, req_id, 0);
        buf[0] = 'X';
        n = H;
        *code = LX_PROTO_E_MALFORMED;
        *echo = 0;
        break;
    case LX_MAL_BAD_VERSION:
        header(buf, LX_PROTO_PING, 0, req_id, 0);
        buf[2] = LX_PROTO_VERSION + 1u;
        n = H;
        *code = LX_PROTO_E_BAD_VERSION;
        *echo = 0;
        break;
    case LX_MAL_SHORT_HEADER:
        header(buf, LX_PROTO_PING, 0, req_id, 0);
        n = 10;
        *code = LX_PROTO_E_TRUNCATED;
        *echo = 0;
        break;
    case LX_MAL_SHORT_BODY:
        err = new_order(buf, cap, &n, req_id);
        n -= 5;
        *code = LX_PROTO_E_TRUNCATED;
        break;
    case LX_MAL_LONG_BODY:
        err = new_order(buf, cap, &n, req_id);
        n += 3;
        *code = LX_PROTO_E_MALFORMED;
        break;
    case LX_MAL_OVERSIZED:
        n = LX_PROTO_FRAME_MAX + 1u;
        header(buf, LX_PROTO_PING, 0, req_id, (uint32_t)(n - H));
        *code = LX_PROTO_E_TOO_BIG;
        *echo = 0;
        break;
    case LX_MAL_BODY_LEN_HUGE:
        header(buf, LX_PROTO_PING, 0, req_id, 1u << 20);
        n = H;
        *code = LX_PROTO_E_TOO_BIG;
        break;
    case LX_MAL_UNKNOWN_TYPE:
        header(buf, 0x3F, 0, req_id, 0);
        n = H;
        *code = LX_PROTO_E_UNKNOWN_TYPE;
        break;
    case LX_MAL_REPLY_TYPE: {
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_ACK;
        m.hdr.req_id = req_id;
        m.u.ack.seq = 1;
        m.u.ack.id = 1;
        err = lx_proto_encode(buf, cap, &n, &m);
        *code = LX_PROTO_E_UNKNOWN_TYPE;
        break;
    }
    case LX_MAL_BAD_FLAGS:
        header(buf, LX_PROTO_PING, LX_PROTO_F_MORE, req_id, 0);
        n = H;
        *code = LX_PROTO_E_MALFORMED;
        break;
    case LX_MAL_BAD_ENUM:
        err = new_order(buf, cap, &n, req_id);
        buf[H + 20] = 2; /* side */
        *code = LX_PROTO_E_MALFORMED;
        break;
    case LX_MAL_BAD_BOOL:
        err = new_order(buf, cap, &n, req_id);
        buf[H + 24] = 2; /* post_only */
        *code = LX_PROTO_E_MALFORMED;
        break;
    case LX_MAL_BATCH_COUNT: {
        lx_order_cmd o[2] = {sample_order(0), sample_order(1)};
        err = lx_proto_encode_batch(buf, cap, &n, req_id, o, 2);
        put16(buf + H, 3);
        *code = LX_PROTO_E_MALFORMED;
        break;
    }
    case LX_MAL_BATCH_ZERO:
        header(buf, LX_PROTO_NEW_ORDER_BATCH, 0, req_id, 2);
        n = H + 2; /* count 0 */
        *code = LX_PROTO_E_MALFORMED;
        break;
    case LX_MAL_BATCH_OVER_CAP: {
        lx_order_cmd o[LX_PROTO_BATCH_MAX];
        for (size_t i = 0; i < LX_PROTO_BATCH_MAX; i++)
            o[i] = sample_order(i);
        err = lx_proto_encode_batch(buf, cap, &n, req_id, o, LX_PROTO_BATCH_MAX);
        if (err == LX_OK) {
            /* One more order, copied from the last, and the count to match. */
            memcpy(buf + n, buf + n - 41, 41);
            n += 41;
            put16(buf + H, (uint16_t)(LX_PROTO_BATCH_MAX + 1u));
            put32(buf + 14, (uint32_t)(n - H));
        }
        *code = LX_PROTO_E_TOO_BIG;
        break;
    }
    case LX_MAL_BAD_SYMBOL: {
        lx_proto_msg m;
        memset(&m, 0, sizeof m);
        m.hdr.type = LX_PROTO_DEPOSIT;
        m.hdr.req_id = req_id;
        m.u.transfer.account = 1;
        m.u.transfer.amount = 1;
        memcpy(m.u.transfer.asset, "USD", 4);
        err = lx_proto_encode(buf, cap, &n, &m);
        buf[H + 8 + 5] = 'X'; /* a byte after the symbol's NUL */
        *code = LX_PROTO_E_MALFORMED;
        break;
    }
    default:
        return LX_EINVAL;
    }
    if (err != LX_OK)
        return err;
    *written = n;
    return LX_OK;
}

/* ---- durations ---- */

lx_err lx_parse_duration(uint64_t *ns, const char *s)
{
    if (ns == NULL || s == NULL || *s == '\0')
        return LX_EINVAL;
    /* Only digits and one dot: strtod would also take signs, hex and inf. */
    size_t i = 0, digits = 0, dots = 0;
    for (; s[i] != '\0' && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'); i++) {
        if (s[i] == '.')
            dots++;
        else
            digits++;
    }
    if (digits == 0 || dots > 1 || i > 32)
        return LX_EINVAL;
    char num[40];
    memcpy(num, s, i);
    num[i] = '\0';
    double v = strtod(num, NULL);
    const char *u = s + i;
    double mult;
    if (*u == '\0' || strcmp(u, "s") == 0)
        mult = 1e9;
    else if (strcmp(u, "ns") == 0)
        mult = 1.0;
    else if (strcmp(u, "us") == 0)
        mult = 1e3;
    else if (strcmp(u, "ms") == 0)
        mult = 1e6;
    else if (strcmp(u, "m") == 0)
        mult = 60e9;
    else if (strcmp(u, "h") == 0)
        mult = 3600e9;
    else
        return LX_EINVAL;
    double t = v * mult;
    if (!(t >= 0.0) || t > 1e16)
        return LX_EINVAL;
    *ns = (uint64_t)llround(t);
    return LX_OK;
}

/* ---- summary ---- */

void lx_loadgen_summary_latency(lx_loadgen_summary *s, const lx_hist *h)
{
    if (s == NULL)
        return;
    s->p50 = lx_hist_percentile(h, 50.0);
    s->p90 = lx_hist_percentile(h, 90.0);
    s->p99 = lx_hist_percentile(h, 99.0);
    s->p999 = lx_hist_percentile(h, 99.9);
    s->max = lx_hist_max(h);
}

typedef struct jbuf {
    char *p;
    size_t len, used;
    int full;
} jbuf;

static void jadd(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jadd(jbuf *b, const char *fmt, ...)
{
    if (b->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->len - b->used) {
        b->full = 1;
        return;
    }
    b->used += (size_t)n;
}

/* JSON has no NaN or infinity; write 0 for them. */
static double finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

size_t lx_loadgen_summary_json(char *buf, size_t len, const lx_loadgen_summary *s)
{
    if (buf == NULL || len == 0 || s == NULL)
        return 0;
    jbuf b = {buf, len, 0, 0};
    jadd(&b, "{\"duration_s\":%.3f,\"target_rate\":%.3f", finite_or_zero(s->duration_s),
         finite_or_zero(s->target_rate));
    jadd(&b,
         ",\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"errors\":%" PRIu64
         ",\"fills\":%" PRIu64,
         s->sent, s->acked, s->rejected, s->errors, s->fills);
    jadd(&b, ",\"throughput\":%.1f", finite_or_zero(s->throughput));
    jadd(&b,
         ",\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
         ",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 "}",
         s->p50, s->p90, s->p99, s->p999, s->max);
    jadd(&b,
         ",\"nodes\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"maker_fills\":%" PRIu64
         ",\"cancels_sent\":%" PRIu64 ",\"cancelled\":%" PRIu64 ",\"cancel_misses\":%" PRIu64
         ",\"cancel_frames\":%" PRIu64,
         s->nodes, s->timeouts, s->maker_fills, s->cancels_sent, s->cancelled, s->cancel_misses,
         s->cancel_frames);
    jadd(&b,
         ",\"frames\":%" PRIu64 ",\"batch\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"id_base\":%" PRIu64
         ",\"send_lag_us\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64
         "},\"max_send_lag_us\":%" PRIu64 ",\"busy_poll\":%s}",
         s->frames, s->batch, s->seed, s->id_base, s->send_lag_p50_us, s->send_lag_p99_us,
         s->max_send_lag_us, s->max_send_lag_us, s->busy_poll ? "true" : "false");
    if (b.full)
        return 0;
    return b.used;
}
