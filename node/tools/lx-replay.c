/* lx-replay: applies JSON Lines commands to a fresh engine and prints its
 * events as JSON Lines, in engine order (docs/replay.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

#define READ_CHUNK 65536
#define EVENT_LINE_MAX 4096 /* an event line: names are capped, so this fits any */

static const char usage[] =
    "usage: lx-replay [--final] [--fee-account NAME] [FILE]\n"
    "\n"
    "Reads commands as JSON Lines from FILE (standard input if FILE is missing\n"
    "or '-'), applies them to a new engine and writes its events as JSON Lines\n"
    "to standard output. A malformed line gives an \"error\" event and the rest\n"
    "still runs. The format is described in docs/replay.md.\n"
    "\n"
    "  --final             after the last line, print every non-zero balance\n"
    "                      and the depth of every market\n"
    "  --fee-account NAME  name of the fee account, id 0 (default \"fees\")\n"
    "  --help              print this help and exit\n"
    "\n"
    "Exit status: 0 if every line was good, 2 if any line was malformed,\n"
    "1 on a usage error, an unreadable file or an output error.\n";

/* ---- reading lines with a cap ---- */

typedef struct reader {
    FILE *in;
    char chunk[READ_CHUNK];
    size_t cpos, clen;
    char *line; /* the current line, not NUL-terminated */
    size_t n, cap;
    bool too_long; /* the current line passed LX_CMDJSON_LINE_MAX bytes */
} reader;

/* Appends up to the cap; what is past it is dropped and flagged. */
static int line_append(reader *r, const char *s, size_t k)
{
    if (r->too_long)
        return 0;
    if (k > LX_CMDJSON_LINE_MAX - r->n) {
        r->too_long = true;
        return 0;
    }
    if (r->n + k > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->n + k)
            cap *= 2;
        char *p = realloc(r->line, cap);
        if (!p)
            return -1;
        r->line = p;
        r->cap = cap;
    }
    memcpy(r->line + r->n, s, k);
    r->n += k;
    return 0;
}

/* Reads the next line without its '\n': 1 for a line, 0 at the end, -1 on a
 * read error (errno set) and -2 when out of memory. */
static int read_line(reader *r)
{
    bool any = false;
    r->n = 0;
    r->too_long = false;
    for (;;) {
        if (r->cpos == r->clen) {
            r->clen = fread(r->chunk, 1, sizeof(r->chunk), r->in);
            r->cpos = 0;
            if (r->clen == 0)
                return ferror(r->in) ? -1 : (any ? 1 : 0);
        }
        any = true;
        const char *start = r->chunk + r->cpos;
        size_t avail = r->clen - r->cpos;
        const char *nl = memchr(start, '\n', avail);
        size_t k = nl ? (size_t)(nl - start) : avail;
        if (line_append(r, start, k) != 0)
            return -2;
        r->cpos += nl ? k + 1 : k;
        if (nl)
            return 1;
    }
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* ---- output ---- */

static void emit(const char *s, size_t n)
{
    fwrite(s, 1, n, stdout);
}

static void emit_events(const lx_cmdjson *cj, const lx_engine *e, const lx_events *evs)
{
    char buf[EVENT_LINE_MAX];
    for (size_t i = 0; i < evs->n; i++) {
        size_t n = lx_cmdjson_format_event(cj, e, buf, sizeof(buf), &evs->v[i]);
        LX_ASSERT(n > 0);
        emit(buf, n);
    }
}

typedef struct named_balance {
    const char *account;
    const char *asset;
    lx_balance b;
} named_balance;

typedef struct balance_list {
    const lx_cmdjson *cj;
    const lx_engine *e;
    named_balance *v;
    size_t n, cap;
} balance_list;

static int collect_balance(void *arg, const lx_balance *b)
{
    balance_list *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        named_balance *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return 1;
        l->v = v;
        l->cap = cap;
    }
    const char *name = lx_cmdjson_account_name(l->cj, b->account);
    const char *sym = lx_engine_asset_symbol(l->e, b->asset);
    l->v[l->n].account = name ? name : "";
    l->v[l->n].asset = sym ? sym : "";
    l->v[l->n].b = *b;
    l->n++;
    return 0;
}

static int balance_cmp(const void *pa, const void *pb)
{
    const named_balance *a = pa, *b = pb;
    int c = strcmp(a->account, b->account);
    return c ? c : strcmp(a->asset, b->asset);
}

/* Prints the balances by account name then asset symbol, then every book.
 * Returns false if memory ran out. */
static bool emit_final(const lx_cmdjson *cj, const lx_engine *e)
{
    char buf[EVENT_LINE_MAX];
    balance_list l = {cj, e, NULL, 0, 0};
    if (lx_engine_foreach_balance(e, collect_balance, &l) != 0) {
        free(l.v);
        return false;
    }
    if (l.n > 0)
        qsort(l.v, l.n, sizeof(*l.v), balance_cmp);
    for (size_t i = 0; i < l.n; i++) {
        size_t n = lx_cmdjson_format_balance(cj, e, buf, sizeof(buf), &l.v[i].b);
        LX_ASSERT(n > 0);
        emit(buf, n);
    }
    free(l.v);

    /* A side has at most one level per open order. */
    size_t max = lx_engine_order_count(e) + 1;
    lx_level *bids = calloc(max, sizeof(*bids));
    lx_level *asks = calloc(max, sizeof(*asks));
    size_t cap = 4096;
    char *line = malloc(cap);
    bool ok = bids && asks && line;
    for (size_t m = 0; ok && m < lx_engine_market_count(e); m++) {
        size_t nb = 0, na = 0;
        lx_err rc = lx_engine_depth(e, bids, &nb, asks, &na, (uint32_t)m, max);
        LX_ASSERT(rc == LX_OK);
        size_t n;
        while ((n = lx_cmdjson_format_book(e, line, cap, (uint32_t)m, bids, nb, asks, na)) == 0) {
            char *p = realloc(line, cap * 2);
            if (!p) {
                ok = false;
                break;
            }
            line = p;
            cap *= 2;
        }
        if (ok)
            emit(line, n);
    }
    free(bids);
    free(asks);
    free(line);
    return ok;
}

/* ---- main ---- */

typedef struct options {
    bool final;
    const char *fee_name;
    const char *path;
} options;

/* Returns 0 to run, 1 for a usage error, -1 after --help. */
static int parse_args(options *o, int argc, char **argv)
{
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return -1;
        } else if (!only_files && strcmp(a, "--final") == 0) {
            o->final = true;
        } else if (!only_files && strcmp(a, "--fee-account") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lx-replay: --fee-account needs a name\n");
                return 1;
            }
            o->fee_name = argv[++i];
        } else if (!only_files && strcmp(a, "--") == 0) {
            only_files = true;
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "lx-replay: unknown option %s\n%s", a, usage);
            return 1;
        } else if (o->path) {
            fprintf(stderr, "lx-replay: more than one FILE\n%s", usage);
            return 1;
        } else {
            o->path = a;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    options opt = {false, NULL, NULL};
    int a = parse_args(&opt, argc, argv);
    if (a != 0)
        return a < 0 ? 0 : 1;

    reader *r = calloc(1, sizeof(*r));
    lx_cmdjson *cj = NULL;
    lx_engine *e = NULL;
    lx_engine_config cfg = {0};
    lx_events evs;
    lx_events_init(&evs);
    int status = 0;
    bool bad_line = false;

    if (!r || lx_cmdjson_new(&cj) != LX_OK || lx_engine_new(&e, &cfg) != LX_OK) {
        fprintf(stderr, "lx-replay: out of memory\n");
        status = 1;
        goto done;
    }
    if (opt.fee_name && lx_cmdjson_set_fee_name(cj, opt.fee_name) != LX_OK) {
        fprintf(stderr,
                "lx-replay: bad --fee-account name (1 to %d bytes, no control characters)\n",
                LX_ACCOUNT_NAME_MAX);
        status = 1;
        goto done;
    }
    const char *src = "standard input";
    r->in = stdin;
    if (opt.path && strcmp(opt.path, "-") != 0) {
        src = opt.path;
        r->in = fopen(opt.path, "rb");
        if (!r->in) {
            fprintf(stderr, "lx-replay: cannot open %s: %s\n", opt.path, strerror(errno));
            status = 1;
            goto done;
        }
    }

    char why[256];
    char out[EVENT_LINE_MAX];
    uint64_t lineno = 0;
    for (;;) {
        int got = read_line(r);
        if (got == 0)
            break;
        if (got == -1) {
            fprintf(stderr, "lx-replay: cannot read %s: %s\n", src, strerror(errno));
            status = 1;
            goto done;
        }
        if (got == -2) {
            fprintf(stderr, "lx-replay: out of memory at line %" PRIu64 "\n", lineno + 1);
            status = 1;
            goto done;
        }
        lineno++;
        if (!r->too_long && blank(r->line, r->n))
            continue;

        lx_parsed cmd;
        lx_err rc;
        if (r->too_long) {
            snprintf(why, sizeof(why), "line is longer than %zu bytes", LX_CMDJSON_LINE_MAX);
            rc = LX_ETOOBIG;
        } else {
            rc = lx_cmdjson_parse(cj, &cmd, why, sizeof(why), e, r->line, r->n);
        }
        if (rc == LX_EFORMAT || rc == LX_ETOOBIG) {
            size_t n = lx_cmdjson_format_error(out, sizeof(out), lineno, why);
            LX_ASSERT(n > 0);
            emit(out, n);
            bad_line = true;
            continue;
        }
        if (rc == LX_OK) {
            lx_events_clear(&evs);
            rc = cmd.is_market ? lx_engine_add_market(e, &evs, &cmd.market)
                               : lx_engine_apply(e, &evs, &cmd.cmd);
        }
        if (rc != LX_OK) {
            fprintf(stderr, "lx-replay: line %" PRIu64 ": %s\n", lineno, lx_strerror(rc));
            status = 1;
            goto done;
        }
        emit_events(cj, e, &evs);
    }

    if (opt.final && !emit_final(cj, e)) {
        fprintf(stderr, "lx-replay: out of memory\n");
        status = 1;
        goto done;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lx-replay: cannot write the output: %s\n", strerror(errno));
        status = 1;
        goto done;
    }
    status = bad_line ? 2 : 0;

done:
    if (r && r->in && r->in != stdin)
        fclose(r->in);
    if (r)
        free(r->line);
    free(r);
    lx_events_free(&evs);
    lx_engine_free(&e);
    lx_cmdjson_free(&cj);
    return status;
}
