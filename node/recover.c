/* Restart recovery: the newest usable snapshot plus the journal blocks after
 * it, applied through lx_block_apply, give back the engine and state hash. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

typedef struct replay {
    lx_engine *engine;
    lx_events evs;
    lx_block blk;
    uint8_t hash[LX_STATE_HASH_LEN];
    uint64_t blocks;
} replay;

static lx_err replay_block(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    replay *r = arg;
    (void)seq;
    lx_err rc = lx_block_decode(&r->blk, data, len);
    if (rc != LX_OK)
        return rc == LX_ENOMEM ? rc : LX_ECORRUPT;
    lx_events_clear(&r->evs);
    if ((rc = lx_block_apply(r->engine, &r->evs, r->hash, &r->blk)) != LX_OK)
        return rc;
    r->blocks++;
    return LX_OK;
}

#define SAY(...)                                                                                   \
    do {                                                                                           \
        if (err && errlen)                                                                         \
            snprintf(err, errlen, __VA_ARGS__);                                                    \
    } while (0)

lx_err lx_recover(lx_journal **jout, lx_recovery *out, char *err, size_t errlen,
                  const char *data_dir, const lx_journal_opts *opts, const lx_engine_config *cfg)
{
    if (!jout || !out || !data_dir || !cfg)
        return LX_EINVAL;
    *jout = NULL;
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;

    lx_journal *j;
    lx_journal_info info;
    lx_err rc = lx_journal_open(&j, &info, data_dir, opts);
    if (rc == LX_ECORRUPT) {
        SAY("%s: offset %" PRIu64 ": %s", info.path, info.offset, info.reason);
        return rc;
    }
    if (rc != LX_OK) {
        SAY("journal: %s%s%s%s%s", lx_strerror(rc), info.path[0] ? ": " : "", info.path,
            info.reason[0] ? ": " : "", info.reason);
        return rc;
    }
    out->torn_records = info.torn_records;
    uint64_t first = lx_journal_first_seq(j), last = lx_journal_last_seq(j);

    replay r;
    memset(&r, 0, sizeof r);
    lx_events_init(&r.evs);
    lx_block_init(&r.blk);

    /* The newest snapshot that restores and that the journal continues: one
     * ahead of the journal holds blocks the journal no longer has (it was
     * truncated), so it is passed over like an invalid one. */
    uint64_t max_seq = UINT64_MAX;
    lx_snapshot_meta meta;
    memset(&meta, 0, sizeof meta);
    for (;;) {
        uint8_t *bytes;
        size_t n;
        rc = lx_snapshot_load(&meta, &bytes, &n, NULL, NULL, &out->snapshots_skipped, data_dir,
                              max_seq);
        if (rc != LX_OK)
            break;
        int ahead = first && meta.seq > last;
        if (!ahead && lx_engine_restore(&r.engine, bytes, n) == LX_OK) {
            free(bytes);
            break;
        }
        free(bytes);
        out->snapshots_skipped++;
        max_seq = meta.seq - 1;
    }
    if (rc == LX_ENOTFOUND) {
        memset(&meta, 0, sizeof meta);
        rc = lx_engine_new(&r.engine, cfg);
    }
    if (rc != LX_OK) {
        SAY("snapshot: %s", lx_strerror(rc));
        goto fail;
    }
    if (first && meta.seq + 1 < first) {
        rc = LX_ECORRUPT;
        SAY("journal starts at block %" PRIu64 " but no usable snapshot reaches block %" PRIu64,
            first, first - 1);
        goto fail;
    }
    memcpy(r.hash, meta.state_hash, sizeof r.hash);
    if (first && meta.seq < last) {
        rc = lx_journal_foreach(j, meta.seq + 1, last, replay_block, &r);
        if (rc != LX_OK) {
            SAY("replaying block %" PRIu64 ": %s", meta.seq + 1 + r.blocks, lx_strerror(rc));
            goto fail;
        }
    }
    out->engine = r.engine;
    out->last_seq = first ? last : meta.seq;
    out->next_index = first ? lx_journal_next_index(j) : meta.next_index;
    if (!out->next_index)
        out->next_index = 1;
    memcpy(out->state_hash, r.hash, sizeof r.hash);
    out->snapshot_seq = meta.seq;
    out->blocks_replayed = r.blocks;
    lx_events_free(&r.evs);
    lx_block_free(&r.blk);
    *jout = j;
    return LX_OK;
fail:
    lx_engine_free(&r.engine);
    lx_events_free(&r.evs);
    lx_block_free(&r.blk);
    lx_journal_free(&j);
    return rc;
}
