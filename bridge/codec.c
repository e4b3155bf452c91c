/* The AVM codec: canonical building, byte-exact encoding and strict decoding
 * of BaseTx, ImportTx, ExportTx with SECP256K1 credentials, and of UTXOs. */
#include <stdlib.h>
#include <string.h>

#include "lx/bridge.h"

#define CODEC_VERSION 0
#define OUT_MIN (LX_ID_LEN + 4 + 8 + 8 + 4 + 4)        /* an output, no address */
#define IN_MIN (LX_ID_LEN + 4 + LX_ID_LEN + 4 + 8 + 4) /* an input, no sig index */
#define CRED_MIN (4 + 4)
#define TX_HEAD (2 + 4 + 4 + LX_ID_LEN)

struct lx_tx {
    lx_tx_spec v;      /* the view; every pointer points into this object */
    uint8_t *buf;      /* unsigned bytes (decode: the whole input) */
    size_t ulen;       /* length of the unsigned bytes in buf */
    lx_xout *outs;     /* v.nouts + v.nxouts, base outputs first */
    lx_xin *ins;       /* v.nins + v.nxins, in credential order */
    uint32_t *idx;     /* every sig index */
    size_t *slot_base; /* input i owns slots [slot_base[i], slot_base[i+1]) */
    size_t nslots;
    uint8_t *sigs;   /* nslots * LX_SIG_LEN */
    uint8_t *filled; /* nslots flags */
};

struct lx_utxo {
    lx_xutxo v;
    uint8_t *buf;
    size_t len;
};

/* ---- reading ---- */

typedef struct reader {
    const uint8_t *p;
    size_t len;
    size_t off;
    lx_err err;
    const char *why;
} reader;

static bool fail(reader *r, lx_err err, const char *why)
{
    if (r->err == LX_OK) {
        r->err = err;
        r->why = why;
    }
    return false;
}

static lx_err failed(reader *r, lx_err err, const char *why)
{
    fail(r, err, why);
    return r->err;
}

static bool need(reader *r, size_t n)
{
    if (r->err != LX_OK)
        return false;
    if (r->len - r->off < n)
        return fail(r, LX_EFORMAT, "truncated");
    return true;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t rd_uint(reader *r, size_t n)
{
    if (!need(r, n))
        return 0;
    uint64_t v = get_be(r->p + r->off, n);
    r->off += n;
    return v;
}

static uint32_t rd_u32(reader *r)
{
    return (uint32_t)rd_uint(r, 4);
}

static const uint8_t *rd_bytes(reader *r, size_t n)
{
    if (!need(r, n))
        return NULL;
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static void rd_copy(reader *r, uint8_t *out, size_t n)
{
    const uint8_t *p = rd_bytes(r, n);
    if (p != NULL)
        memcpy(out, p, n);
}

/* Reads a u32 count of elements at least min bytes each; a count the rest of
 * the buffer cannot hold is truncated input, caught before any allocation. */
static size_t rd_count(reader *r, size_t min)
{
    uint32_t n = rd_u32(r);
    if (r->err != LX_OK)
        return 0;
    if (min > 0 && n > (r->len - r->off) / min) {
        fail(r, LX_EFORMAT, "count exceeds the remaining bytes");
        return 0;
    }
    return n;
}

/* ---- ordering shared by building and decoding ---- */

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* Orders outputs as their serialized bytes order: every field is fixed-width
 * big-endian, so comparing field by field is comparing the bytes. */
static int out_cmp(const lx_xout *a, const lx_xout *b)
{
    int c = memcmp(a->asset_id, b->asset_id, LX_ID_LEN);
    if (c == 0)
        c = cmp_u64(a->amount, b->amount);
    if (c == 0)
        c = cmp_u64(a->locktime, b->locktime);
    if (c == 0)
        c = cmp_u64(a->threshold, b->threshold);
    if (c == 0)
        c = cmp_u64(a->naddrs, b->naddrs);
    if (c == 0 && a->naddrs > 0)
        c = memcmp(a->addrs, b->addrs, a->naddrs * LX_ADDR_LEN);
    return c;
}

static int in_cmp(const lx_xin *a, const lx_xin *b)
{
    int c = memcmp(a->tx_id, b->tx_id, LX_ID_LEN);
    return c != 0 ? c : cmp_u64(a->output_index, b->output_index);
}

static int out_qsort(const void *a, const void *b)
{
    return out_cmp(a, b);
}

static int in_qsort(const void *a, const void *b)
{
    return in_cmp(a, b);
}

static int addr_qsort(const void *a, const void *b)
{
    return memcmp(a, b, LX_ADDR_LEN);
}

/* ---- decoding ---- */

static bool rd_out(reader *r, lx_xout *o)
{
    rd_copy(r, o->asset_id, LX_ID_LEN);
    uint32_t type = rd_u32(r);
    if (r->err != LX_OK)
        return false;
    if (type == 6)
        return fail(r, LX_EUNSUPPORTED, "MintOutput is not supported");
    if (type != LX_XFER_OUT_TYPE)
        return fail(r, LX_EFORMAT, "unknown output type ID");
    o->amount = rd_uint(r, 8);
    o->locktime = rd_uint(r, 8);
    o->threshold = rd_u32(r);
    o->naddrs = rd_count(r, LX_ADDR_LEN);
    o->addrs = rd_bytes(r, o->naddrs * LX_ADDR_LEN);
    if (r->err != LX_OK)
        return false;
    if (o->amount == 0)
        return fail(r, LX_EFORMAT, "output amount is zero");
    if (o->threshold > o->naddrs)
        return fail(r, LX_EFORMAT, "threshold exceeds the number of addresses");
    if (o->threshold == 0 && o->naddrs > 0)
        return fail(r, LX_EFORMAT, "threshold is zero with addresses");
    for (size_t i = 1; i < o->naddrs; i++)
        if (memcmp(o->addrs + (i - 1) * LX_ADDR_LEN, o->addrs + i * LX_ADDR_LEN, LX_ADDR_LEN) >= 0)
            return fail(r, LX_ECANONICAL, "addresses not sorted and unique");
    return true;
}

static bool rd_outs(reader *r, lx_xout *outs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!rd_out(r, &outs[i]))
            return false;
        if (i > 0 && out_cmp(&outs[i - 1], &outs[i]) > 0)
            return fail(r, LX_ECANONICAL, "outputs not sorted");
    }
    return true;
}

static bool rd_ins(reader *r, lx_xin *ins, size_t n, uint32_t **idx)
{
    for (size_t i = 0; i < n; i++) {
        lx_xin *in = &ins[i];
        rd_copy(r, in->tx_id, LX_ID_LEN);
        in->output_index = rd_u32(r);
        rd_copy(r, in->asset_id, LX_ID_LEN);
        uint32_t type = rd_u32(r);
        if (r->err != LX_OK)
            return false;
        if (type != LX_XFER_IN_TYPE)
            return fail(r, LX_EFORMAT, "unknown input type ID");
        in->amount = rd_uint(r, 8);
        in->nsigs = rd_count(r, 4);
        if (r->err != LX_OK)
            return false;
        uint32_t *s = *idx;
        for (size_t k = 0; k < in->nsigs; k++)
            s[k] = rd_u32(r);
        in->sig_indices = s;
        *idx += in->nsigs;
        if (in->amount == 0)
            return fail(r, LX_EFORMAT, "input amount is zero");
        for (size_t k = 1; k < in->nsigs; k++)
            if (s[k - 1] >= s[k])
                return fail(r, LX_ECANONICAL, "sig indices not strictly increasing");
        if (i > 0 && in_cmp(&ins[i - 1], in) >= 0)
            return fail(r, LX_ECANONICAL, "inputs not sorted and unique");
    }
    return true;
}

static void tx_release(lx_tx *tx)
{
    free(tx->buf);
    free(tx->outs);
    free(tx->ins);
    free(tx->idx);
    free(tx->slot_base);
    free(tx->sigs);
    free(tx->filled);
    free(tx);
}

void lx_tx_free(lx_tx **tx)
{
    if (tx == NULL || *tx == NULL)
        return;
    tx_release(*tx);
    *tx = NULL;
}

/* Parses tx->buf[0..len). buf is owned by tx; views point into it. */
static lx_err tx_parse(lx_tx *tx, reader *r, bool with_creds)
{
    lx_tx_spec *v = &tx->v;
    uint64_t codec = rd_uint(r, 2);
    uint32_t kind = rd_u32(r);
    if (r->err != LX_OK)
        return r->err;
    if (codec != CODEC_VERSION)
        return failed(r, LX_EFORMAT, "unknown codec version");
    if (kind == 1 || kind == 2)
        return failed(r, LX_EUNSUPPORTED, "CreateAssetTx and OperationTx are not supported");
    if (kind != LX_TX_BASE && kind != LX_TX_IMPORT && kind != LX_TX_EXPORT)
        return failed(r, LX_EFORMAT, "unknown tx type ID");
    v->kind = (lx_tx_kind)kind;
    v->network_id = rd_u32(r);
    rd_copy(r, v->blockchain_id, LX_ID_LEN);

    /* Every count is bounded by the input length, so these allocations are
     * bounded by it too. The sig index pool holds at most one u32 per four
     * input bytes. */
    size_t max_outs = r->len / OUT_MIN + 1, max_ins = r->len / IN_MIN + 1;
    tx->outs = calloc(max_outs, sizeof *tx->outs);
    tx->ins = calloc(max_ins, sizeof *tx->ins);
    tx->idx = calloc(r->len / 4 + 1, sizeof *tx->idx);
    if (tx->outs == NULL || tx->ins == NULL || tx->idx == NULL)
        return LX_ENOMEM;
    uint32_t *idx = tx->idx;

    v->nouts = rd_count(r, OUT_MIN);
    if (!rd_outs(r, tx->outs, v->nouts))
        return r->err;
    v->nins = rd_count(r, IN_MIN);
    if (!rd_ins(r, tx->ins, v->nins, &idx))
        return r->err;
    v->memo_len = rd_u32(r);
    if (r->err == LX_OK && v->memo_len > LX_MEMO_MAX)
        return failed(r, LX_ETOOBIG, "memo over 256 bytes");
    v->memo = rd_bytes(r, v->memo_len);
    if (r->err != LX_OK)
        return r->err;
    if (kind == LX_TX_EXPORT) {
        rd_copy(r, v->other_chain, LX_ID_LEN);
        v->nxouts = rd_count(r, OUT_MIN);
        if (r->err == LX_OK && v->nxouts == 0)
            return failed(r, LX_EFORMAT, "ExportTx without exported outputs");
        if (!rd_outs(r, tx->outs + v->nouts, v->nxouts))
            return r->err;
    } else if (kind == LX_TX_IMPORT) {
        rd_copy(r, v->other_chain, LX_ID_LEN);
        v->nxins = rd_count(r, IN_MIN);
        if (r->err == LX_OK && v->nxins == 0)
            return failed(r, LX_EFORMAT, "ImportTx without imported inputs");
        if (!rd_ins(r, tx->ins + v->nins, v->nxins, &idx))
            return r->err;
    }
    v->outs = tx->outs;
    v->xouts = tx->outs + v->nouts;
    v->ins = tx->ins;
    v->xins = tx->ins + v->nins;
    tx->ulen = r->off;

    size_t nin = v->nins + v->nxins;
    tx->slot_base = calloc(nin + 1, sizeof *tx->slot_base);
    if (tx->slot_base == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < nin; i++)
        tx->slot_base[i + 1] = tx->slot_base[i] + tx->ins[i].nsigs;
    tx->nslots = tx->slot_base[nin];
    tx->sigs = calloc(tx->nslots + 1, LX_SIG_LEN);
    tx->filled = calloc(tx->nslots + 1, 1);
    if (tx->sigs == NULL || tx->filled == NULL)
        return LX_ENOMEM;

    if (with_creds) {
        size_t ncreds = rd_count(r, CRED_MIN);
        if (r->err == LX_OK && ncreds != nin)
            return failed(r, LX_EFORMAT, "number of credentials differs from inputs");
        for (size_t i = 0; i < nin && r->err == LX_OK; i++) {
            if (rd_u32(r) != LX_CREDENTIAL_TYPE && r->err == LX_OK)
                return failed(r, LX_EFORMAT, "unknown credential type ID");
            size_t nsig = rd_count(r, LX_SIG_LEN);
            if (r->err == LX_OK && nsig != tx->ins[i].nsigs)
                return failed(r, LX_EFORMAT, "number of signatures differs from sig indices");
            const uint8_t *s = rd_bytes(r, nsig * LX_SIG_LEN);
            if (s != NULL && nsig > 0) {
                memcpy(tx->sigs + tx->slot_base[i] * LX_SIG_LEN, s, nsig * LX_SIG_LEN);
                memset(tx->filled + tx->slot_base[i], 1, nsig);
            }
        }
    }
    if (r->err == LX_OK && r->off != r->len)
        fail(r, LX_EFORMAT, "trailing bytes");
    return r->err;
}

/* Takes ownership of buf (malloc'd, len bytes) whatever the result. */
static lx_err tx_from_buf(lx_tx **tx, const char **why, uint8_t *buf, size_t len, bool with_creds)
{
    reader r = {.p = buf, .len = len, .err = LX_OK, .why = "ok"};
    lx_tx *t = calloc(1, sizeof *t);
    if (t == NULL) {
        free(buf);
        return LX_ENOMEM;
    }
    t->buf = buf;
    lx_err err = tx_parse(t, &r, with_creds);
    if (why != NULL)
        *why = err == LX_ENOMEM ? "out of memory" : r.why;
    if (err != LX_OK) {
        tx_release(t);
        return err;
    }
    *tx = t;
    return LX_OK;
}

/* Checks decoder arguments and the size cap; on success *copy is a malloc'd
 * copy of buf that the caller owns. */
static lx_err copy_input(uint8_t **copy, const char **why, const uint8_t *buf, size_t len)
{
    if (why != NULL)
        *why = len > LX_TX_MAX ? "over 64 KiB" : "invalid argument";
    if (buf == NULL && len > 0)
        return LX_EINVAL;
    if (len > LX_TX_MAX)
        return LX_ETOOBIG;
    *copy = malloc(len + 1);
    if (*copy == NULL)
        return LX_ENOMEM;
    if (len > 0)
        memcpy(*copy, buf, len);
    return LX_OK;
}

static lx_err tx_decode(lx_tx **tx, const char **why, const uint8_t *buf, size_t len,
                        bool with_creds)
{
    if (tx != NULL)
        *tx = NULL;
    uint8_t *copy = NULL;
    lx_err err = tx == NULL ? LX_EINVAL : copy_input(&copy, why, buf, len);
    return err != LX_OK ? err : tx_from_buf(tx, why, copy, len, with_creds);
}

lx_err lx_tx_decode(lx_tx **tx, const char **why, const uint8_t *buf, size_t len)
{
    return tx_decode(tx, why, buf, len, true);
}

lx_err lx_tx_decode_unsigned(lx_tx **tx, const char **why, const uint8_t *buf, size_t len)
{
    return tx_decode(tx, why, buf, len, false);
}

/* ---- encoding ---- */

static uint8_t *put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        p[i - 1] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return p + n;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n)
{
    if (n > 0)
        memcpy(p, src, n);
    return p + n;
}

static uint8_t *put_out(uint8_t *p, const lx_xout *o)
{
    p = put_bytes(p, o->asset_id, LX_ID_LEN);
    p = put_be(p, LX_XFER_OUT_TYPE, 4);
    p = put_be(p, o->amount, 8);
    p = put_be(p, o->locktime, 8);
    p = put_be(p, o->threshold, 4);
    p = put_be(p, o->naddrs, 4);
    return put_bytes(p, o->addrs, o->naddrs * LX_ADDR_LEN);
}

static uint8_t *put_outs(uint8_t *p, const lx_xout *outs, size_t n)
{
    p = put_be(p, n, 4);
    for (size_t i = 0; i < n; i++)
        p = put_out(p, &outs[i]);
    return p;
}

static uint8_t *put_ins(uint8_t *p, const lx_xin *ins, size_t n)
{
    p = put_be(p, n, 4);
    for (size_t i = 0; i < n; i++) {
        const lx_xin *in = &ins[i];
        p = put_bytes(p, in->tx_id, LX_ID_LEN);
        p = put_be(p, in->output_index, 4);
        p = put_bytes(p, in->asset_id, LX_ID_LEN);
        p = put_be(p, LX_XFER_IN_TYPE, 4);
        p = put_be(p, in->amount, 8);
        p = put_be(p, in->nsigs, 4);
        for (size_t k = 0; k < in->nsigs; k++)
            p = put_be(p, in->sig_indices[k], 4);
    }
    return p;
}

/* ---- building ---- */

/* Checks an output of a spec and adds its size to *size; LX_ETOOBIG once the
 * running size passes the cap, so no sum can overflow. */
static lx_err check_out(const lx_xout *o, size_t *size)
{
    if (o->amount == 0 || o->threshold > o->naddrs || (o->threshold == 0 && o->naddrs > 0) ||
        (o->naddrs > 0 && o->addrs == NULL))
        return LX_EINVAL;
    if (o->naddrs > LX_TX_MAX / LX_ADDR_LEN)
        return LX_ETOOBIG;
    *size += OUT_MIN + o->naddrs * LX_ADDR_LEN;
    return *size > LX_TX_MAX ? LX_ETOOBIG : LX_OK;
}

static lx_err check_in(const lx_xin *in, size_t *size)
{
    if (in->amount == 0 || (in->nsigs > 0 && in->sig_indices == NULL))
        return LX_EINVAL;
    if (in->nsigs > LX_TX_MAX / LX_SIG_LEN)
        return LX_ETOOBIG;
    for (size_t k = 1; k < in->nsigs; k++)
        if (in->sig_indices[k - 1] >= in->sig_indices[k])
            return LX_EINVAL;
    /* the input, and its credential with its signatures */
    *size += IN_MIN + in->nsigs * 4 + CRED_MIN + in->nsigs * LX_SIG_LEN;
    return *size > LX_TX_MAX ? LX_ETOOBIG : LX_OK;
}

/* Copies outputs with their addresses (into pool) and sorts both. */
static lx_err canon_outs(lx_xout *dst, uint8_t **pool, const lx_xout *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
        size_t bytes = src[i].naddrs * LX_ADDR_LEN;
        if (bytes > 0) {
            memcpy(*pool, src[i].addrs, bytes);
            qsort(*pool, src[i].naddrs, LX_ADDR_LEN, addr_qsort);
            for (size_t k = 1; k < src[i].naddrs; k++)
                if (memcmp(*pool + (k - 1) * LX_ADDR_LEN, *pool + k * LX_ADDR_LEN, LX_ADDR_LEN) ==
                    0)
                    return LX_EINVAL;
        }
        dst[i].addrs = *pool;
        *pool += bytes;
    }
    if (n > 1)
        qsort(dst, n, sizeof *dst, out_qsort);
    return LX_OK;
}

static lx_err canon_ins(lx_xin *dst, const lx_xin *src, size_t n)
{
    if (n > 0)
        memcpy(dst, src, n * sizeof *dst);
    if (n > 1)
        qsort(dst, n, sizeof *dst, in_qsort);
    for (size_t i = 1; i < n; i++)
        if (in_cmp(&dst[i - 1], &dst[i]) == 0)
            return LX_EINVAL;
    return LX_OK;
}

lx_err lx_tx_build(lx_tx **tx, const lx_tx_spec *spec)
{
    if (tx == NULL)
        return LX_EINVAL;
    *tx = NULL;
    if (spec == NULL)
        return LX_EINVAL;
    const lx_tx_spec *s = spec;
    if (s->kind != LX_TX_BASE && s->kind != LX_TX_IMPORT && s->kind != LX_TX_EXPORT)
        return LX_EINVAL;
    size_t nx_outs = s->kind == LX_TX_EXPORT ? s->nxouts : 0;
    size_t nx_ins = s->kind == LX_TX_IMPORT ? s->nxins : 0;
    if ((s->kind != LX_TX_EXPORT && s->nxouts > 0) || (s->kind != LX_TX_IMPORT && s->nxins > 0))
        return LX_EINVAL;
    if ((s->kind == LX_TX_EXPORT && nx_outs == 0) || (s->kind == LX_TX_IMPORT && nx_ins == 0))
        return LX_EINVAL;
    if ((s->nouts > 0 && s->outs == NULL) || (s->nins > 0 && s->ins == NULL) ||
        (nx_outs > 0 && s->xouts == NULL) || (nx_ins > 0 && s->xins == NULL) ||
        (s->memo_len > 0 && s->memo == NULL))
        return LX_EINVAL;
    if (s->memo_len > LX_MEMO_MAX)
        return LX_ETOOBIG;
    size_t nouts = s->nouts + nx_outs, nins = s->nins + nx_ins;
    if (nouts > LX_TX_MAX / OUT_MIN || nins > LX_TX_MAX / IN_MIN)
        return LX_ETOOBIG;

    /* Sizes: unsigned part, then + credentials header. */
    size_t size = TX_HEAD + 4 + 4 + 4 + s->memo_len + 4;
    if (s->kind != LX_TX_BASE)
        size += LX_ID_LEN + 4;
    size_t naddrs = 0;
    lx_err err = LX_OK;
    for (size_t i = 0; i < nouts && err == LX_OK; i++) {
        const lx_xout *o = i < s->nouts ? &s->outs[i] : &s->xouts[i - s->nouts];
        err = check_out(o, &size);
        naddrs += o->naddrs;
    }
    for (size_t i = 0; i < nins && err == LX_OK; i++)
        err = check_in(i < s->nins ? &s->ins[i] : &s->xins[i - s->nins], &size);
    if (err != LX_OK)
        return err;

    lx_xout *outs = calloc(nouts + 1, sizeof *outs);
    lx_xin *ins = calloc(nins + 1, sizeof *ins);
    uint8_t *pool = malloc(naddrs * LX_ADDR_LEN + 1);
    uint8_t *buf = malloc(size);
    if (outs == NULL || ins == NULL || pool == NULL || buf == NULL) {
        err = LX_ENOMEM;
        goto out;
    }
    uint8_t *pp = pool;
    err = canon_outs(outs, &pp, s->outs, s->nouts);
    if (err == LX_OK)
        err = canon_outs(outs + s->nouts, &pp, s->xouts, nx_outs);
    if (err == LX_OK)
        err = canon_ins(ins, s->ins, s->nins);
    if (err == LX_OK)
        err = canon_ins(ins + s->nins, s->xins, nx_ins);
    if (err != LX_OK)
        goto out;

    uint8_t *p = put_be(buf, CODEC_VERSION, 2);
    p = put_be(p, (uint32_t)s->kind, 4);
    p = put_be(p, s->network_id, 4);
    p = put_bytes(p, s->blockchain_id, LX_ID_LEN);
    p = put_outs(p, outs, s->nouts);
    p = put_ins(p, ins, s->nins);
    p = put_be(p, s->memo_len, 4);
    p = put_bytes(p, s->memo, s->memo_len);
    if (s->kind == LX_TX_EXPORT) {
        p = put_bytes(p, s->other_chain, LX_ID_LEN);
        p = put_outs(p, outs + s->nouts, nx_outs);
    } else if (s->kind == LX_TX_IMPORT) {
        p = put_bytes(p, s->other_chain, LX_ID_LEN);
        p = put_ins(p, ins + s->nins, nx_ins);
    }
    size_t ulen = (size_t)(p - buf);
    LX_ASSERT(ulen <= size);
    /* Parse what was written: the object's views then come from one place,
     * and a built tx passes exactly the checks a decoded one does. */
    const char *why = NULL;
    err = tx_from_buf(tx, &why, buf, ulen, false);
    buf = NULL;
    LX_ASSERT(err != LX_EFORMAT && err != LX_ECANONICAL);
out:
    free(outs);
    free(ins);
    free(pool);
    free(buf);
    return err;
}

/* ---- access ---- */

const lx_tx_spec *lx_tx_view(const lx_tx *tx)
{
    return tx != NULL ? &tx->v : NULL;
}

size_t lx_tx_input_count(const lx_tx *tx)
{
    return tx != NULL ? tx->v.nins + tx->v.nxins : 0;
}

size_t lx_tx_sig_count(const lx_tx *tx, size_t input)
{
    if (tx == NULL || input >= lx_tx_input_count(tx))
        return 0;
    return tx->ins[input].nsigs;
}

size_t lx_tx_unsigned_len(const lx_tx *tx)
{
    return tx != NULL ? tx->ulen : 0;
}

size_t lx_tx_signed_len(const lx_tx *tx)
{
    if (tx == NULL)
        return 0;
    size_t nin = lx_tx_input_count(tx);
    return tx->ulen + 4 + nin * CRED_MIN + tx->nslots * LX_SIG_LEN;
}

lx_err lx_tx_encode_unsigned(const lx_tx *tx, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (tx == NULL || out == NULL || out_len == NULL || out_cap < tx->ulen)
        return LX_EINVAL;
    memcpy(out, tx->buf, tx->ulen);
    *out_len = tx->ulen;
    return LX_OK;
}

lx_err lx_tx_hash(const lx_tx *tx, uint8_t hash[LX_SHA256_LEN])
{
    if (tx == NULL || hash == NULL)
        return LX_EINVAL;
    return lx_sha256(hash, tx->buf, tx->ulen);
}

lx_err lx_tx_encode(const lx_tx *tx, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (tx == NULL || out == NULL || out_len == NULL || out_cap < lx_tx_signed_len(tx))
        return LX_EINVAL;
    if (!lx_tx_is_signed(tx))
        return LX_ESTATE;
    size_t nin = lx_tx_input_count(tx);
    uint8_t *p = put_bytes(out, tx->buf, tx->ulen);
    p = put_be(p, nin, 4);
    for (size_t i = 0; i < nin; i++) {
        size_t n = tx->ins[i].nsigs;
        p = put_be(p, LX_CREDENTIAL_TYPE, 4);
        p = put_be(p, n, 4);
        p = put_bytes(p, tx->sigs + tx->slot_base[i] * LX_SIG_LEN, n * LX_SIG_LEN);
    }
    *out_len = (size_t)(p - out);
    LX_ASSERT(*out_len == lx_tx_signed_len(tx));
    return LX_OK;
}

/* The index of slot (input, slot), or SIZE_MAX for a bad position. */
static size_t slot_of(const lx_tx *tx, size_t input, size_t slot)
{
    if (tx == NULL || input >= lx_tx_input_count(tx) || slot >= tx->ins[input].nsigs)
        return SIZE_MAX;
    return tx->slot_base[input] + slot;
}

lx_err lx_tx_set_sig(lx_tx *tx, size_t input, size_t slot, const uint8_t sig[LX_SIG_LEN])
{
    size_t k = slot_of(tx, input, slot);
    if (k == SIZE_MAX || sig == NULL)
        return LX_EINVAL;
    memcpy(tx->sigs + k * LX_SIG_LEN, sig, LX_SIG_LEN);
    tx->filled[k] = 1;
    return LX_OK;
}

lx_err lx_tx_get_sig(const lx_tx *tx, uint8_t sig[LX_SIG_LEN], size_t input, size_t slot)
{
    size_t k = slot_of(tx, input, slot);
    if (k == SIZE_MAX || sig == NULL)
        return LX_EINVAL;
    if (!tx->filled[k])
        return LX_ENOTFOUND;
    memcpy(sig, tx->sigs + k * LX_SIG_LEN, LX_SIG_LEN);
    return LX_OK;
}

/* ---- UTXOs ---- */

#define UTXO_HEAD (2 + LX_ID_LEN + 4)

void lx_utxo_free(lx_utxo **utxo)
{
    if (utxo == NULL || *utxo == NULL)
        return;
    free((*utxo)->buf);
    free(*utxo);
    *utxo = NULL;
}

/* Takes ownership of buf whatever the result. */
static lx_err utxo_from_buf(lx_utxo **utxo, const char **why, uint8_t *buf, size_t len)
{
    reader r = {.p = buf, .len = len, .err = LX_OK, .why = "ok"};
    lx_utxo *u = calloc(1, sizeof *u);
    if (u == NULL) {
        free(buf);
        return LX_ENOMEM;
    }
    u->buf = buf;
    u->len = len;
    if (rd_uint(&r, 2) != CODEC_VERSION && r.err == LX_OK)
        fail(&r, LX_EFORMAT, "unknown codec version");
    rd_copy(&r, u->v.tx_id, LX_ID_LEN);
    u->v.output_index = rd_u32(&r);
    if (r.err == LX_OK)
        rd_out(&r, &u->v.out);
    if (r.err == LX_OK && r.off != r.len)
        fail(&r, LX_EFORMAT, "trailing bytes");
    if (why != NULL)
        *why = r.why;
    if (r.err != LX_OK) {
        lx_utxo_free(&u);
        return r.err;
    }
    *utxo = u;
    return LX_OK;
}

lx_err lx_utxo_decode(lx_utxo **utxo, const char **why, const uint8_t *buf, size_t len)
{
    if (utxo != NULL)
        *utxo = NULL;
    uint8_t *copy = NULL;
    lx_err err = utxo == NULL ? LX_EINVAL : copy_input(&copy, why, buf, len);
    return err != LX_OK ? err : utxo_from_buf(utxo, why, copy, len);
}

lx_err lx_utxo_new(lx_utxo **utxo, const lx_xutxo *view)
{
    if (utxo == NULL)
        return LX_EINVAL;
    *utxo = NULL;
    if (view == NULL)
        return LX_EINVAL;
    size_t size = UTXO_HEAD;
    lx_err err = check_out(&view->out, &size);
    if (err != LX_OK)
        return err;
    uint8_t *pool = malloc(view->out.naddrs * LX_ADDR_LEN + 1);
    uint8_t *buf = malloc(size);
    lx_xout o;
    if (pool == NULL || buf == NULL) {
        err = LX_ENOMEM;
    } else {
        uint8_t *pp = pool;
        err = canon_outs(&o, &pp, &view->out, 1);
    }
    if (err == LX_OK) {
        uint8_t *p = put_be(buf, CODEC_VERSION, 2);
        p = put_bytes(p, view->tx_id, LX_ID_LEN);
        p = put_be(p, view->output_index, 4);
        p = put_out(p, &o);
        LX_ASSERT((size_t)(p - buf) == size);
        err = utxo_from_buf(utxo, NULL, buf, size);
        buf = NULL;
        LX_ASSERT(err != LX_EFORMAT && err != LX_ECANONICAL);
    }
    free(pool);
    free(buf);
    return err;
}

const lx_xutxo *lx_utxo_view(const lx_utxo *utxo)
{
    return utxo != NULL ? &utxo->v : NULL;
}

size_t lx_utxo_encoded_len(const lx_utxo *utxo)
{
    return utxo != NULL ? utxo->len : 0;
}

lx_err lx_utxo_encode(const lx_utxo *utxo, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (utxo == NULL || out == NULL || out_len == NULL || out_cap < utxo->len)
        return LX_EINVAL;
    memcpy(out, utxo->buf, utxo->len);
    *out_len = utxo->len;
    return LX_OK;
}
