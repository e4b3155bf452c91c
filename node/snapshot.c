/* Engine snapshots in DATA_DIR/snapshots, with the settlement section when
 * the node settles: atomic checksummed writes, loading the newest valid one,
 * pruning old ones (docs/journal.md, "Snapshots"). */
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

/* Version 1 holds the engine bytes only; version 2 adds the settlement
 * section after them. A snapshot without a section is still written as
 * version 1, byte for byte what older nodes write and read. */
static const uint8_t magic1[8] = {'L', 'X', 'S', 'N', 'A', 'P', '0', '1'};
static const uint8_t magic2[8] = {'L', 'X', 'S', 'N', 'A', 'P', '0', '2'};
#define SNAP_HDR 64u        /* magic, seq, next_index, state hash, engine length */
#define SNAP_SECTION_LEN 8u /* version 2: the settlement section's length */
#define SNAP_TRAILER 4u

static lx_err snap_dir(char *out, size_t len, const char *data_dir)
{
    return lx__path(out, len, data_dir, "snapshots");
}

lx_err lx_snapshot_write(const char *data_dir, const lx_snapshot_meta *meta, const uint8_t *engine,
                         size_t len, const uint8_t *settle, size_t settle_len)
{
    if (!data_dir || !meta || (!engine && len) || (!settle && settle_len) || meta->seq == 0)
        return LX_EINVAL;
    char dir[4096], tmp[4096], final[4096], name[48];
    lx_err rc = snap_dir(dir, sizeof dir, data_dir);
    if (rc != LX_OK)
        return rc;
    if ((rc = lx__mkdir(data_dir)) != LX_OK || (rc = lx__mkdir(dir)) != LX_OK)
        return rc;
    snprintf(name, sizeof name, "%020" PRIu64 ".snap", meta->seq);
    if ((rc = lx__path(final, sizeof final, dir, name)) != LX_OK)
        return rc;
    snprintf(name, sizeof name, ".%020" PRIu64 ".snap.tmp", meta->seq);
    if ((rc = lx__path(tmp, sizeof tmp, dir, name)) != LX_OK)
        return rc;

    uint8_t hdr[SNAP_HDR], slen[SNAP_SECTION_LEN], trailer[SNAP_TRAILER];
    memcpy(hdr, settle_len ? magic2 : magic1, sizeof magic1);
    lx__put_u64(hdr + 8, meta->seq);
    lx__put_u64(hdr + 16, meta->next_index);
    memcpy(hdr + 24, meta->state_hash, LX_STATE_HASH_LEN);
    lx__put_u64(hdr + 56, (uint64_t)len);
    lx__put_u64(slen, (uint64_t)settle_len);
    uint32_t crc = lx__crc32c(0, hdr, sizeof hdr);
    crc = lx__crc32c(crc, engine, len);
    if (settle_len) {
        crc = lx__crc32c(crc, slen, sizeof slen);
        crc = lx__crc32c(crc, settle, settle_len);
    }
    lx__put_u32(trailer, crc);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return LX_EIO;
    uint64_t off = SNAP_HDR + (uint64_t)len;
    rc = lx__write_all(fd, hdr, sizeof hdr, 0);
    if (rc == LX_OK && len)
        rc = lx__write_all(fd, engine, len, SNAP_HDR);
    if (rc == LX_OK && settle_len) {
        rc = lx__write_all(fd, slen, sizeof slen, off);
        if (rc == LX_OK)
            rc = lx__write_all(fd, settle, settle_len, off + sizeof slen);
        off += sizeof slen + (uint64_t)settle_len;
    }
    if (rc == LX_OK)
        rc = lx__write_all(fd, trailer, sizeof trailer, off);
    if (rc == LX_OK && fsync(fd) != 0)
        rc = LX_EIO;
    if (close(fd) != 0 && rc == LX_OK)
        rc = LX_EIO;
    /* The rename publishes the file whole; the folder fsync makes the new
     * name survive a power loss. */
    if (rc == LX_OK && rename(tmp, final) != 0)
        rc = LX_EIO;
    if (rc != LX_OK) {
        unlink(tmp);
        return rc;
    }
    return lx__fsync_dir(dir);
}

/* What one snapshot file holds: the engine bytes and the settlement
 * section (none: NULL, 0), both in one malloc'd buffer. */
typedef struct snap_bytes {
    uint8_t *buf;
    size_t engine_len;
    const uint8_t *settle;
    size_t settle_len;
} snap_bytes;

/* Reads and checks one snapshot file. LX_ECORRUPT for any failed check. */
static lx_err snap_read(lx_snapshot_meta *meta, snap_bytes *out, const char *path, uint64_t seq)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return LX_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return LX_EIO;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint8_t hdr[SNAP_HDR];
    lx_err rc = LX_OK;
    int v2 = 0;
    if (size < SNAP_HDR + SNAP_TRAILER || size > SIZE_MAX)
        rc = LX_ECORRUPT;
    else if (lx__read_all(fd, hdr, sizeof hdr, 0) != LX_OK)
        rc = LX_EIO;
    else if ((memcmp(hdr, magic1, sizeof magic1) != 0 &&
              !(v2 = memcmp(hdr, magic2, sizeof magic2) == 0)) ||
             lx__get_u64(hdr + 8) != seq)
        rc = LX_ECORRUPT;
    /* Everything after the header: the engine bytes, in version 2 the
     * section's length and the section, and the trailer. */
    uint64_t n = 0, rest = 0;
    if (rc == LX_OK) {
        n = lx__get_u64(hdr + 56);
        rest = size - SNAP_HDR - SNAP_TRAILER;
    }
    if (rc == LX_OK && (n > rest || (v2 ? rest - n <= SNAP_SECTION_LEN : rest != n)))
        rc = LX_ECORRUPT;
    uint8_t *buf = NULL;
    if (rc == LX_OK && !(buf = malloc((size_t)rest + SNAP_TRAILER)))
        rc = LX_ENOMEM;
    if (rc == LX_OK && lx__read_all(fd, buf, (size_t)(rest + SNAP_TRAILER), SNAP_HDR) != LX_OK)
        rc = LX_EIO;
    close(fd);
    uint64_t m = 0;
    if (rc == LX_OK) {
        uint32_t crc = lx__crc32c(lx__crc32c(0, hdr, sizeof hdr), buf, (size_t)rest);
        if (crc != lx__get_u32(buf + rest))
            rc = LX_ECORRUPT;
        else if (v2 && (m = lx__get_u64(buf + n)) != rest - n - SNAP_SECTION_LEN)
            rc = LX_ECORRUPT;
    }
    if (rc != LX_OK) {
        free(buf);
        return rc;
    }
    meta->seq = seq;
    meta->next_index = lx__get_u64(hdr + 16);
    memcpy(meta->state_hash, hdr + 24, LX_STATE_HASH_LEN);
    out->buf = buf;
    out->engine_len = (size_t)n;
    out->settle = m ? buf + n + SNAP_SECTION_LEN : NULL;
    out->settle_len = (size_t)m;
    return LX_OK;
}

lx_err lx_snapshot_load(lx_snapshot_meta *meta, uint8_t **engine, size_t *len, uint8_t **settle,
                        size_t *settle_len, uint64_t *skipped, const char *data_dir,
                        uint64_t max_seq)
{
    if (!meta || !engine || !len || !data_dir || (settle && !settle_len))
        return LX_EINVAL;
    *engine = NULL;
    *len = 0;
    if (settle) {
        *settle = NULL;
        *settle_len = 0;
    }
    char dir[4096], path[4096], name[48];
    lx_err rc = snap_dir(dir, sizeof dir, data_dir);
    if (rc != LX_OK)
        return rc;
    uint64_t *seqs;
    size_t n;
    if ((rc = lx__list_seq_files(&seqs, &n, dir, ".snap")) != LX_OK)
        return rc;
    rc = LX_ENOTFOUND;
    snap_bytes b = {NULL, 0, NULL, 0};
    for (size_t i = n; i-- > 0;) {
        if (seqs[i] > max_seq || seqs[i] == 0)
            continue;
        snprintf(name, sizeof name, "%020" PRIu64 ".snap", seqs[i]);
        if (lx__path(path, sizeof path, dir, name) != LX_OK)
            continue;
        lx_err r = snap_read(meta, &b, path, seqs[i]);
        if (r == LX_OK) {
            rc = LX_OK;
            break;
        }
        if (r == LX_ENOMEM) {
            rc = r;
            break;
        }
        if (skipped)
            (*skipped)++;
    }
    free(seqs);
    if (rc != LX_OK)
        return rc;
    /* The section is copied out, so the engine bytes keep the buffer. */
    if (settle && b.settle_len) {
        if (!(*settle = malloc(b.settle_len))) {
            free(b.buf);
            return LX_ENOMEM;
        }
        memcpy(*settle, b.settle, b.settle_len);
        *settle_len = b.settle_len;
    }
    *engine = b.buf;
    *len = b.engine_len;
    return LX_OK;
}

/* Removes DIR/<seq>.snap (gone already is fine; the caller syncs DIR). */
static lx_err snap_unlink(const char *dir, uint64_t seq)
{
    char path[4096], name[48];
    snprintf(name, sizeof name, "%020" PRIu64 ".snap", seq);
    lx_err rc = lx__path(path, sizeof path, dir, name);
    if (rc == LX_OK && unlink(path) != 0 && errno != ENOENT)
        rc = LX_EIO;
    return rc;
}

lx_err lx_snapshot_prune(const char *data_dir, size_t keep)
{
    if (!data_dir || keep == 0)
        return LX_EINVAL;
    char dir[4096], path[4096], name[48];
    lx_err rc = snap_dir(dir, sizeof dir, data_dir);
    if (rc != LX_OK)
        return rc;
    uint64_t *seqs;
    size_t n, kept = 0, removed = 0;
    if ((rc = lx__list_seq_files(&seqs, &n, dir, ".snap")) != LX_OK)
        return rc == LX_ENOTFOUND ? LX_OK : rc;
    /* Newest first: the first keep files that pass their checks stay. A file
     * that fails them would only be passed over at load, so it goes too. */
    for (size_t i = n; i-- > 0 && rc == LX_OK;) {
        snprintf(name, sizeof name, "%020" PRIu64 ".snap", seqs[i]);
        if ((rc = lx__path(path, sizeof path, dir, name)) != LX_OK)
            break;
        if (kept < keep) {
            lx_snapshot_meta meta;
            snap_bytes b = {NULL, 0, NULL, 0};
            lx_err r = snap_read(&meta, &b, path, seqs[i]);
            free(b.buf);
            if (r == LX_ENOMEM)
                rc = r;
            if (r == LX_OK || r == LX_ENOMEM) {
                kept++;
                continue;
            }
        }
        rc = snap_unlink(dir, seqs[i]);
        removed++;
    }
    free(seqs);
    if (rc == LX_OK && removed)
        rc = lx__fsync_dir(dir);
    return rc;
}

lx_err lx_snapshot_drop_after(const char *data_dir, uint64_t seq)
{
    if (!data_dir)
        return LX_EINVAL;
    char dir[4096];
    lx_err rc = snap_dir(dir, sizeof dir, data_dir);
    if (rc != LX_OK)
        return rc;
    uint64_t *seqs;
    size_t n, removed = 0;
    if ((rc = lx__list_seq_files(&seqs, &n, dir, ".snap")) != LX_OK)
        return rc == LX_ENOTFOUND ? LX_OK : rc;
    for (size_t i = 0; i < n && rc == LX_OK; i++)
        if (seqs[i] > seq) {
            rc = snap_unlink(dir, seqs[i]);
            removed++;
        }
    free(seqs);
    if (rc == LX_OK && removed)
        rc = lx__fsync_dir(dir);
    return rc;
}
