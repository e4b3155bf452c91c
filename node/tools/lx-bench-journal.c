/* lx-bench-journal: measures journal appends with group commit (one sync per
 * block), with and without fdatasync, and the replay speed of recovery. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lx/node.h"

static const char usage[] =
    "usage: lx-bench-journal [--blocks N] [--block-size N] [--fsync on|off|both]\n"
    "                        [--data-dir DIR] [--stalls]\n"
    "\n"
    "Appends N blocks of block-size orders each to a new journal, calling\n"
    "lx_journal_sync after every block (group commit), and prints blocks/s,\n"
    "commands/s and the latency of each sync (p50, p99, max). Then recovers\n"
    "the journal and prints the replay rate.\n"
    "\n"
    "  --blocks N       blocks to append (default 2000)\n"
    "  --block-size N   commands per block, 1..16384 (default 100)\n"
    "  --fsync MODE     on: fdatasync each sync; off: write only; both (default)\n"
    "  --data-dir DIR   an empty folder to use and keep (default: a fresh folder\n"
    "                   under $TMPDIR or /tmp, removed at the end); measure on\n"
    "                   the disk the node will use\n"
    "  --stalls         while the blocks are appended, spin a second thread on\n"
    "                   the clock and report how often, how long in all and\n"
    "                   how long at most it was stopped for 1 ms or more: on\n"
    "                   some virtual machines the host's work for each sync is\n"
    "                   charged to the guest, which is then paused whole\n"
    "  --help           print this and exit\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The stall watcher: a thread that reads the clock in a loop and counts the
 * gaps of STALL_NS or more between two reads, that is the time it (and, on
 * an idle core, the machine) did not run. */
#define STALL_NS 1000000u

typedef struct stalls {
    atomic_int stop;
    uint64_t count, total_ns, max_ns, ran_ns;
} stalls;

static void *watch(void *arg)
{
    stalls *st = arg;
    uint64_t t0 = lx_now_ns(), prev = t0;
    while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
        uint64_t t = lx_now_ns(), gap = t - prev;
        prev = t;
        if (gap >= STALL_NS) {
            st->count++;
            st->total_ns += gap;
            if (gap > st->max_ns)
                st->max_ns = gap;
        }
    }
    st->ran_ns = prev - t0;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_u64(uint64_t *out, const char *s)
{
    char *end;
    if (!*s || *s == '-')
        return 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return 0;
    *out = v;
    return 1;
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
}

/* The entries of block seq: a market and two funded accounts first, then
 * limit orders from alternating accounts, half resting (gtc), half ioc. */
static size_t fill_block(lx_entry *v, uint64_t seq, size_t n)
{
    if (seq == 1) {
        memset(v, 0, 3 * sizeof *v);
        v[0].is_market = 1;
        snprintf(v[0].market.name, sizeof v[0].market.name, "BTC-USD");
        snprintf(v[0].market.base, sizeof v[0].market.base, "BTC");
        snprintf(v[0].market.quote, sizeof v[0].market.quote, "USD");
        v[0].market.lot = 1;
        v[0].market.tick = 1;
        v[0].market.min_qty = 1;
        for (int k = 1; k <= 2; k++) {
            v[k].cmd.type = LX_CMD_DEPOSIT;
            v[k].cmd.u.transfer.account = (uint64_t)k;
            v[k].cmd.u.transfer.amount = (uint64_t)1 << 60;
            snprintf(v[k].cmd.u.transfer.asset, LX_SYMBOL_MAX, k == 1 ? "USD" : "BTC");
        }
        return 3;
    }
    memset(v, 0, n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        lx_order_cmd *o = &v[i].cmd.u.order;
        v[i].cmd.type = LX_CMD_ORDER;
        o->id = seq * 100000 + i;
        o->account = 1 + (seq + i) % 2;
        o->side = o->account == 1 ? LX_BUY : LX_SELL;
        o->type = LX_LIMIT;
        o->tif = i % 2 ? LX_IOC : LX_GTC;
        o->price = 1000 + (seq * 31 + i * 7) % 50;
        o->qty = 1 + i % 9;
    }
    return n;
}

static int bench(const char *dir, uint64_t nblocks, size_t bsize, int fsync_on, int want_stalls)
{
    lx_journal_opts jo = {.no_fsync = !fsync_on};
    lx_journal *j = NULL;
    lx_err rc = lx_journal_open(&j, NULL, dir, &jo);
    if (rc != LX_OK) {
        fprintf(stderr, "lx-bench-journal: open %s: %s\n", dir, lx_strerror(rc));
        return 1;
    }
    lx_entry *v = malloc((bsize < 3 ? 3 : bsize) * sizeof *v); /* block 1 has 3 */
    uint8_t *buf = malloc(LX_BLOCK_BYTES_MAX);
    double *lat = malloc(nblocks * sizeof *lat);
    if (!v || !buf || !lat) {
        fprintf(stderr, "lx-bench-journal: out of memory\n");
        return 1;
    }
    uint64_t index = 1, cmds = 0, bytes = 0;
    stalls st = {0};
    pthread_t watcher;
    int watching = want_stalls && pthread_create(&watcher, NULL, watch, &st) == 0;
    if (want_stalls && !watching)
        fprintf(stderr, "lx-bench-journal: cannot start the stall watcher\n");
    double t0 = now_s();
    for (uint64_t s = 1; s <= nblocks && rc == LX_OK; s++) {
        size_t n = fill_block(v, s, bsize);
        lx_block_hdr h = {.seq = s, .term = 1, .timestamp_us = s, .first_index = index};
        size_t len;
        rc = lx_block_encode(buf, LX_BLOCK_BYTES_MAX, &len, &h, v, n);
        if (rc == LX_OK)
            rc = lx_journal_append(j, buf, len);
        double ts = now_s();
        if (rc == LX_OK)
            rc = lx_journal_sync(j);
        lat[s - 1] = now_s() - ts;
        index += n;
        cmds += n;
        bytes += len + 8;
    }
    double el = now_s() - t0;
    if (watching) {
        atomic_store(&st.stop, 1);
        pthread_join(watcher, NULL);
    }
    lx_journal_free(&j);
    if (rc != LX_OK) {
        fprintf(stderr, "lx-bench-journal: append: %s\n", lx_strerror(rc));
        return 1;
    }
    qsort(lat, nblocks, sizeof *lat, cmp_double);
    size_t p99 = (size_t)((double)nblocks * 0.99);
    if (p99 >= nblocks)
        p99 = nblocks - 1;
    printf("fsync=%-3s blocks=%" PRIu64 " block_size=%zu  %.0f blocks/s  %.0f commands/s  "
           "%.1f MB/s  sync p50 %.1f us  p99 %.1f us  max %.1f us\n",
           fsync_on ? "on" : "off", nblocks, bsize, (double)nblocks / el, (double)cmds / el,
           (double)bytes / el / 1e6, lat[nblocks / 2] * 1e6, lat[p99] * 1e6,
           lat[nblocks - 1] * 1e6);
    if (watching)
        printf("          stalls: %" PRIu64 " of 1 ms or more, %.1f ms in all (%.1f %% of %.2f s), "
               "longest %.1f ms\n",
               st.count, (double)st.total_ns / 1e6,
               st.ran_ns ? 100.0 * (double)st.total_ns / (double)st.ran_ns : 0.0,
               (double)st.ran_ns / 1e9, (double)st.max_ns / 1e6);

    lx_engine_config cfg = {.fee_account = 0};
    lx_recovery r;
    char err[512];
    t0 = now_s();
    rc = lx_recover(&j, &r, err, sizeof err, dir, &jo, &cfg);
    el = now_s() - t0;
    if (rc != LX_OK) {
        fprintf(stderr, "lx-bench-journal: recover: %s\n", err);
        return 1;
    }
    printf("          recovery: %" PRIu64 " blocks in %.3f s  %.0f blocks/s  %.0f commands/s\n",
           r.blocks_replayed, el, (double)r.blocks_replayed / el, (double)cmds / el);
    lx_engine_free(&r.engine);
    lx_journal_free(&j);
    free(lat);
    free(buf);
    free(v);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t nblocks = 2000, bsize = 100;
    const char *mode = "both", *dir = NULL;
    int want_stalls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int ok = 1;
        if (!strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (i + 1 < argc && !strcmp(a, "--blocks")) {
            ok = parse_u64(&nblocks, argv[++i]) && nblocks > 0;
        } else if (i + 1 < argc && !strcmp(a, "--block-size")) {
            ok = parse_u64(&bsize, argv[++i]) && bsize > 0 && bsize <= LX_BLOCK_ENTRIES_MAX;
        } else if (i + 1 < argc && !strcmp(a, "--fsync")) {
            mode = argv[++i];
            ok = !strcmp(mode, "on") || !strcmp(mode, "off") || !strcmp(mode, "both");
        } else if (!strcmp(a, "--stalls")) {
            want_stalls = 1;
        } else if (i + 1 < argc && !strcmp(a, "--data-dir")) {
            dir = argv[++i];
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "lx-bench-journal: bad argument \"%s\"\n%s", a, usage);
            return 2;
        }
    }
    int both = !strcmp(mode, "both");
    char base[4096];
    if (dir) {
        snprintf(base, sizeof base, "%s", dir);
        if (mkdir(base, 0755) != 0 && errno != EEXIST) {
            perror("lx-bench-journal: mkdir");
            return 1;
        }
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(base, sizeof base, "%s/lx-bench-journal-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(base)) {
            perror("lx-bench-journal: mkdtemp");
            return 1;
        }
    }
    int rc = 0;
    for (int on = 1; on >= 0 && rc == 0; on--) {
        if (!both && on != !strcmp(mode, "on"))
            continue;
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/fsync-%s", base, on ? "on" : "off");
        rc = bench(sub, nblocks, (size_t)bsize, on, want_stalls);
    }
    if (!dir)
        rm_rf(base);
    return rc;
}
