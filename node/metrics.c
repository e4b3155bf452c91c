/* Node metrics: the acknowledgement latency histogram, the periodic metrics
 * log line and the atomically written status.json. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node_int.h"

static size_t bucket_of(uint64_t us)
{
    if (us < 64)
        return (size_t)us;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* 6 .. 63 */
    uint64_t sub = (us >> (e - 4)) & 15;
    size_t b = 64 + (size_t)(e - 6) * 16 + (size_t)sub;
    return b < LX__HIST_BUCKETS ? b : LX__HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket b. */
static uint64_t bucket_top(size_t b)
{
    if (b < 64)
        return b;
    unsigned e = (unsigned)((b - 64) / 16) + 6;
    uint64_t sub = (b - 64) % 16;
    return ((16 + sub + 1) << (e - 4)) - 1;
}

void lx__hist_add(lx__hist *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->n++;
}

uint64_t lx__hist_quantile(const lx__hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < LX__HIST_BUCKETS; b++) {
        seen += h->b[b];
        if (seen >= rank)
            return bucket_top(b);
    }
    return bucket_top(LX__HIST_BUCKETS - 1);
}

static uint64_t lag_of(const lx__node *n)
{
    if (n->is_leader)
        return 0;
    return n->leader_seq > n->seq ? n->leader_seq - n->seq : 0;
}

void lx__metrics_line(lx__node *n)
{
    lx__metrics *m = &n->m;
    lx__log(n,
            "metrics - Orders: %" PRIu64 ", Trades: %" PRIu64 ", Messages In: %" PRIu64
            ", Out: %" PRIu64 ", Seq: %" PRIu64 ", Lag: %" PRIu64 ", Ack p50/p99 us: %" PRIu64
            "/%" PRIu64,
            m->orders, m->trades, m->msgs_in, m->msgs_out, n->seq, lag_of(n),
            lx__hist_quantile(&m->ack_interval, 0.50), lx__hist_quantile(&m->ack_interval, 0.99));
    memset(&m->ack_interval, 0, sizeof m->ack_interval);
}

void lx__write_status(lx__node *n)
{
    char path[LX__PATH_MAX + 32], tmp[LX__PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/status.json", n->cfg.data_dir);
    snprintf(tmp, sizeof tmp, "%s/.status.json.tmp", n->cfg.data_dir);
    char hash[2 * LX_STATE_HASH_LEN + 1];
    lx__hex(hash, n->hash, LX_STATE_HASH_LEN);
    const lx__metrics *m = &n->m;
    char settle[512];
    int sl = lx__settle_status(n, settle, sizeof settle);
    if (sl <= 0 || (size_t)sl >= sizeof settle)
        snprintf(settle, sizeof settle, "null");
    char body[2048];
    int len = snprintf(
        body, sizeof body,
        "{\"node\":\"%s\",\"role\":\"%s\",\"term\":%" PRIu64 ",\"seq\":%" PRIu64
        ",\"state_hash\":\"%s\",\"orders\":%" PRIu64 ",\"trades\":%" PRIu64 ",\"msgs_in\":%" PRIu64
        ",\"msgs_out\":%" PRIu64 ",\"lag\":%" PRIu64 ",\"hash_mismatches\":%" PRIu64
        ",\"replies_dropped\":%" PRIu64 ",\"bad_frames\":%" PRIu64 ",\"ack_p50_us\":%" PRIu64
        ",\"ack_p99_us\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"block_entries\":%" PRIu64
        ",\"commit_p50_us\":%" PRIu64 ",\"commit_p99_us\":%" PRIu64 ",\"direct_syncs\":%" PRIu64
        ",\"curve\":%s,\"curve_refused\":%" PRIu64 ",\"leader\":\"%s\",\"commit_seq\":%" PRIu64
        ",\"ack_quorum\":\"%s\",\"stale_refused\":%" PRIu64 ",\"forwards_held\":%" PRIu64
        ",\"forwards_dropped\":%" PRIu64 ",\"forwards_unknown\":%" PRIu64
        ",\"state_syncs\":%" PRIu64 ",\"cluster\":\"%s\",\"foreign_refused\":%" PRIu64
        ",\"market_data\":%s,\"settle\":%s,\"pid\":%ld}\n",
        n->cfg.node_id, lx__role_name(n), n->term, n->seq, hash, m->orders, m->trades, m->msgs_in,
        m->msgs_out, lag_of(n), m->hash_mismatches, m->replies_dropped, m->bad_frames,
        lx__hist_quantile(&m->ack_total, 0.50), lx__hist_quantile(&m->ack_total, 0.99), m->blocks,
        m->block_entries, lx__hist_quantile(&m->commit_total, 0.50),
        lx__hist_quantile(&m->commit_total, 0.99), m->direct_syncs, n->auth ? "true" : "false",
        lx__auth_refused(n->auth), n->is_leader ? n->cfg.node_id : n->leader_id, n->commit_seq,
        n->cfg.ack_majority ? "majority" : "local", n->stale_refused, n->parked, n->park_dropped,
        lx__replica_unknown(), lx__ss_installed(), n->cfg.cluster_id, n->foreign_refused,
        n->md_on ? "true" : "false", settle, (long)getpid());
    if (len <= 0 || (size_t)len >= sizeof body)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        lx__log(n, "cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    ssize_t w = write(fd, body, (size_t)len);
    close(fd);
    /* Readers see the old file or the new one, never half of one. No fsync:
     * status.json is a view of the state, rebuilt at every start. */
    if (w != len || rename(tmp, path) != 0) {
        lx__log(n, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}
