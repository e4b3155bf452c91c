/* lx-journal: dumps a node's journal as JSON Lines (the events it replays to,
 * or its log entries) and verifies its checksums, sequence and state hash. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

#define EXIT_USAGE 2
#define EXIT_CORRUPT 3

static const char usage[] =
    "usage: lx-journal --data-dir DIR [--commands | --verify] [--from SEQ] [--to SEQ]\n"
    "\n"
    "Reads DIR/journal (and DIR/snapshots when the journal was compacted) without\n"
    "changing anything, and writes JSON Lines to standard output.\n"
    "\n"
    "  (default)     the events of replaying the blocks, in the lx-replay format\n"
    "  --commands    the log entries, in the lx-replay command format plus \"seq\"\n"
    "  --verify      check every record, the sequence and the state hash; print a\n"
    "                summary line; exit 0 if sound, 3 if corrupt\n"
    "  --from SEQ    first block to print (default: the first)\n"
    "  --to SEQ      last block to print (default: the last)\n"
    "  --help        print this and exit\n"
    "\n"
    "Exit status: 0 ok, 1 an error (such as a missing folder), 2 bad usage,\n"
    "3 corrupt data.\n";

typedef struct opts {
    const char *dir;
    int commands, verify;
    uint64_t from, to;
} opts;

static int parse_u64(uint64_t *out, const char *s)
{
    uint64_t v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* Writes s as a JSON string. */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *side_str(uint8_t s)
{
    return s == LX_BUY ? "buy" : "sell";
}

static const char *tif_str(uint8_t t)
{
    return t == LX_GTC ? "gtc" : t == LX_IOC ? "ioc" : "fok";
}

static const char *stp_str(uint8_t s)
{
    return s == LX_STP_EXPIRE_MAKER   ? "expire_maker"
           : s == LX_STP_EXPIRE_TAKER ? "expire_taker"
                                      : "expire_both";
}

/* One entry in the lx-replay command format plus "seq". Accounts are engine
 * ids, written as decimal strings; a market is named when it existed, else
 * written as its id. */
static void print_entry(const lx_engine *e, uint32_t markets_known, uint64_t seq,
                        const lx_entry *ent)
{
    FILE *f = stdout;
    if (ent->is_market) {
        const lx_market_spec *m = &ent->market;
        fputs("{\"op\":\"market\",\"market\":", f);
        jstr(f, m->name);
        fputs(",\"base\":", f);
        jstr(f, m->base);
        fputs(",\"quote\":", f);
        jstr(f, m->quote);
        fprintf(f,
                ",\"lot\":%" PRIu64 ",\"tick\":%" PRIu64 ",\"min_qty\":%" PRIu64
                ",\"maker_fee_bps\":%" PRIu32 ",\"taker_fee_bps\":%" PRIu32,
                m->lot, m->tick, m->min_qty, m->maker_fee_bps, m->taker_fee_bps);
    } else {
        const lx_cmd *c = &ent->cmd;
        switch (c->type) {
        case LX_CMD_DEPOSIT:
        case LX_CMD_WITHDRAW:
            fprintf(f, "{\"op\":\"%s\",\"account\":\"%" PRIu64 "\",\"asset\":",
                    c->type == LX_CMD_DEPOSIT ? "deposit" : "withdraw", c->u.transfer.account);
            jstr(f, c->u.transfer.asset);
            fprintf(f, ",\"amount\":%" PRIu64, c->u.transfer.amount);
            break;
        case LX_CMD_ORDER: {
            const lx_order_cmd *o = &c->u.order;
            lx_market_spec spec;
            fprintf(f,
                    "{\"op\":\"order\",\"id\":%" PRIu64 ",\"account\":\"%" PRIu64 "\",\"market\":",
                    o->id, o->account);
            if (o->market < markets_known && lx_engine_market_info(e, &spec, o->market) == LX_OK)
                jstr(f, spec.name);
            else
                fprintf(f, "%" PRIu32, o->market);
            fprintf(f,
                    ",\"side\":\"%s\",\"type\":\"%s\",\"tif\":\"%s\",\"post_only\":%s,"
                    "\"price\":%" PRIu64 ",\"qty\":%" PRIu64 ",\"stp\":\"%s\"",
                    side_str(o->side), o->type == LX_LIMIT ? "limit" : "market", tif_str(o->tif),
                    o->post_only ? "true" : "false", o->price, o->qty, stp_str(o->stp));
            break;
        }
        case LX_CMD_CANCEL:
            fprintf(f, "{\"op\":\"cancel\",\"id\":%" PRIu64 ",\"account\":\"%" PRIu64 "\"",
                    c->u.cancel.id, c->u.cancel.account);
            break;
        case LX_ENTRY_CHAIN_DEPOSIT:
        case LX_ENTRY_WITHDRAW_TO: {
            char hx[65];
            const uint8_t *b =
                c->type == LX_ENTRY_CHAIN_DEPOSIT ? ent->settle.tx_id : ent->settle.dest;
            int nb = c->type == LX_ENTRY_CHAIN_DEPOSIT ? 32 : 20;
            for (int k = 0; k < nb; k++)
                snprintf(hx + 2 * k, 3, "%02x", b[k]);
            fprintf(f, "{\"op\":\"%s\",\"account\":\"%" PRIu64 "\",\"asset\":",
                    c->type == LX_ENTRY_CHAIN_DEPOSIT ? "chain_deposit" : "withdraw_to",
                    c->u.transfer.account);
            jstr(f, c->u.transfer.asset);
            fprintf(f, ",\"amount\":%" PRIu64, c->u.transfer.amount);
            if (c->type == LX_ENTRY_CHAIN_DEPOSIT)
                fprintf(f, ",\"tx_id\":\"%s\",\"index\":%" PRIu32, hx, ent->settle.index);
            else
                fprintf(f, ",\"dest\":\"%s\"", hx);
            break;
        }
        case LX_ENTRY_BATCH_CLOSE:
            fprintf(f, "{\"op\":\"batch_close\",\"batch\":%" PRIu64 ",\"now\":%" PRIu64,
                    ent->settle.number, ent->settle.now);
            break;
        case LX_ENTRY_BATCH_SETTLED: {
            char hx[65];
            for (int k = 0; k < 32; k++)
                snprintf(hx + 2 * k, 3, "%02x", ent->settle.tx_id[k]);
            fprintf(f, "{\"op\":\"batch_settled\",\"batch\":%" PRIu64 ",\"tx_id\":\"%s\"",
                    ent->settle.number, hx);
            break;
        }
        default: /* LX_CMD_REPLACE: the decoder admits nothing else */
            fprintf(f,
                    "{\"op\":\"replace\",\"id\":%" PRIu64 ",\"account\":\"%" PRIu64
                    "\",\"price\":%" PRIu64 ",\"qty\":%" PRIu64,
                    c->u.replace.id, c->u.replace.account, c->u.replace.price, c->u.replace.qty);
            break;
        }
    }
    fprintf(f, ",\"seq\":%" PRIu64 "}\n", seq);
}

typedef struct run {
    const opts *o;
    lx_engine *engine;
    lx_cmdjson *cj;
    lx_events evs;
    lx_block blk;
    uint8_t hash[LX_STATE_HASH_LEN];
    uint64_t start; /* blocks up to this seq are in the engine already */
    uint64_t blocks, entries;
    lx_snapshot_meta *snaps; /* valid snapshots, to compare hashes with */
    size_t nsnaps, snaps_checked;
    char err[256];
} run;

static lx_err on_block(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    run *r = arg;
    lx_err rc = lx_block_decode(&r->blk, data, len);
    if (rc != LX_OK) {
        snprintf(r->err, sizeof r->err, "block %" PRIu64 " does not decode: %s", seq,
                 lx_strerror(rc));
        return rc == LX_ENOMEM ? rc : LX_ECORRUPT;
    }
    r->blocks++;
    r->entries += r->blk.hdr.count;
    if (seq <= r->start)
        return LX_OK; /* covered by the snapshot the replay started from */
    uint32_t markets_before = (uint32_t)lx_engine_market_count(r->engine);
    lx_events_clear(&r->evs);
    if ((rc = lx_block_apply(r->engine, &r->evs, r->hash, &r->blk)) != LX_OK) {
        snprintf(r->err, sizeof r->err, "block %" PRIu64 ": %s", seq, lx_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < r->nsnaps; i++) {
        if (r->snaps[i].seq != seq)
            continue;
        r->snaps_checked++;
        if (memcmp(r->snaps[i].state_hash, r->hash, LX_STATE_HASH_LEN) != 0) {
            snprintf(r->err, sizeof r->err,
                     "the snapshot of block %" PRIu64 " has another state hash", seq);
            return LX_ECORRUPT;
        }
    }
    if (r->o->verify || seq < r->o->from || seq > r->o->to)
        return LX_OK;
    if (r->o->commands) {
        /* The k-th market entry made the k-th market event: an order names a
         * market that existed when it was applied. */
        uint32_t known = markets_before;
        size_t ev = 0;
        for (uint32_t i = 0; i < r->blk.hdr.count; i++) {
            const lx_entry *ent = &r->blk.entries[i];
            print_entry(r->engine, known, seq, ent);
            if (!ent->is_market)
                continue;
            while (ev < r->evs.n && r->evs.v[ev].cmd != LX_CMD_MARKET)
                ev++;
            if (ev < r->evs.n && r->evs.v[ev++].type == LX_EV_MARKET)
                known++;
        }
        return LX_OK;
    }
    char line[8192];
    for (size_t i = 0; i < r->evs.n; i++) {
        size_t n = lx_cmdjson_format_event(r->cj, r->engine, line, sizeof line, &r->evs.v[i]);
        if (n == 0) {
            snprintf(r->err, sizeof r->err, "block %" PRIu64 ": an event could not be written",
                     seq);
            return LX_EFORMAT;
        }
        fwrite(line, 1, n, stdout);
    }
    return LX_OK;
}

/* Collects every valid snapshot's header, newest first. */
static lx_err list_snapshots(run *r)
{
    uint64_t max = UINT64_MAX;
    for (;;) {
        lx_snapshot_meta m;
        uint8_t *bytes;
        size_t len;
        lx_err rc = lx_snapshot_load(&m, &bytes, &len, NULL, NULL, NULL, r->o->dir, max);
        if (rc == LX_ENOTFOUND)
            return LX_OK;
        if (rc != LX_OK)
            return rc;
        free(bytes);
        lx_snapshot_meta *v = realloc(r->snaps, (r->nsnaps + 1) * sizeof *v);
        if (!v)
            return LX_ENOMEM;
        r->snaps = v;
        r->snaps[r->nsnaps++] = m;
        if (m.seq <= 1)
            return LX_OK;
        max = m.seq - 1;
    }
}

/* Sets up the engine the replay starts from: empty when the journal begins at
 * block 1, else the newest snapshot in [first - 1, limit] that restores. */
static lx_err start_engine(run *r, uint64_t first, uint64_t limit)
{
    lx_engine_config cfg = {.fee_account = 0};
    if (first <= 1) {
        r->start = 0;
        return lx_engine_new(&r->engine, &cfg);
    }
    for (size_t i = 0; i < r->nsnaps; i++) {
        const lx_snapshot_meta *m = &r->snaps[i];
        if (m->seq > limit || m->seq + 1 < first)
            continue;
        uint8_t *bytes;
        size_t len;
        lx_snapshot_meta got;
        if (lx_snapshot_load(&got, &bytes, &len, NULL, NULL, NULL, r->o->dir, m->seq) != LX_OK)
            continue;
        lx_err rc = got.seq == m->seq ? lx_engine_restore(&r->engine, bytes, len) : LX_ECORRUPT;
        free(bytes);
        if (rc == LX_OK) {
            r->start = m->seq;
            memcpy(r->hash, m->state_hash, LX_STATE_HASH_LEN);
            return LX_OK;
        }
    }
    snprintf(r->err, sizeof r->err,
             "the journal starts at block %" PRIu64
             " and no valid snapshot lies between block %" PRIu64 " and block %" PRIu64,
             first, first - 1, limit);
    return LX_ENOTFOUND;
}

int main(int argc, char **argv)
{
    opts o = {.from = 0, .to = UINT64_MAX};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--commands")) {
            o.commands = 1;
        } else if (!strcmp(a, "--verify")) {
            o.verify = 1;
        } else if (i + 1 < argc && !strcmp(a, "--data-dir")) {
            o.dir = argv[++i];
        } else if (i + 1 < argc && (!strcmp(a, "--from") || !strcmp(a, "--to"))) {
            if (!parse_u64(a[2] == 'f' ? &o.from : &o.to, argv[++i])) {
                fprintf(stderr, "lx-journal: %s needs a block number, not \"%s\"\n", a, argv[i]);
                return EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "lx-journal: unknown or incomplete argument \"%s\"\n%s", a, usage);
            return EXIT_USAGE;
        }
    }
    if (!o.dir || !*o.dir) {
        fprintf(stderr, "lx-journal: --data-dir is required\n%s", usage);
        return EXIT_USAGE;
    }
    if (o.commands && o.verify) {
        fprintf(stderr, "lx-journal: --commands and --verify do not go together\n");
        return EXIT_USAGE;
    }

    lx_journal_opts jo = {.read_only = 1};
    lx_journal_info info;
    lx_journal *j = NULL;
    lx_err rc = lx_journal_open(&j, &info, o.dir, &jo);
    if (rc == LX_ENOTFOUND) {
        fprintf(stderr, "lx-journal: %s/journal: no such folder\n", o.dir);
        return 1;
    }
    if (rc == LX_ECORRUPT) {
        if (o.verify) {
            printf("{\"ok\":false,\"error\":");
            jstr(stdout, info.reason);
            printf(",\"file\":");
            jstr(stdout, info.path);
            printf(",\"offset\":%" PRIu64 "}\n", info.offset);
        }
        fprintf(stderr, "lx-journal: %s: offset %" PRIu64 ": %s\n", info.path, info.offset,
                info.reason);
        return EXIT_CORRUPT;
    }
    if (rc != LX_OK) {
        fprintf(stderr, "lx-journal: %s: %s%s%s\n", info.path[0] ? info.path : o.dir,
                lx_strerror(rc), info.reason[0] ? ": " : "", info.reason);
        return 1;
    }
    if (info.torn_records)
        fprintf(stderr,
                "lx-journal: a torn last record (%" PRIu64
                " bytes) is ignored; the node cuts it on its next start\n",
                info.torn_bytes);

    run r;
    memset(&r, 0, sizeof r);
    r.o = &o;
    lx_events_init(&r.evs);
    lx_block_init(&r.blk);
    int status = 0;
    uint64_t first = lx_journal_first_seq(j), last = lx_journal_last_seq(j);
    if ((rc = lx_cmdjson_new(&r.cj)) == LX_OK)
        rc = list_snapshots(&r);
    if (rc == LX_OK && first) {
        uint64_t limit = o.verify ? last : (o.from > 0 ? o.from - 1 : 0);
        if (limit < first - 1)
            limit = first - 1;
        rc = start_engine(&r, first, limit);
    }
    if (rc == LX_OK && first) {
        uint64_t to = o.verify ? last : o.to;
        rc = lx_journal_foreach(j, first, to, on_block, &r);
    }
    if (rc != LX_OK) {
        status = rc == LX_ECORRUPT ? EXIT_CORRUPT : 1;
        if (!r.err[0])
            snprintf(r.err, sizeof r.err, "%s", lx_strerror(rc));
        if (o.verify) {
            printf("{\"ok\":false,\"error\":");
            jstr(stdout, r.err);
            printf("}\n");
        }
        fprintf(stderr, "lx-journal: %s\n", r.err);
    } else if (o.verify) {
        char h[2 * LX_STATE_HASH_LEN + 1];
        hex(h, r.hash, LX_STATE_HASH_LEN);
        printf("{\"ok\":true,\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"blocks\":%" PRIu64
               ",\"entries\":%" PRIu64 ",\"segments\":%" PRIu64 ",\"torn_records\":%" PRIu64
               ",\"replayed_from\":%" PRIu64 ",\"snapshots_checked\":%zu,\"state_hash\":\"%s\"}\n",
               first, last, r.blocks, r.entries, info.segments, info.torn_records, r.start,
               r.snaps_checked, h);
    }
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "lx-journal: cannot write the output\n");
        status = 1;
    }
    free(r.snaps);
    lx_cmdjson_free(&r.cj);
    lx_block_free(&r.blk);
    lx_events_free(&r.evs);
    lx_engine_free(&r.engine);
    lx_journal_free(&j);
    return status;
}
