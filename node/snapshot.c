/* Engine snapshots in DATA_DIR/snapshots: atomic checksummed writes, loading
 * the newest valid one, pruning old ones. */
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

static const uint8_t magic[8] = {'L', 'X', 'S', 'N', 'A', 'P', '0', '1'};
#define SNAP_HDR 64u /* magic, seq, next_index, state hash, engine length */
#define SNAP_TRAILER 4u

static lx_err snap_dir(char *out, size_t len, const char *data_dir)
{
    return lx__path(out, len, data_dir, "snapshots");
}

lx_err lx_snapshot_write(const char *data_dir, const lx_snapshot_meta *meta, const uint8_t *engine,
                         size_t len)
{
    if (!data_dir || !meta || (!engine && len) || meta->seq == 0)
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

    uint8_t hdr[SNAP_HDR], trailer[SNAP_TRAILER];
    memcpy(hdr, magic, sizeof magic);
    lx__put_u64(hdr + 8, meta->seq);
    lx__put_u64(hdr + 16, meta->next_index);
    memcpy(hdr + 24, meta->state_hash, LX_STATE_HASH_LEN);
    lx__put_u64(hdr + 56, (uint64_t)len);
    uint32_t crc = lx__crc32c(0, hdr, sizeof hdr);
    crc = lx__crc32c(crc, engine, len);
    lx__put_u32(trailer, crc);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return LX_EIO;
    rc = lx__write_all(fd, hdr, sizeof hdr, 0);
    if (rc == LX_OK && len)
        rc = lx__write_all(fd, engine, len, SNAP_HDR);
    if (rc == LX_OK)
        rc = lx__write_all(fd, trailer, sizeof trailer, SNAP_HDR + (uint64_t)len);
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

/* Reads and checks one snapshot file. LX_ECORRUPT for any failed check. */
static lx_err snap_read(lx_snapshot_meta *meta, uint8_t **engine, size_t *len, const char *path,
                        uint64_t seq)
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
    uint8_t hdr[SNAP_HDR], trailer[SNAP_TRAILER];
    lx_err rc = LX_OK;
    if (size < SNAP_HDR + SNAP_TRAILER || size > SIZE_MAX)
        rc = LX_ECORRUPT;
    else if (lx__read_all(fd, hdr, sizeof hdr, 0) != LX_OK)
        rc = LX_EIO;
    else if (memcmp(hdr, magic, sizeof magic) != 0 || lx__get_u64(hdr + 8) != seq ||
             lx__get_u64(hdr + 56) != size - SNAP_HDR - SNAP_TRAILER)
        rc = LX_ECORRUPT;
    if (rc != LX_OK) {
        close(fd);
        return rc;
    }
    size_t n = (size_t)(size - SNAP_HDR - SNAP_TRAILER);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return LX_ENOMEM;
    }
    if (lx__read_all(fd, buf, n, SNAP_HDR) != LX_OK ||
        lx__read_all(fd, trailer, sizeof trailer, SNAP_HDR + (uint64_t)n) != LX_OK)
        rc = LX_EIO;
    close(fd);
    if (rc == LX_OK) {
        uint32_t crc = lx__crc32c(lx__crc32c(0, hdr, sizeof hdr), buf, n);
        if (crc != lx__get_u32(trailer))
            rc = LX_ECORRUPT;
    }
    if (rc != LX_OK) {
        free(buf);
        return rc;
    }
    meta->seq = seq;
    meta->next_index = lx__get_u64(hdr + 16);
    memcpy(meta->state_hash, hdr + 24, LX_STATE_HASH_LEN);
    *engine = buf;
    *len = n;
    return LX_OK;
}

lx_err lx_snapshot_load(lx_snapshot_meta *meta, uint8_t **engine, size_t *len, uint64_t *skipped,
                        const char *data_dir, uint64_t max_seq)
{
    if (!meta || !engine || !len || !data_dir)
        return LX_EINVAL;
    *engine = NULL;
    *len = 0;
    char dir[4096], path[4096], name[48];
    lx_err rc = snap_dir(dir, sizeof dir, data_dir);
    if (rc != LX_OK)
        return rc;
    uint64_t *seqs;
    size_t n;
    if ((rc = lx__list_seq_files(&seqs, &n, dir, ".snap")) != LX_OK)
        return rc;
    rc = LX_ENOTFOUND;
    for (size_t i = n; i-- > 0;) {
        if (seqs[i] > max_seq || seqs[i] == 0)
            continue;
        snprintf(name, sizeof name, "%020" PRIu64 ".snap", seqs[i]);
        if (lx__path(path, sizeof path, dir, name) != LX_OK)
            continue;
        lx_err r = snap_read(meta, engine, len, path, seqs[i]);
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
    return rc;
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
            uint8_t *bytes = NULL;
            size_t len;
            lx_err r = snap_read(&meta, &bytes, &len, path, seqs[i]);
            free(bytes);
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
