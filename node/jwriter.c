/* The journal writer thread: owns the node's journal, appends the blocks the
 * main thread hands it, group-commits them (one lx_journal_sync for all the
 * blocks that queued up while the previous sync ran), passes snapshots whose
 * block is synced on to the snapshot writer thread (which makes the
 * settlement files they rely on durable, writes them and compacts the
 * journal behind them), and reads blocks, snapshots and settlement files
 * back for gap requests, state sync and the peers that fetch those files.
 * Messages go over an inproc PAIR. The main thread's side is at the end:
 * what it does with the thread's messages, and the direct appends that skip
 * the thread. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal_int.h"
#include "logio.h"
#include "node_int.h"
#include "settle_int.h"

/* Snapshots waiting for the writer; one more is skipped (logged). */
#define SNAP_QUEUE 4u
/* Segment files a compaction removes at once (the rest go at the next). */
#define CLOSE_MAX 64u

/* A snapshot being served to peers. */
#define SERVED_MAX 2u
typedef struct served_snap {
    lx_snapshot_meta meta;
    uint8_t *bytes; /* the engine bytes, then the settlement section; NULL: an empty slot */
    size_t len;
    size_t settle_len; /* of len */
    uint32_t crc;
    uint64_t used; /* served_clock when last used */
} served_snap;

struct lx__jw {
    lx_zsock *main_end, *thread_end;
    lx_journal *j;
    char data_dir[LX__PATH_MAX];
    char node_id[LX__NODE_ID_MAX + 1];
    uint8_t cluster_tag[LX__CLUSTER_TAG_LEN];
    pthread_t thread;
    int started;
    int failed;
    uint8_t *buf; /* gap responses and snapshot parts are built here */
    uint8_t *list;
    uint64_t compact_limit;         /* highest seq compaction may remove; 0: none */
    size_t part_bytes;              /* engine bytes per SNAP_PART */
    served_snap served[SERVED_MAX]; /* read once for all their parts */
    uint64_t served_clock;
    /* blocks after a served snapshot stay for the follower that fetches
     * them next, until pin_until_us */
    uint64_t pin_seq, pin_until_us;
    uint64_t files_synced; /* settlement batches whose files are durable */
    /* The main thread may append and sync itself (lx__jw_append_direct)
     * while it holds mu, nothing waits in the queue and syncs are cheap. */
    pthread_mutex_t mu;       /* held by whoever uses j */
    _Atomic unsigned queued;  /* messages sent to the thread, not yet handled */
    _Atomic uint64_t sync_ns; /* moving average of lx_journal_sync's time */
    uint64_t direct_max_ns;   /* syncs above this average go to the thread; 0: all do */

    /* The snapshot writer: a thread that writes each snapshot, prunes the
     * old ones and compacts the journal behind them, so that the journal
     * thread goes on syncing blocks meanwhile (on tmpfs the three took 10
     * to 100 ms for a 3-12 MB snapshot, and every block waited). Its 'C'
     * reports go over snap_end to snap_in, and the journal thread passes
     * them on to the main thread. */
    pthread_t snap_thread;
    int snap_started;
    pthread_mutex_t snap_mu;  /* guards the queue, the counts and snap_quit */
    pthread_cond_t snap_cv;   /* a snapshot queued, or snap_quit */
    pthread_cond_t snap_done; /* one more written */
    lx__jw_snap snap_q[SNAP_QUEUE];
    unsigned snap_head, snap_n;
    uint64_t snaps_queued, snaps_written; /* written: on disk and pruned, or failed */
    int snap_quit;
    lx_zsock *snap_end, *snap_in;
    uint64_t snap_delay_ms; /* tests: LX_TEST_SNAP_WRITE_DELAY_MS */
};

#define PIN_US 30000000u

static void send_err(lx__jw *w, lx_err rc, const char *what)
{
    uint8_t msg[160];
    msg[0] = 'E';
    lx__put_u32(msg + 1, (uint32_t)rc);
    int n = snprintf((char *)msg + 5, sizeof msg - 5, "%s: %s", what, lx_strerror(rc));
    size_t len = 5 + (n > 0 ? (size_t)n : 0);
    if (len > sizeof msg - 1)
        len = sizeof msg - 1;
    lx_zpart part = {msg, len};
    lx_zsock_send(w->thread_end, &part, 1, 0);
    w->failed = 1;
}

static void send_synced(lx__jw *w)
{
    uint8_t msg[9];
    msg[0] = 'Y';
    lx__put_u64(msg + 1, lx_journal_synced_seq(w->j));
    lx_zpart part = {msg, sizeof msg};
    lx_zsock_send(w->thread_end, &part, 1, 0);
}

/* lx_journal_sync, timed into the moving average (an eighth of each new
 * time). The caller holds mu. */
static lx_err timed_sync(lx__jw *w)
{
    uint64_t t0 = lx_now_ns();
    lx_err rc = lx_journal_sync(w->j);
    uint64_t d = lx_now_ns() - t0;
    uint64_t avg = atomic_load_explicit(&w->sync_ns, memory_order_relaxed);
    avg = d >= avg ? avg + (d - avg) / 8 : avg - (avg - d) / 8;
    atomic_store_explicit(&w->sync_ns, avg, memory_order_relaxed);
    return rc;
}

static int sync_now(lx__jw *w)
{
    lx_err rc = timed_sync(w);
    if (rc != LX_OK) {
        send_err(w, rc, "journal sync");
        return 0;
    }
    send_synced(w);
    return 1;
}

/* Answers a read with a GAP_RESP peer message for the main thread to send:
 * the durable blocks from `from`, up to `to`, within the size bounds. */
static void serve_read(lx__jw *w, uint32_t slot, uint64_t from, uint64_t to)
{
    uint64_t synced = lx_journal_synced_seq(w->j);
    uint64_t first = lx_journal_first_seq(w->j);
    size_t off = 0;
    uint16_t count = 0;
    if (to > synced)
        to = synced;
    if (first && from < first)
        from = first; /* compacted away: the follower must resync from a snapshot */
    for (uint64_t s = from; first && s <= to && count < LX__GAP_BLOCKS_MAX; s++) {
        const uint8_t *data;
        size_t len;
        if (lx_journal_read(w->j, &data, &len, s) != LX_OK)
            break;
        if (count > 0 && off + 4 + len > LX__GAP_BYTES_SOFT)
            break;
        if (lx__peer_list_put(w->list, LX__PEER_MSG_MAX - 256, &off, data, len) != LX_OK)
            break;
        count++;
    }
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_GAP_RESP;
    snprintf(m.from, sizeof m.from, "%s", w->node_id);
    memcpy(m.cluster, w->cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.gap_resp.leader_last = synced;
    m.u.gap_resp.count = count;
    m.u.gap_resp.list = w->list;
    m.u.gap_resp.list_len = off;
    size_t n;
    w->buf[0] = 'G';
    lx__put_u32(w->buf + 1, slot);
    if (lx__peer_encode(w->buf + 5, LX__PEER_MSG_MAX, &n, &m) != LX_OK)
        return;
    lx_zpart part = {w->buf, n + 5};
    lx_zsock_send(w->thread_end, &part, 1, 0);
}

/* After a snapshot, on the snapshot writer: removes the journal segments
 * whose blocks the older of the two kept snapshots covers (never past
 * compact_limit), so that recovery can still fall back to it; with one
 * snapshot nothing goes. For PIN_US after a snapshot was served, nothing
 * after it goes either: the follower that installs it asks for those
 * blocks next. The journal is changed under mu; the removed files are
 * closed, which frees their blocks, after it. Reports to the main thread
 * (through the journal thread): 'C' be64 bound, be64 segments removed, be64
 * first seq, be32 lx_err. */
static void compact(lx__jw *w)
{
    char dir[LX__PATH_MAX + 16];
    uint64_t *seqs = NULL;
    size_t n = 0;
    if (lx__path(dir, sizeof dir, w->data_dir, "snapshots") != LX_OK ||
        lx__list_seq_files(&seqs, &n, dir, ".snap") != LX_OK)
        return;
    uint64_t bound = n >= 2 ? seqs[n - 2] : 0;
    free(seqs);
    int fds[CLOSE_MAX];
    size_t nfds = 0;
    uint64_t removed = 0, first = 0;
    lx_err rc = LX_OK;
    pthread_mutex_lock(&w->mu);
    if (!w->compact_limit || w->failed)
        bound = 0;
    if (bound > w->compact_limit)
        bound = w->compact_limit;
    if (w->pin_until_us && lx_now_us() < w->pin_until_us && bound > w->pin_seq)
        bound = w->pin_seq;
    if (bound) {
        rc = lx_journal_compact_fds(w->j, &removed, bound, fds, CLOSE_MAX, &nfds);
        first = lx_journal_first_seq(w->j);
    }
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < nfds; i++)
        close(fds[i]);
    if (bound == 0 || (rc == LX_OK && removed == 0))
        return;
    uint8_t msg[1 + 8 + 8 + 8 + 4];
    msg[0] = 'C';
    lx__put_u64(msg + 1, bound);
    lx__put_u64(msg + 9, removed);
    lx__put_u64(msg + 17, first);
    lx__put_u32(msg + 25, (uint32_t)rc);
    lx_zpart part = {msg, sizeof msg};
    lx_zsock_send(w->snap_end, &part, 1, 0);
}

static void served_drop(served_snap *v)
{
    free(v->bytes);
    memset(v, 0, sizeof *v);
}

/* The cached snapshot at seq (0: the newest valid one on disk), reading it
 * into the least recently used slot if needed; NULL if there is none. */
static served_snap *served_get(lx__jw *w, uint64_t seq)
{
    uint8_t *bytes, *settle;
    size_t len, settle_len;
    lx_snapshot_meta meta;
    served_snap *v = NULL;
    for (unsigned i = 0; i < SERVED_MAX && seq; i++)
        if (w->served[i].bytes && w->served[i].meta.seq == seq)
            v = &w->served[i];
    if (!v) {
        if (lx_snapshot_load(&meta, &bytes, &len, &settle, &settle_len, NULL, w->data_dir,
                             seq ? seq : UINT64_MAX) != LX_OK)
            return NULL;
        uint8_t *all = NULL;
        if ((seq && meta.seq != seq) || len == 0 || len + settle_len > LX__SNAP_BYTES_MAX ||
            !(all = realloc(bytes, len + settle_len))) {
            free(bytes);
            free(settle);
            return NULL;
        }
        if (settle_len)
            memcpy(all + len, settle, settle_len);
        free(settle);
        for (unsigned i = 0; i < SERVED_MAX; i++)
            if (w->served[i].bytes && w->served[i].meta.seq == meta.seq)
                served_drop(&w->served[i]); /* read again: the newest may be rewritten */
        v = &w->served[0];
        for (unsigned i = 1; i < SERVED_MAX; i++)
            if (w->served[i].used < v->used)
                v = &w->served[i];
        served_drop(v);
        v->meta = meta;
        v->bytes = all;
        v->len = len + settle_len;
        v->settle_len = settle_len;
        v->crc = lx__crc32c(0, all, v->len);
    }
    v->used = ++w->served_clock;
    return v;
}

/* Answers a state sync read with a SNAP_PART for the main thread to send
 * ('N', be32 slot, peer message): the bytes from offset of the snapshot at
 * seq (0: the newest valid one), its engine bytes then its settlement
 * section, or a part with seq 0 when there is none. The main thread stamps its own hash for the seq
 * into it. Up to SERVED_MAX snapshots stay read for peers fetching them at once. */
static void serve_snap(lx__jw *w, uint32_t slot, uint64_t seq, uint64_t offset)
{
    served_snap *v = served_get(w, seq);
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_SNAP_PART;
    snprintf(m.from, sizeof m.from, "%s", w->node_id);
    memcpy(m.cluster, w->cluster_tag, LX__CLUSTER_TAG_LEN);
    int last = 0;
    if (v && offset < v->len) {
        size_t n = v->len - (size_t)offset;
        if (n > w->part_bytes)
            n = w->part_bytes;
        m.u.snap_part.seq = v->meta.seq;
        m.u.snap_part.next_index = v->meta.next_index;
        m.u.snap_part.state_hash = v->meta.state_hash;
        m.u.snap_part.total = v->len;
        m.u.snap_part.settle_len = v->settle_len;
        m.u.snap_part.crc = v->crc;
        m.u.snap_part.offset = offset;
        m.u.snap_part.data = v->bytes + offset;
        m.u.snap_part.data_len = (uint32_t)n;
        last = offset + n == v->len;
        /* The lowest seq served within PIN_US stays pinned. */
        uint64_t now = lx_now_us();
        if (now >= w->pin_until_us || v->meta.seq < w->pin_seq)
            w->pin_seq = v->meta.seq;
        w->pin_until_us = now + PIN_US;
    }
    size_t n;
    w->buf[0] = 'N';
    lx__put_u32(w->buf + 1, slot);
    if (lx__peer_encode(w->buf + 5, LX__PEER_MSG_MAX, &n, &m) == LX_OK) {
        lx_zpart part = {w->buf, n + 5};
        lx_zsock_send(w->thread_end, &part, 1, 0);
    }
    /* A part asked for again after the last reads the file again. */
    if (last)
        served_drop(v);
}

/* fsyncs the settlement files of batches [from, to] not synced yet (a
 * missing file is skipped: a batch closed before a state sync has none
 * until they are fetched), then their folder. */
static lx_err sync_settle_files(lx__jw *w, uint64_t from, uint64_t to)
{
    static const char *const ext[] = {".batch", ".json", ".times"};
    if (from <= w->files_synced)
        from = w->files_synced + 1;
    if (from > to || to == 0)
        return LX_OK;
    char path[LX__PATH_MAX + 64];
    for (uint64_t k = from; k <= to; k++)
        for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
            if (lx__settle_path(path, sizeof path, w->data_dir, k, ext[i]) != LX_OK)
                return LX_ETOOBIG;
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                if (errno == ENOENT)
                    continue;
                return LX_EIO;
            }
            int rc = fsync(fd);
            close(fd);
            if (rc != 0)
                return LX_EIO;
        }
    char dir[LX__PATH_MAX + 16];
    lx_err rc = lx__path(dir, sizeof dir, w->data_dir, "settle");
    if (rc == LX_OK)
        rc = lx__fsync_dir(dir);
    if (rc == LX_OK)
        w->files_synced = to;
    return rc;
}

/* Answers a settlement file read with a BATCH_PART for the main thread to
 * send ('G', be32 slot, peer message): the bytes from offset of the file of
 * kind of batch number, or total 0 when there is no such file here. */
static void serve_batch_file(lx__jw *w, uint32_t slot, uint64_t number, uint8_t kind,
                             uint64_t offset)
{
    static const char *const ext[] = {".batch", ".json", ".times"};
    char path[LX__PATH_MAX + 64];
    lx__peer_msg m;
    memset(&m, 0, sizeof m);
    m.type = LX__P_BATCH_PART;
    snprintf(m.from, sizeof m.from, "%s", w->node_id);
    memcpy(m.cluster, w->cluster_tag, LX__CLUSTER_TAG_LEN);
    m.u.batch_part.number = number;
    m.u.batch_part.kind = kind;
    uint8_t *data = NULL;
    int fd = -1;
    struct stat st;
    if (kind <= LX__BATCH_FILE_TIMES &&
        lx__settle_path(path, sizeof path, w->data_dir, number, ext[kind]) == LX_OK &&
        (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) && (uint64_t)st.st_size <= LX__BATCH_FILE_MAX &&
        offset < (uint64_t)st.st_size) {
        size_t n = (size_t)((uint64_t)st.st_size - offset);
        if (n > w->part_bytes)
            n = w->part_bytes;
        if ((data = malloc(n)) && lx__read_all(fd, data, n, offset) == LX_OK) {
            m.u.batch_part.total = (uint64_t)st.st_size;
            m.u.batch_part.offset = offset;
            m.u.batch_part.data = data;
            m.u.batch_part.data_len = (uint32_t)n;
        }
    }
    if (fd >= 0)
        close(fd);
    size_t n;
    w->buf[0] = 'G';
    lx__put_u32(w->buf + 1, slot);
    if (lx__peer_encode(w->buf + 5, LX__PEER_MSG_MAX, &n, &m) == LX_OK) {
        lx_zpart part = {w->buf, n + 5};
        lx_zsock_send(w->thread_end, &part, 1, 0);
    }
    free(data);
}

void lx__jw_snap_release(lx__jw_snap *s)
{
    if (s->lent)
        atomic_store_explicit(s->lent, 0, memory_order_release);
    else
        free(s->engine);
    free(s->settle);
    s->engine = s->settle = NULL;
    s->lent = NULL;
}

/* On the snapshot writer, which holds s's lent buffer: faults in its
 * pages up to twice this snapshot's length (those already in cost next to
 * nothing), so that the next snapshot finds them there. Faulting them in
 * as the main thread first wrote them cost it 0.2 to 2.2 ms per MB on the
 * test machine. */
static void prefault_lent(const lx__jw_snap *s)
{
    if (!s->lent)
        return;
    size_t upto = (2 * s->len + LX__BIG_PAGE - 1) & ~(LX__BIG_PAGE - 1);
    lx__big_prefault(s->engine, upto < s->cap ? upto : s->cap);
}

/* On the snapshot writer: writes the snapshot s (whose blocks are
 * durable), then prunes and compacts behind it; snaps_written counts it
 * before the compaction, which waits for the journal's lock. */
static void write_snap(lx__jw *w, const lx__jw_snap *s)
{
    if (w->snap_delay_ms) {
        struct timespec ts = {(time_t)(w->snap_delay_ms / 1000),
                              (long)(w->snap_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    lx_err rc = sync_settle_files(w, s->files_from, s->files_to);
    if (rc == LX_OK)
        rc = lx_snapshot_write(w->data_dir, &s->meta, s->engine, s->len, s->settle, s->settle_len);
    if (rc == LX_OK)
        lx_snapshot_prune(w->data_dir, 2);
    pthread_mutex_lock(&w->snap_mu);
    w->snaps_written++;
    pthread_cond_broadcast(&w->snap_done);
    pthread_mutex_unlock(&w->snap_mu);
    if (rc == LX_OK) {
        compact(w);
        prefault_lent(s);
    } else {
        fprintf(stderr, "%s snapshot at seq %llu failed: %s\n", w->node_id,
                (unsigned long long)s->meta.seq, lx_strerror(rc));
    }
}

/* Hands s to the snapshot writer; 0 if its queue is full (s stays the
 * caller's). */
static int snap_queue(lx__jw *w, const lx__jw_snap *s)
{
    pthread_mutex_lock(&w->snap_mu);
    int ok = w->snap_n < SNAP_QUEUE;
    if (ok) {
        w->snap_q[(w->snap_head + w->snap_n) % SNAP_QUEUE] = *s;
        w->snap_n++;
        w->snaps_queued++;
        pthread_cond_signal(&w->snap_cv);
    }
    pthread_mutex_unlock(&w->snap_mu);
    return ok;
}

/* Waits until every snapshot handed to the writer is on disk, so that a
 * state sync read that follows one serves it. The caller holds mu: it is
 * let go meanwhile, as the writer may be compacting behind an earlier
 * snapshot (main cannot take it: this message still counts in queued). */
static void snap_written(lx__jw *w)
{
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_lock(&w->snap_mu);
    while (w->snaps_written < w->snaps_queued)
        pthread_cond_wait(&w->snap_done, &w->snap_mu);
    pthread_mutex_unlock(&w->snap_mu);
    pthread_mutex_lock(&w->mu);
}

/* The snapshot writer: the queue in order, then (snap_quit) what is left. */
static void *snap_run(void *arg)
{
    lx__jw *w = arg;
    pthread_mutex_lock(&w->snap_mu);
    for (;;) {
        while (w->snap_n == 0 && !w->snap_quit)
            pthread_cond_wait(&w->snap_cv, &w->snap_mu);
        if (w->snap_n == 0)
            break;
        lx__jw_snap s = w->snap_q[w->snap_head];
        pthread_mutex_unlock(&w->snap_mu);
        write_snap(w, &s);
        lx__jw_snap_release(&s);
        pthread_mutex_lock(&w->snap_mu);
        w->snap_head = (w->snap_head + 1) % SNAP_QUEUE;
        w->snap_n--;
    }
    pthread_mutex_unlock(&w->snap_mu);
    return NULL;
}

/* Handles one message; returns 0 on quit. *dirty is set by appends. */
static int handle(lx__jw *w, const lx_zmsg *m, int *dirty)
{
    if (m->n != 1 || m->part[0].len < 1)
        return 1;
    const uint8_t *p = m->part[0].data;
    size_t len = m->part[0].len;
    switch (p[0]) {
    case 'A':
        if (!w->failed) {
            lx_err rc = lx_journal_append(w->j, p + 1, len - 1);
            if (rc != LX_OK)
                send_err(w, rc, "journal append");
            else
                *dirty = 1;
        }
        return 1;
    case 'P': {
        /* A block the main thread keeps alive until we report it synced. */
        const uint8_t *block;
        size_t blen;
        if (len != 1 + sizeof block + sizeof blen)
            return 1;
        memcpy(&block, p + 1, sizeof block);
        memcpy(&blen, p + 1 + sizeof block, sizeof blen);
        if (!w->failed) {
            lx_err rc = lx_journal_append(w->j, block, blen);
            if (rc != LX_OK)
                send_err(w, rc, "journal append");
            else
                *dirty = 1;
        }
        return 1;
    }
    case 'S': {
        lx__jw_snap s;
        if (len != 1 + sizeof s)
            return 1;
        memcpy(&s, p + 1, sizeof s);
        if (!w->failed && *dirty && sync_now(w))
            *dirty = 0;
        if (!w->failed && s.meta.seq <= lx_journal_synced_seq(w->j)) {
            if (snap_queue(w, &s))
                return 1; /* the writer releases it */
            fprintf(stderr, "%s snapshot at seq %llu skipped: %u still being written\n", w->node_id,
                    (unsigned long long)s.meta.seq, SNAP_QUEUE);
        }
        lx__jw_snap_release(&s);
        return 1;
    }
    case 'R':
        if (len == 1 + 4 + 16 && !w->failed) {
            if (*dirty && sync_now(w))
                *dirty = 0;
            serve_read(w, lx__get_u32(p + 1), lx__get_u64(p + 5), lx__get_u64(p + 13));
        }
        return 1;
    case 'N':
        if (len == 1 + 4 + 16 && !w->failed) {
            snap_written(w);
            serve_snap(w, lx__get_u32(p + 1), lx__get_u64(p + 5), lx__get_u64(p + 13));
        }
        return 1;
    case 'B':
        if (len == 1 + 4 + 8 + 1 + 8 && !w->failed)
            serve_batch_file(w, lx__get_u32(p + 1), lx__get_u64(p + 5), p[13], lx__get_u64(p + 14));
        return 1;
    case 'K':
        if (len == 1 + 8)
            w->compact_limit = lx__get_u64(p + 1);
        return 1;
    case 'Q':
        return 0;
    default:
        return 1;
    }
}

static void *run(void *arg)
{
    lx__jw *w = arg;
    int live = 1;
    while (live) {
        lx_zpollitem it[2] = {{w->thread_end, 0, LX_ZPOLLIN, 0}, {w->snap_in, 0, LX_ZPOLLIN, 0}};
        int ready = 0;
        lx_err rc = lx_zpoll(&ready, it, 2, -1);
        if (rc == LX_EAGAIN)
            continue;
        if (rc != LX_OK)
            break;
        lx_zmsg m;
        /* The snapshot writer's reports go on to the main thread. */
        while ((it[1].revents & LX_ZPOLLIN) &&
               lx_zsock_recv(w->snap_in, &m, LX_ZDONTWAIT) == LX_OK) {
            if (m.n == 1)
                lx_zsock_send(w->thread_end, &m.part[0], 1, 0);
            lx_zmsg_close(&m);
        }
        if (!(it[0].revents & LX_ZPOLLIN))
            continue;
        rc = lx_zsock_recv(w->thread_end, &m, LX_ZDONTWAIT);
        if (rc == LX_EAGAIN)
            continue;
        if (rc != LX_OK)
            break;
        int dirty = 0;
        pthread_mutex_lock(&w->mu);
        live = handle(w, &m, &dirty);
        lx_zmsg_close(&m);
        atomic_fetch_sub(&w->queued, 1);
        /* Everything that queued up while we were busy joins this group. */
        while (live && lx_zsock_recv(w->thread_end, &m, LX_ZDONTWAIT) == LX_OK) {
            live = handle(w, &m, &dirty);
            lx_zmsg_close(&m);
            atomic_fetch_sub(&w->queued, 1);
        }
        if (dirty && !w->failed)
            sync_now(w);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_lock(&w->mu);
    if (!w->failed)
        lx_journal_sync(w->j);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Lets the snapshot writer finish its queue and waits for it; closes its
 * sockets. */
static void snap_stop(lx__jw *w)
{
    if (w->snap_started) {
        pthread_mutex_lock(&w->snap_mu);
        w->snap_quit = 1;
        pthread_cond_signal(&w->snap_cv);
        pthread_mutex_unlock(&w->snap_mu);
        pthread_join(w->snap_thread, NULL);
        w->snap_started = 0;
    }
    lx_zsock_free(&w->snap_end);
    lx_zsock_free(&w->snap_in);
    pthread_cond_destroy(&w->snap_cv);
    pthread_cond_destroy(&w->snap_done);
    pthread_mutex_destroy(&w->snap_mu);
}

/* Two PAIR sockets over ep: *bound binds it, *connected connects to it. */
static lx_err inproc_pair(lx_zctx *ctx, const lx_zsock_opts *o, const char *ep, lx_zsock **bound,
                          lx_zsock **connected)
{
    lx_err rc = lx_zsock_new(bound, ctx, LX_ZPAIR, o);
    if (rc == LX_OK)
        rc = lx_zsock_new(connected, ctx, LX_ZPAIR, o);
    if (rc == LX_OK)
        rc = lx_zsock_bind(*bound, ep);
    if (rc == LX_OK)
        rc = lx_zsock_connect(*connected, ep);
    return rc;
}

lx_err lx__jw_start(lx__jw **out, lx_zctx *ctx, lx_journal *j, const char *data_dir,
                    const char *node_id, const uint8_t cluster_tag[LX__CLUSTER_TAG_LEN],
                    uint32_t direct_max_us)
{
    static int counter;
    if (!out || !ctx || !j || !data_dir || !node_id || !cluster_tag) {
        lx_journal_free(&j);
        return LX_EINVAL;
    }
    *out = NULL;
    lx__jw *w = calloc(1, sizeof *w);
    if (!w) {
        lx_journal_free(&j);
        return LX_ENOMEM;
    }
    w->j = j;
    w->direct_max_ns = (uint64_t)direct_max_us * 1000u;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->snap_mu, NULL);
    pthread_cond_init(&w->snap_cv, NULL);
    pthread_cond_init(&w->snap_done, NULL);
    const char *sd = getenv("LX_TEST_SNAP_WRITE_DELAY_MS");
    if (sd)
        w->snap_delay_ms = strtoull(sd, NULL, 10);
    snprintf(w->data_dir, sizeof w->data_dir, "%s", data_dir);
    snprintf(w->node_id, sizeof w->node_id, "%s", node_id);
    memcpy(w->cluster_tag, cluster_tag, LX__CLUSTER_TAG_LEN);
    w->part_bytes = LX__SNAP_PART_MAX;
    /* Smaller parts for tests of the reassembly. */
    const char *pb = getenv("LX_STATESYNC_PART_BYTES");
    if (pb && strtoull(pb, NULL, 10) >= 1 && strtoull(pb, NULL, 10) < LX__SNAP_PART_MAX)
        w->part_bytes = (size_t)strtoull(pb, NULL, 10);
    w->buf = malloc(LX__PEER_MSG_MAX + 8);
    w->list = malloc(LX__PEER_MSG_MAX);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://lx-journal-%d", counter++);
    lx_zsock_opts o;
    lx_zsock_opts_init(&o);
    o.sndhwm = o.rcvhwm = 1000000;
    o.linger_ms = 0;
    o.tcp_keepalive = false;
    lx_err rc = (!w->buf || !w->list) ? LX_ENOMEM : LX_OK;
    if (rc == LX_OK)
        rc = inproc_pair(ctx, &o, ep, &w->thread_end, &w->main_end);
    char sep[80];
    snprintf(sep, sizeof sep, "%s-snap", ep);
    if (rc == LX_OK)
        rc = inproc_pair(ctx, &o, sep, &w->snap_in, &w->snap_end);
    if (rc == LX_OK && pthread_create(&w->snap_thread, NULL, snap_run, w) != 0)
        rc = LX_ENOMEM;
    if (rc == LX_OK)
        w->snap_started = 1;
    if (rc == LX_OK && pthread_create(&w->thread, NULL, run, w) != 0)
        rc = LX_ENOMEM;
    if (rc != LX_OK) {
        snap_stop(w);
        lx_zsock_free(&w->thread_end);
        lx_zsock_free(&w->main_end);
        lx_journal_free(&w->j);
        pthread_mutex_destroy(&w->mu);
        free(w->buf);
        free(w->list);
        free(w);
        return rc;
    }
    w->started = 1;
    *out = w;
    return LX_OK;
}

/* Every message to the thread goes through here: queued tells
 * lx__jw_append_direct whether anything is waiting. */
static lx_err to_thread(lx__jw *w, lx_zpart *part)
{
    atomic_fetch_add(&w->queued, 1);
    lx_err rc = lx_zsock_send(w->main_end, part, 1, 0);
    if (rc != LX_OK)
        atomic_fetch_sub(&w->queued, 1);
    return rc;
}

void lx__jw_stop(lx__jw **p)
{
    if (!p || !*p)
        return;
    lx__jw *w = *p;
    if (w->started) {
        uint8_t q = 'Q';
        lx_zpart part = {&q, 1};
        to_thread(w, &part);
        pthread_join(w->thread, NULL);
    }
    snap_stop(w);
    lx_zsock_free(&w->thread_end);
    lx_zsock_free(&w->main_end);
    lx_journal_free(&w->j);
    for (unsigned i = 0; i < SERVED_MAX; i++)
        served_drop(&w->served[i]);
    pthread_mutex_destroy(&w->mu);
    free(w->buf);
    free(w->list);
    free(w);
    *p = NULL;
}

lx_zsock *lx__jw_sock(lx__jw *w)
{
    return w->main_end;
}

lx_err lx__jw_append(lx__jw *w, const uint8_t *block, size_t len)
{
    uint8_t tag = 'A';
    /* One message: the tag is copied in front of the block. */
    uint8_t *msg = malloc(len + 1);
    if (!msg)
        return LX_ENOMEM;
    msg[0] = tag;
    memcpy(msg + 1, block, len);
    lx_zpart part = {msg, len + 1};
    lx_err rc = to_thread(w, &part);
    free(msg);
    return rc;
}

lx_err lx__jw_append_direct(lx__jw *w, const uint8_t *block, size_t len, uint64_t *synced)
{
    if (w->direct_max_ns == 0 || atomic_load(&w->queued) != 0 ||
        atomic_load_explicit(&w->sync_ns, memory_order_relaxed) > w->direct_max_ns)
        return LX_EAGAIN;
    if (pthread_mutex_trylock(&w->mu) != 0)
        return LX_EAGAIN;
    /* Only this (main) thread sends to the thread, so queued stays 0: the
     * thread handled everything sent before, and the block goes after all
     * of it. */
    lx_err rc = LX_EAGAIN;
    if (!w->failed) {
        rc = lx_journal_append(w->j, block, len);
        if (rc == LX_OK)
            rc = timed_sync(w);
        if (rc != LX_OK)
            w->failed = 1;
        *synced = lx_journal_synced_seq(w->j);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

lx_err lx__jw_append_ref(lx__jw *w, const uint8_t *block, size_t len)
{
    uint8_t msg[1 + sizeof block + sizeof len];
    msg[0] = 'P';
    memcpy(msg + 1, &block, sizeof block);
    memcpy(msg + 1 + sizeof block, &len, sizeof len);
    lx_zpart part = {msg, sizeof msg};
    return to_thread(w, &part);
}

lx_err lx__jw_snapshot(lx__jw *w, lx__jw_snap *s)
{
    uint8_t msg[1 + sizeof *s];
    msg[0] = 'S';
    memcpy(msg + 1, s, sizeof *s);
    lx_zpart part = {msg, sizeof msg};
    lx_err rc = to_thread(w, &part);
    if (rc != LX_OK)
        lx__jw_snap_release(s);
    return rc;
}

/* A request naming a peer slot and two numbers (R: blocks from..to;
 * N: snapshot seq and offset). */
static lx_err send_slot_req(lx__jw *w, uint8_t tag, uint32_t slot, uint64_t a, uint64_t b)
{
    uint8_t msg[1 + 4 + 16];
    msg[0] = tag;
    lx__put_u32(msg + 1, slot);
    lx__put_u64(msg + 5, a);
    lx__put_u64(msg + 13, b);
    lx_zpart part = {msg, sizeof msg};
    return to_thread(w, &part);
}

lx_err lx__jw_read(lx__jw *w, uint32_t slot, uint64_t from, uint64_t to)
{
    return send_slot_req(w, 'R', slot, from, to);
}

lx_err lx__jw_compact_limit(lx__jw *w, uint64_t limit)
{
    uint8_t msg[1 + 8];
    msg[0] = 'K';
    lx__put_u64(msg + 1, limit);
    lx_zpart part = {msg, sizeof msg};
    return to_thread(w, &part);
}

lx_err lx__jw_snap_read(lx__jw *w, uint32_t slot, uint64_t seq, uint64_t offset)
{
    return send_slot_req(w, 'N', slot, seq, offset);
}

lx_err lx__jw_batch_read(lx__jw *w, uint32_t slot, uint64_t number, uint8_t kind, uint64_t offset)
{
    uint8_t msg[1 + 4 + 8 + 1 + 8];
    msg[0] = 'B';
    lx__put_u32(msg + 1, slot);
    lx__put_u64(msg + 5, number);
    msg[13] = kind;
    lx__put_u64(msg + 14, offset);
    lx_zpart part = {msg, sizeof msg};
    return to_thread(w, &part);
}

/* ---- the main thread's side ---- */

/* The journal made everything up to seq durable: the writer's 'Y', or a
 * direct append. */
void lx__journal_synced(lx__node *n, uint64_t seq)
{
    lx__elect_synced(n, seq);
    if (n->is_leader)
        lx__seq_synced(n, seq);
}

void lx__journal_direct_act(lx__node *n)
{
    if (n->direct_synced && !n->direct_told) {
        n->direct_told = 1;
        lx__journal_synced(n, n->direct_synced);
    }
}

static void journal_fatal(lx__node *n, const char *what, int len)
{
    n->journal_failed = 1;
    lx__log(n, "FATAL: %.*s; no further blocks will be acknowledged", len, what);
    *n->stop = 1;
}

lx_err lx__journal_append(lx__node *n, const uint8_t *block, size_t len, int ref)
{
    uint64_t synced = 0;
    /* One direct sync a turn: a run of blocks (a gap response, say) goes
     * to the thread after the first and shares its syncs. */
    lx_err rc = n->direct_synced ? LX_EAGAIN : lx__jw_append_direct(n->jw, block, len, &synced);
    if (rc == LX_OK) {
        if (synced > n->direct_synced)
            n->direct_synced = synced;
        n->m.direct_syncs++;
        return LX_OK;
    }
    if (rc != LX_EAGAIN) {
        char what[96];
        int k = snprintf(what, sizeof what, "journal append and sync: %s", lx_strerror(rc));
        journal_fatal(n, what, k);
        return rc;
    }
    return ref ? lx__jw_append_ref(n->jw, block, len) : lx__jw_append(n->jw, block, len);
}

void lx__journal_msg(lx__node *n, const lx_zmsg *zm)
{
    if (zm->n != 1 || zm->part[0].len < 1)
        return;
    const uint8_t *p = zm->part[0].data;
    size_t len = zm->part[0].len;
    switch (p[0]) {
    case 'Y':
        if (len != 9)
            return;
        lx__journal_synced(n, lx__get_u64(p + 1));
        return;
    case 'G':
        if (len > 5)
            lx__send_peer(n, (int)lx__get_u32(p + 1), p + 5, len - 5);
        return;
    case 'N':
    case 'C':
        lx__ss_journal(n, p, len);
        return;
    case 'E':
        journal_fatal(n, (const char *)p + 5, (int)(len > 5 ? len - 5 : 0));
        return;
    default:
        return;
    }
}
