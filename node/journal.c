/* The append-only block journal: segment files of checksummed records, a
 * buffered writer with group commit, torn-tail repair on open, an in-memory
 * seq index for serving ranges, truncation and compaction. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"
#include "logio.h"
#include "lx/node.h"

#define REC_HDR 8u
/* The write buffer holds at least one record of the largest block, so an
 * append never has to bypass it. */
#define WBUF_CAP ((size_t)4 << 20)
_Static_assert(WBUF_CAP >= LX_BLOCK_BYTES_MAX + REC_HDR, "write buffer too small");

typedef struct segment {
    uint64_t first_seq;
    uint64_t count;    /* blocks in it */
    uint64_t *offsets; /* record offset of block first_seq + i */
    size_t cap;
    uint64_t size; /* bytes, including what is still in the write buffer */
} segment;

struct lx_journal {
    char *dir; /* DATA_DIR/journal */
    lx_journal_opts opts;
    segment *segs;
    size_t nsegs, segcap;
    uint64_t first_seq, last_seq, synced_seq, next_index;
    int wfd;       /* the last segment, for appending; -1 if none */
    uint8_t *wbuf; /* records appended but not yet written */
    size_t wlen;
    int dir_dirty;    /* a segment file was created: fsync the folder */
    int failed;       /* a write or sync failed: appends are refused */
    int rfd;          /* read cache: an open segment ... */
    uint64_t rfd_seq; /* ... and the first_seq naming it */
    uint8_t *rbuf;
    size_t rcap;
};

static lx_err seg_path(char *out, size_t len, const lx_journal *j, uint64_t first_seq)
{
    char name[32];
    snprintf(name, sizeof name, "%020" PRIu64 ".log", first_seq);
    return lx__path(out, len, j->dir, name);
}

static lx_err seg_push_offset(segment *s, uint64_t off)
{
    if (s->count == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        uint64_t *nv = realloc(s->offsets, nc * sizeof *nv);
        if (!nv)
            return LX_ENOMEM;
        s->offsets = nv;
        s->cap = nc;
    }
    s->offsets[s->count++] = off;
    return LX_OK;
}

static lx_err segs_push(lx_journal *j, uint64_t first_seq)
{
    if (j->nsegs == j->segcap) {
        size_t nc = j->segcap ? j->segcap * 2 : 8;
        segment *nv = realloc(j->segs, nc * sizeof *nv);
        if (!nv)
            return LX_ENOMEM;
        j->segs = nv;
        j->segcap = nc;
    }
    segment *s = &j->segs[j->nsegs++];
    memset(s, 0, sizeof *s);
    s->first_seq = first_seq;
    return LX_OK;
}

static void read_cache_drop(lx_journal *j)
{
    if (j->rfd >= 0)
        close(j->rfd);
    j->rfd = -1;
}

/* Records which file, where, and what was wrong (why is a short constant). */
static void corrupt(lx_journal_info *info, const char *path, uint64_t off, const char *why)
{
    if (!info)
        return;
    snprintf(info->path, sizeof info->path, "%s", path);
    info->offset = off;
    snprintf(info->reason, sizeof info->reason, "%s", why);
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* ---- open: scan and verify ---- */

/* Reads a whole file into a malloc'd buffer. */
static lx_err slurp(uint8_t **out, uint64_t *size, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return LX_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return LX_EIO;
    }
    uint64_t n = (uint64_t)st.st_size;
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (!buf) {
        close(fd);
        return LX_ENOMEM;
    }
    lx_err rc = lx__read_all(fd, buf, (size_t)n, 0);
    close(fd);
    if (rc != LX_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *size = n;
    return LX_OK;
}

/* Scans segment j->segs[idx]: verifies every record and fills its index.
 * Cuts a torn tail when it is the last segment. */
static lx_err scan_segment(lx_journal *j, lx_journal_info *info, lx_block *blk, size_t idx)
{
    segment *s = &j->segs[idx];
    int last = idx + 1 == j->nsegs;
    char path[4096];
    lx_err rc = seg_path(path, sizeof path, j, s->first_seq);
    if (rc != LX_OK)
        return rc;
    uint8_t *buf;
    uint64_t size;
    if ((rc = slurp(&buf, &size, path)) != LX_OK) {
        corrupt(info, path, 0, "cannot read");
        return rc;
    }
    uint64_t off = 0;
    while (off < size) {
        uint64_t rem = size - off;
        int torn = 0;
        const char *why = NULL;
        uint32_t len = 0;
        if (rem < REC_HDR) {
            torn = 1;
            why = "short record header";
        } else {
            len = lx__get_u32(buf + off);
            uint32_t crc = lx__get_u32(buf + off + 4);
            if ((uint64_t)len > rem - REC_HDR) {
                torn = 1;
                why = "record runs past the end of the file";
            } else if (len > LX_BLOCK_BYTES_MAX || len < LX_BLOCK_HDR_LEN) {
                why = "bad record length";
            } else if (lx__crc32c(0, buf + off + REC_HDR, len) != crc) {
                torn = off + REC_HDR + len == size;
                why = "bad record checksum";
            }
        }
        if (why && last && !torn && all_zero(buf + off, (size_t)rem))
            torn = 1; /* a zero-filled tail: space allocated, data never written */
        if (torn && last) {
            if (!j->opts.read_only) {
                int fd = open(path, O_WRONLY);
                int bad = fd < 0 || ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0;
                if (fd >= 0)
                    close(fd);
                if (bad) {
                    free(buf);
                    corrupt(info, path, off, "cannot truncate the torn tail");
                    return LX_EIO;
                }
            }
            if (info) {
                info->torn_records++;
                info->torn_bytes += rem;
            }
            size = off;
            break;
        }
        if (why) {
            corrupt(info, path, off, why);
            free(buf);
            return LX_ECORRUPT;
        }
        /* A record with a good checksum was written whole: anything wrong
         * inside it is corruption, never a torn write. */
        const uint8_t *payload = buf + off + REC_HDR;
        if ((rc = lx_block_decode(blk, payload, len)) != LX_OK) {
            corrupt(info, path, off, rc == LX_ENOMEM ? "out of memory" : "undecodable block");
            free(buf);
            return rc == LX_ENOMEM ? rc : LX_ECORRUPT;
        }
        const lx_block_hdr *h = &blk->hdr;
        if (s->count == 0 && h->seq != s->first_seq)
            why = "first block does not match the segment name";
        else if (j->last_seq && h->seq != j->last_seq + 1)
            why = "block seq out of sequence";
        else if (j->last_seq && h->first_index != j->next_index)
            why = "entry index out of sequence";
        if (why) {
            corrupt(info, path, off, why);
            free(buf);
            return LX_ECORRUPT;
        }
        if ((rc = seg_push_offset(s, off)) != LX_OK) {
            free(buf);
            return rc;
        }
        if (!j->first_seq)
            j->first_seq = h->seq;
        j->last_seq = h->seq;
        j->next_index = h->first_index + h->count;
        off += REC_HDR + len;
    }
    free(buf);
    s->size = size;
    if (s->count == 0 && !last) {
        corrupt(info, path, 0, "empty segment before the last");
        return LX_ECORRUPT;
    }
    return LX_OK;
}

static void journal_destroy(lx_journal *j)
{
    if (j->wfd >= 0)
        close(j->wfd);
    read_cache_drop(j);
    for (size_t i = 0; i < j->nsegs; i++)
        free(j->segs[i].offsets);
    free(j->segs);
    free(j->wbuf);
    free(j->rbuf);
    free(j->dir);
    free(j);
}

static lx_err open_writer(lx_journal *j)
{
    if (j->opts.read_only || j->nsegs == 0)
        return LX_OK;
    char path[4096];
    lx_err rc = seg_path(path, sizeof path, j, j->segs[j->nsegs - 1].first_seq);
    if (rc != LX_OK)
        return rc;
    j->wfd = open(path, O_WRONLY | O_CLOEXEC);
    return j->wfd < 0 ? LX_EIO : LX_OK;
}

lx_err lx_journal_open(lx_journal **out, lx_journal_info *info, const char *data_dir,
                       const lx_journal_opts *opts)
{
    if (!out || !data_dir || !*data_dir)
        return LX_EINVAL;
    *out = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    lx_journal *j = calloc(1, sizeof *j);
    if (!j)
        return LX_ENOMEM;
    j->wfd = j->rfd = -1;
    if (opts)
        j->opts = *opts;
    if (j->opts.segment_bytes == 0)
        j->opts.segment_bytes = LX_JOURNAL_SEGMENT_DEFAULT;

    char path[4096];
    lx_err rc = lx__path(path, sizeof path, data_dir, "journal");
    if (rc == LX_OK && !(j->dir = strdup(path)))
        rc = LX_ENOMEM;
    if (rc == LX_OK && !j->opts.read_only) {
        char snaps[4096];
        if ((rc = lx__mkdir(data_dir)) == LX_OK && (rc = lx__mkdir(j->dir)) == LX_OK &&
            (rc = lx__path(snaps, sizeof snaps, data_dir, "snapshots")) == LX_OK)
            rc = lx__mkdir(snaps);
        if (rc != LX_OK)
            corrupt(info, data_dir, 0, "cannot create the data folders");
    }
    if (rc == LX_OK && !j->opts.read_only && !(j->wbuf = malloc(WBUF_CAP)))
        rc = LX_ENOMEM;

    uint64_t *seqs = NULL;
    size_t nseqs = 0;
    if (rc == LX_OK) {
        rc = lx__list_seq_files(&seqs, &nseqs, j->dir, ".log");
        if (rc != LX_OK)
            corrupt(info, j->dir, 0, "cannot list the journal folder");
    }
    for (size_t i = 0; rc == LX_OK && i < nseqs; i++)
        rc = segs_push(j, seqs[i]);
    free(seqs);

    lx_block blk;
    lx_block_init(&blk);
    for (size_t i = 0; rc == LX_OK && i < j->nsegs; i++)
        rc = scan_segment(j, info, &blk, i);
    lx_block_free(&blk);

    /* A last segment left empty (created just before a crash, or emptied by
     * the torn-tail cut) is removed so that the next append names it anew. */
    if (rc == LX_OK && j->nsegs > 0 && j->segs[j->nsegs - 1].count == 0) {
        segment *s = &j->segs[j->nsegs - 1];
        if (!j->opts.read_only) {
            if ((rc = seg_path(path, sizeof path, j, s->first_seq)) == LX_OK && unlink(path) != 0)
                rc = LX_EIO;
            if (rc == LX_OK)
                rc = lx__fsync_dir(j->dir);
        }
        free(s->offsets);
        j->nsegs--;
    }
    if (rc == LX_OK)
        rc = open_writer(j);
    /* What a previous process wrote may still sit in the page cache: make it
     * durable before it is reported as synced. */
    if (rc == LX_OK && j->wfd >= 0 && !j->opts.no_fsync && fdatasync(j->wfd) != 0)
        rc = LX_EIO;
    if (rc != LX_OK) {
        journal_destroy(j);
        return rc;
    }
    j->synced_seq = j->last_seq;
    if (info) {
        info->segments = j->nsegs;
        info->blocks = j->first_seq ? j->last_seq - j->first_seq + 1 : 0;
    }
    *out = j;
    return LX_OK;
}

/* ---- writing ---- */

/* Writes the buffer out to the last segment (no sync). */
static lx_err flush(lx_journal *j)
{
    if (j->wlen == 0)
        return LX_OK;
    LX_ASSERT(j->wfd >= 0 && j->nsegs > 0);
    uint64_t disk = j->segs[j->nsegs - 1].size - j->wlen;
    if (lx__write_all(j->wfd, j->wbuf, j->wlen, disk) != LX_OK) {
        j->failed = 1;
        return LX_EIO;
    }
    j->wlen = 0;
    return LX_OK;
}

/* Starts a new segment named by seq: the previous one is written out and
 * synced first so that a later sync only has to cover the new file. */
static lx_err rotate(lx_journal *j, uint64_t seq)
{
    lx_err rc = flush(j);
    if (rc != LX_OK)
        return rc;
    if (j->wfd >= 0) {
        if (!j->opts.no_fsync && fdatasync(j->wfd) != 0) {
            j->failed = 1;
            return LX_EIO;
        }
        close(j->wfd);
        j->wfd = -1;
    }
    char path[4096];
    if ((rc = seg_path(path, sizeof path, j, seq)) != LX_OK)
        return rc;
    j->wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (j->wfd < 0) {
        j->failed = 1;
        return LX_EIO;
    }
    if ((rc = segs_push(j, seq)) != LX_OK) {
        close(j->wfd);
        j->wfd = -1;
        unlink(path);
        return rc;
    }
    j->dir_dirty = 1;
    return LX_OK;
}

lx_err lx_journal_append(lx_journal *j, const uint8_t *block, size_t len)
{
    if (!j || !block)
        return LX_EINVAL;
    if (j->opts.read_only || j->failed)
        return LX_ESTATE;
    lx_block_hdr h;
    lx_err rc = lx_block_peek(&h, block, len);
    if (rc != LX_OK)
        return rc;
    if (j->last_seq && (h.seq != j->last_seq + 1 || h.first_index != j->next_index))
        return LX_ESTATE;
    segment *s = j->nsegs ? &j->segs[j->nsegs - 1] : NULL;
    if (!s || (s->size > 0 && s->size + REC_HDR + len > j->opts.segment_bytes)) {
        if ((rc = rotate(j, h.seq)) != LX_OK)
            return rc;
        s = &j->segs[j->nsegs - 1];
    }
    if (j->wlen + REC_HDR + len > WBUF_CAP && (rc = flush(j)) != LX_OK)
        return rc;
    if ((rc = seg_push_offset(s, s->size)) != LX_OK)
        return rc;
    uint8_t *p = j->wbuf + j->wlen;
    lx__put_u32(p, (uint32_t)len);
    lx__put_u32(p + 4, lx__crc32c(0, block, len));
    memcpy(p + REC_HDR, block, len);
    j->wlen += REC_HDR + len;
    s->size += REC_HDR + len;
    if (!j->first_seq)
        j->first_seq = h.seq;
    j->last_seq = h.seq;
    j->next_index = h.first_index + h.count;
    return LX_OK;
}

lx_err lx_journal_sync(lx_journal *j)
{
    if (!j)
        return LX_EINVAL;
    if (j->opts.read_only || j->failed)
        return j->opts.read_only ? LX_OK : LX_ESTATE;
    lx_err rc = flush(j);
    if (rc != LX_OK)
        return rc;
    if (!j->opts.no_fsync) {
        if (j->wfd >= 0 && fdatasync(j->wfd) != 0) {
            j->failed = 1;
            return LX_EIO;
        }
        if (j->dir_dirty && lx__fsync_dir(j->dir) != LX_OK) {
            j->failed = 1;
            return LX_EIO;
        }
    }
    j->dir_dirty = 0;
    j->synced_seq = j->last_seq;
    return LX_OK;
}

void lx_journal_free(lx_journal **p)
{
    if (!p || !*p)
        return;
    (void)lx_journal_sync(*p);
    journal_destroy(*p);
    *p = NULL;
}

uint64_t lx_journal_first_seq(const lx_journal *j)
{
    return j ? j->first_seq : 0;
}

uint64_t lx_journal_last_seq(const lx_journal *j)
{
    return j ? j->last_seq : 0;
}

uint64_t lx_journal_synced_seq(const lx_journal *j)
{
    return j ? j->synced_seq : 0;
}

uint64_t lx_journal_next_index(const lx_journal *j)
{
    return j ? j->next_index : 0;
}

uint64_t lx_journal_segment_count(const lx_journal *j)
{
    return j ? j->nsegs : 0;
}

/* ---- reading ---- */

/* The segment holding seq (which must be in [first_seq, last_seq]). */
static size_t seg_find(const lx_journal *j, uint64_t seq)
{
    size_t lo = 0, hi = j->nsegs;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (j->segs[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

lx_err lx_journal_read(lx_journal *j, const uint8_t **data, size_t *len, uint64_t seq)
{
    if (!j || !data || !len)
        return LX_EINVAL;
    if (!j->first_seq || seq < j->first_seq || seq > j->last_seq)
        return LX_ENOTFOUND;
    lx_err rc;
    if (j->wlen && (rc = flush(j)) != LX_OK)
        return rc;
    const segment *s = &j->segs[seg_find(j, seq)];
    LX_ASSERT(seq - s->first_seq < s->count);
    uint64_t off = s->offsets[seq - s->first_seq];
    char path[4096];
    if ((rc = seg_path(path, sizeof path, j, s->first_seq)) != LX_OK)
        return rc;
    if (j->rfd < 0 || j->rfd_seq != s->first_seq) {
        read_cache_drop(j);
        if ((j->rfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return LX_EIO;
        j->rfd_seq = s->first_seq;
    }
    uint8_t hdr[REC_HDR];
    if (lx__read_all(j->rfd, hdr, sizeof hdr, off) != LX_OK)
        return LX_ECORRUPT; /* the file shrank under us */
    uint32_t n = lx__get_u32(hdr);
    if (n > LX_BLOCK_BYTES_MAX || n < LX_BLOCK_HDR_LEN)
        return LX_ECORRUPT;
    if (n > j->rcap) {
        uint8_t *nb = realloc(j->rbuf, n);
        if (!nb)
            return LX_ENOMEM;
        j->rbuf = nb;
        j->rcap = n;
    }
    if (lx__read_all(j->rfd, j->rbuf, n, off + REC_HDR) != LX_OK)
        return LX_ECORRUPT;
    lx_block_hdr h;
    if (lx__crc32c(0, j->rbuf, n) != lx__get_u32(hdr + 4) ||
        lx_block_peek(&h, j->rbuf, n) != LX_OK || h.seq != seq)
        return LX_ECORRUPT;
    *data = j->rbuf;
    *len = n;
    return LX_OK;
}

lx_err lx_journal_foreach(lx_journal *j, uint64_t from, uint64_t to, lx_journal_fn fn, void *arg)
{
    if (!j || !fn)
        return LX_EINVAL;
    if (!j->first_seq)
        return LX_OK;
    if (from < j->first_seq)
        from = j->first_seq;
    if (to > j->last_seq)
        to = j->last_seq;
    for (uint64_t seq = from; seq <= to && seq != 0; seq++) {
        const uint8_t *data;
        size_t len;
        lx_err rc = lx_journal_read(j, &data, &len, seq);
        if (rc == LX_OK)
            rc = fn(arg, seq, data, len);
        if (rc != LX_OK)
            return rc;
        if (seq == UINT64_MAX)
            break;
    }
    return LX_OK;
}

/* ---- truncation and compaction ---- */

/* Unlinks a segment's file; with fd non-NULL it is opened first and *fd
 * keeps it (-1 if it could not be opened). */
static lx_err remove_segment_file(lx_journal *j, uint64_t first_seq, int *fd)
{
    char path[4096];
    lx_err rc = seg_path(path, sizeof path, j, first_seq);
    if (rc != LX_OK)
        return rc;
    if (fd)
        *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (unlink(path) == 0 || errno == ENOENT)
        return LX_OK;
    if (fd && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return LX_EIO;
}

lx_err lx_journal_truncate_after(lx_journal *j, uint64_t seq)
{
    if (!j)
        return LX_EINVAL;
    if (j->opts.read_only || j->failed)
        return LX_ESTATE;
    if (!j->first_seq || seq >= j->last_seq)
        return LX_OK;
    lx_err rc = flush(j);
    if (rc != LX_OK)
        return rc;
    uint64_t target = seq < j->first_seq ? j->first_seq : seq + 1;
    size_t k = seg_find(j, target);
    read_cache_drop(j);
    if (j->wfd >= 0)
        close(j->wfd);
    j->wfd = -1;
    /* Later segments go first, newest first, so that a crash part way leaves
     * a journal that is a prefix of the old one. */
    while (j->nsegs > k + 1) {
        segment *s = &j->segs[j->nsegs - 1];
        if ((rc = remove_segment_file(j, s->first_seq, NULL)) != LX_OK)
            goto fail;
        free(s->offsets);
        j->nsegs--;
    }
    segment *s = &j->segs[k];
    if (target == s->first_seq) {
        if ((rc = remove_segment_file(j, s->first_seq, NULL)) != LX_OK)
            goto fail;
        free(s->offsets);
        j->nsegs--;
    } else {
        char path[4096];
        uint64_t cut = s->offsets[target - s->first_seq];
        if ((rc = seg_path(path, sizeof path, j, s->first_seq)) != LX_OK)
            goto fail;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        int bad = fd < 0 || ftruncate(fd, (off_t)cut) != 0 || fsync(fd) != 0;
        if (fd >= 0)
            close(fd);
        if (bad) {
            rc = LX_EIO;
            goto fail;
        }
        s->count = target - s->first_seq;
        s->size = cut;
    }
    if ((rc = lx__fsync_dir(j->dir)) != LX_OK)
        goto fail;
    j->dir_dirty = 0;
    if (j->nsegs == 0) {
        j->first_seq = j->last_seq = j->next_index = 0;
    } else {
        j->last_seq = target - 1;
        const uint8_t *data;
        size_t len;
        lx_block_hdr h;
        if ((rc = lx_journal_read(j, &data, &len, j->last_seq)) != LX_OK ||
            (rc = lx_block_peek(&h, data, len)) != LX_OK)
            goto fail;
        j->next_index = h.first_index + h.count;
    }
    if (j->synced_seq > j->last_seq)
        j->synced_seq = j->last_seq;
    if ((rc = open_writer(j)) != LX_OK)
        goto fail;
    return LX_OK;
fail:
    j->failed = 1;
    return rc;
}

/* fds NULL: the files are unlinked and closed here (lx_journal_compact). */
lx_err lx_journal_compact_fds(lx_journal *j, uint64_t *removed, uint64_t snapshot_seq, int *fds,
                              size_t max, size_t *nfds)
{
    if (removed)
        *removed = 0;
    if (nfds)
        *nfds = 0;
    if (!j || (fds && !nfds))
        return LX_EINVAL;
    if (j->opts.read_only)
        return LX_ESTATE;
    size_t k = 0;
    while (k + 1 < j->nsegs && j->segs[k + 1].first_seq - 1 <= snapshot_seq)
        k++;
    if (fds && k > max)
        k = max;
    if (k == 0)
        return LX_OK;
    read_cache_drop(j);
    size_t done = 0;
    lx_err rc = LX_OK;
    for (; done < k; done++) {
        int fd = -1;
        if ((rc = remove_segment_file(j, j->segs[done].first_seq, fds ? &fd : NULL)) != LX_OK)
            break;
        if (fd >= 0)
            fds[(*nfds)++] = fd;
        free(j->segs[done].offsets);
    }
    memmove(j->segs, j->segs + done, (j->nsegs - done) * sizeof *j->segs);
    j->nsegs -= done;
    j->first_seq = j->segs[0].first_seq;
    if (removed)
        *removed = done;
    if (rc == LX_OK)
        rc = lx__fsync_dir(j->dir);
    return rc;
}

lx_err lx_journal_compact(lx_journal *j, uint64_t *removed, uint64_t snapshot_seq)
{
    return lx_journal_compact_fds(j, removed, snapshot_seq, NULL, 0, NULL);
}
