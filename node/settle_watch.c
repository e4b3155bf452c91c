/* The leader's deposit watcher: a thread that lists the channel's UTXOs on
 * the X-Chain every period, reads the memo of each new UTXO's tx, and hands
 * the main thread what it saw; and the deposit memo format
 * (docs/settlement.md, "Deposits"). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settle_int.h"

#define CACHE_MAX 65536 /* txs whose memo is remembered */

typedef struct memo_class {
    uint8_t tx_id[32];
    int settlement;
    int has_account;
    uint64_t account;
} memo_class;

struct lx__watch {
    char rpc_url[LX__PATH_MAX];
    char owner[LX_ADDR_STR_MAX]; /* the first owner's address, to list UTXOs */
    lx__channel_cfg ch;
    uint32_t period_ms;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    /* the latest scan, for the main thread */
    lx__chain_utxo *out;
    size_t nout;
    int fresh;
    /* the thread's own */
    memo_class *cache;
    size_t ncache;
};

lx_err lx__deposit_memo_parse(uint64_t *account, const uint8_t *memo, size_t len)
{
    static const char tag[] = LX__DEPOSIT_MEMO_TAG " ";
    size_t tl = sizeof tag - 1;
    if (!account || (!memo && len))
        return LX_EINVAL;
    if (len <= tl || memcmp(memo, tag, tl) != 0 || len - tl > 20)
        return LX_EFORMAT;
    const uint8_t *p = memo + tl, *end = memo + len;
    if (*p == '0' && end - p > 1)
        return LX_EFORMAT; /* no leading zeros: one memo per account */
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return LX_EFORMAT;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return LX_EFORMAT;
        v = v * 10 + d;
    }
    *account = v;
    return LX_OK;
}

static int channel_owned(const lx__channel_cfg *ch, const lx_xout *o)
{
    return o->threshold == ch->threshold && o->naddrs == ch->nowners &&
           memcmp(o->addrs, ch->owners, ch->nowners * LX_XADDR_LEN) == 0;
}

/* The memo class of a tx, from the cache or getTx. LX_OK or the RPC's error
 * (the UTXO is then left for the next scan). */
static lx_err classify(lx__watch *w, lx_rpc *rpc, memo_class *out, const uint8_t tx_id[32])
{
    for (size_t i = 0; i < w->ncache; i++)
        if (memcmp(w->cache[i].tx_id, tx_id, 32) == 0) {
            *out = w->cache[i];
            return LX_OK;
        }
    lx_rpc_blob blob = {NULL, 0};
    lx_err rc = lx_rpc_get_tx(rpc, &blob, tx_id);
    if (rc != LX_OK)
        return rc;
    lx_tx *tx = NULL;
    const char *why = NULL;
    memset(out, 0, sizeof *out);
    memcpy(out->tx_id, tx_id, 32);
    if (lx_tx_decode(&tx, &why, blob.bytes, blob.len) == LX_OK) {
        const lx_tx_spec *v = lx_tx_view(tx);
        uint64_t number;
        uint8_t hash[32];
        if (lx_settle_memo_parse(&number, hash, v->memo, v->memo_len) == LX_OK)
            out->settlement = 1;
        else if (lx__deposit_memo_parse(&out->account, v->memo, v->memo_len) == LX_OK)
            out->has_account = 1;
    }
    lx_tx_free(&tx);
    lx_rpc_blob_free(&blob);
    if (w->ncache == CACHE_MAX)
        w->ncache = 0; /* forget all: they are fetched again if still unspent */
    w->cache[w->ncache++] = *out;
    return LX_OK;
}

static void scan(lx__watch *w, lx_rpc *rpc)
{
    lx_rpc_utxos list = {NULL, 0};
    const char *addrs[1] = {w->owner};
    if (lx_rpc_get_utxos(rpc, &list, addrs, 1, NULL) != LX_OK)
        return;
    lx__chain_utxo *v = calloc(list.n ? list.n : 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v && i < list.n; i++) {
        lx_utxo *u = NULL;
        const char *why = NULL;
        if (lx_utxo_decode(&u, &why, list.v[i].bytes, list.v[i].len) != LX_OK)
            continue; /* not a transfer output the codec knows */
        const lx_xutxo *x = lx_utxo_view(u);
        if (channel_owned(&w->ch, &x->out)) {
            memo_class mc;
            if (classify(w, rpc, &mc, x->tx_id) == LX_OK) {
                lx__chain_utxo *c = &v[k++];
                memcpy(c->tx_id, x->tx_id, 32);
                c->index = x->output_index;
                memcpy(c->asset_id, x->out.asset_id, 32);
                c->amount = x->out.amount;
                c->locktime = x->out.locktime;
                c->settlement = mc.settlement;
                c->has_account = mc.has_account;
                c->account = mc.account;
            } /* else: left for the next scan */
        }
        lx_utxo_free(&u);
    }
    lx_rpc_utxos_free(&list);
    pthread_mutex_lock(&w->mu);
    free(w->out);
    w->out = v;
    w->nout = k;
    w->fresh = v != NULL;
    pthread_mutex_unlock(&w->mu);
}

static void *watch_main(void *arg)
{
    lx__watch *w = arg;
    lx_rpc *rpc = NULL;
    lx_rpc_options o;
    lx_rpc_options_init(&o);
    o.retry_deadline_ms = 5000;
    int ok = lx_rpc_new(&rpc, w->rpc_url, &o) == LX_OK;
    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        pthread_mutex_unlock(&w->mu);
        if (ok)
            scan(w, rpc);
        pthread_mutex_lock(&w->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += w->period_ms / 1000;
        ts.tv_nsec += (long)(w->period_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!w->quit && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&w->mu);
    lx_rpc_free(&rpc);
    return NULL;
}

lx_err lx__watch_start(lx__watch **out, const char *rpc_url, const lx__channel_cfg *ch,
                       uint32_t period_ms)
{
    if (!out || !rpc_url || !ch || period_ms == 0)
        return LX_EINVAL;
    lx__watch *w = calloc(1, sizeof *w);
    if (!w)
        return LX_ENOMEM;
    snprintf(w->rpc_url, sizeof w->rpc_url, "%s", rpc_url);
    w->ch = *ch;
    w->period_ms = period_ms;
    w->cache = calloc(CACHE_MAX, sizeof *w->cache);
    lx_err rc = w->cache ? lx_address_encode(w->owner, sizeof w->owner, "X", ch->hrp, ch->owners)
                         : LX_ENOMEM;
    if (rc == LX_OK) {
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->th, NULL, watch_main, w) != 0) {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
            rc = LX_ENOMEM;
        }
    }
    if (rc != LX_OK) {
        free(w->cache);
        free(w);
        return rc;
    }
    *out = w;
    return LX_OK;
}

int lx__watch_take(lx__watch *w, lx__chain_utxo **v, size_t *n)
{
    *v = NULL;
    *n = 0;
    pthread_mutex_lock(&w->mu);
    int fresh = w->fresh;
    if (fresh) {
        *v = w->out;
        *n = w->nout;
        w->out = NULL;
        w->nout = 0;
        w->fresh = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return fresh;
}

void lx__watch_stop(lx__watch **p)
{
    lx__watch *w = p ? *p : NULL;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->out);
    free(w->cache);
    free(w);
    *p = NULL;
}
