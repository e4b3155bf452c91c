/* lx-xchain: an X-Chain wallet on the command line: keys, balances, UTXOs,
 * sends (multisig too), export and import between chains, raw issue, status
 * and decode, against luxd or lx-devnet. docs/xchain.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lx/bridge.h"

#define EXIT_USAGE 2
#define EXIT_REJECTED 3
#define EXIT_TIMEOUT 4
#define EXIT_FUNDS 5

#define MAX_KEYS 16
#define MAX_OUTS 64
#define MAX_USE 64
#define MAX_ASSETS 16
#define HEX_IN_MAX (2 * LX_TX_MAX + 64)

enum {
    C_KEYGEN = 1 << 0,
    C_ADDRESS = 1 << 1,
    C_BALANCE = 1 << 2,
    C_UTXOS = 1 << 3,
    C_SEND = 1 << 4,
    C_EXPORT = 1 << 5,
    C_IMPORT = 1 << 6,
    C_ISSUE = 1 << 7,
    C_STATUS = 1 << 8,
    C_DECODE = 1 << 9,
    C_ALL = (1 << 10) - 1,
    C_SPEND = C_SEND | C_EXPORT | C_IMPORT,
    C_PAY = C_SEND | C_EXPORT
};

static const char *const cmd_names[] = {"keygen", "address", "balance", "utxos",  "send",
                                        "export", "import",  "issue",   "status", "decode"};

static const char usage_main[] =
    "usage: lx-xchain [global options] COMMAND [options]\n"
    "\n"
    "commands (lx-xchain send --help: the options of send, export and import):\n"
    "  keygen  --key-file F         create a key, write F (0600; never replaced), print\n"
    "                               its address\n"
    "  address [SECRET]             the address of --key-file, PrivateKey-... or hex\n"
    "  balance [ADDR] [--asset A]   with --asset the node's getBalance (what ADDR alone\n"
    "                               can spend now); without, every asset from getUTXOs,\n"
    "                               \"total\" counting multisig and locked UTXOs too\n"
    "  utxos   [ADDR] [--from-chain C]  the UTXOs of ADDR; with --from-chain those\n"
    "                               exported to --chain from C (to import)\n"
    "  send    --to ADDR --amount N pay from the keys' UTXOs, wait for Accepted\n"
    "  export  --to-chain Y ...     ExportTx: move funds to another chain\n"
    "  import  --from-chain X       ImportTx: claim what was exported to this chain\n"
    "  issue   HEX|- [--timeout S]  issue signed tx bytes, wait for Accepted\n"
    "  status  TXID                 the node's status of a tx\n"
    "  decode  HEX|-                every field of a tx as JSON, and its txID\n"
    "ADDR defaults to the --key-file's address. HEX is the API's (0x..., with\n"
    "checksum) or plain hex; - reads it from stdin.\n"
    "\n"
    "global options:\n"
    "  --rpc URL        node API (default http://127.0.0.1:9630)\n"
    "  --chain ALIAS    chain to use: X (default) or Y\n"
    "  --key-file F     key file; repeat for several keys (multisig)\n"
    "  --hrp HRP        address HRP (default: from the node's network ID, else local)\n"
    "  --retries N      HTTP retries per call after 5xx, drops, timeouts (default 8)\n"
    "  --json           one JSON object on standard output, errors included\n"
    "  --help           help (also after a command)\n"
    "\n"
    "exit status: 0 ok, 1 error (node, file, RPC), 2 bad usage, 3 the node rejected\n"
    "the tx, 4 no decision before the deadline, 5 the keys' UTXOs cannot pay\n";

static const char usage_spend[] =
    "usage: lx-xchain send   --key-file F [--key-file F2 ...] OUTPUT... [options]\n"
    "       lx-xchain export --key-file F --to-chain Y [--to ADDR] --amount N [options]\n"
    "       lx-xchain import --key-file F --from-chain X [--chain Y] [options]\n"
    "\n"
    "An OUTPUT starts with --to ADDR (one owner) or --owners A,B,... (a multisig\n"
    "output); the options after it set it up:\n"
    "  --amount N        base units (nLUX for LUX), required\n"
    "  --asset A         symbol or cb58 ID (default: --asset before the first output,\n"
    "                    else the fee asset)\n"
    "  --threshold T     signatures needed to spend it (default: 1 for --to, all owners)\n"
    "  --locktime T      unix time before which it cannot be spent (default 0)\n"
    "For export the outputs are the exported ones (addresses on --to-chain; without\n"
    "--to the first key's own address). Import takes every UTXO exported to --chain\n"
    "(default: Y when --from-chain is X, else X) that the keys can spend and pays\n"
    "the fee out of them (or out of the keys' UTXOs on --chain when they hold less).\n"
    "\n"
    "options:\n"
    "  --memo TEXT        up to 256 bytes\n"
    "  --utxo TXID:IDX    spend exactly these UTXOs (repeat); default: largest first\n"
    "  --from-owners A,B  spend only UTXOs owned by exactly this address set; the\n"
    "                     change goes back to it (multisig spend: give a --key-file\n"
    "                     for each signer)\n"
    "  --fee N            fee in the fee asset (default: info.getTxFee, else 1000000)\n"
    "  --fee-asset A      the asset fees are paid in (default LUX)\n"
    "  --timeout SEC      give up waiting after SEC seconds (default 60; exit 4)\n"
    "  --dry-run          build and sign, print the tx hex and txID, do not issue\n"
    "The change goes to the first key (or the --from-owners set).\n";

typedef struct out_opt {
    const char *to, *owners, *asset, *amount, *threshold, *locktime;
} out_opt;

typedef struct opts {
    const char *rpc, *chain, *hrp, *asset, *memo, *fee, *fee_asset, *to_chain, *from_chain;
    const char *from_owners, *timeout, *retries;
    const char *key_files[MAX_KEYS];
    size_t nkeys;
    out_opt outs[MAX_OUTS];
    size_t nouts;
    const char *use[MAX_USE];
    size_t nuse;
    bool json, dry_run, help;
    const char *pos[2];
    size_t npos;
} opts;

typedef struct ctx {
    opts *o;
    unsigned cmd;
    const char *cmd_name;
    lx_rpc *rpc; /* --chain */
    lx_key *keys[MAX_KEYS];
    size_t nkeys;
    lx_wallet *w;
    lx_tx *tx;
    char hrp[24];
    lx_asset_cache *assets; /* of --chain */
} ctx;

/* ---- output and errors ---- */

static void emit(const ctx *c, json_t *j)
{
    if (j) {
        json_dumpf(j, stdout, c->o->json ? JSON_COMPACT : JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(j);
    }
}

static int fail(const ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(const ctx *c, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lx-xchain: %s%s%s\n", c->cmd_name ? c->cmd_name : "", c->cmd_name ? ": " : "",
            msg);
    if (c->o->json)
        emit(c, json_pack("{s:{s:s,s:i}}", "error", "message", msg, "exit", code));
    return code;
}

static int rpc_fail(const ctx *c, const lx_rpc *r, lx_err err, const char *what)
{
    const char *m = lx_rpc_last_error(r, NULL, NULL);
    return fail(c,
                err == LX_EREJECTED   ? EXIT_REJECTED
                : err == LX_ETIMEDOUT ? EXIT_TIMEOUT
                                      : 1,
                "%s: %s%s%s", what, lx_strerror(err), *m ? ": " : "", m);
}

static json_t *jnum(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

static json_t *jid(const uint8_t id[LX_ID_LEN])
{
    char b[LX_CB58_ID_MAX];
    return lx_id_to_cb58(b, id) == LX_OK ? json_string(b) : json_null();
}

static json_t *jhex(const uint8_t *p, size_t n)
{
    char *b = malloc(lx_hex_len(n));
    json_t *j = b && lx_hex_encode(b, lx_hex_len(n), p, n) == LX_OK ? json_string(b) : json_null();
    free(b);
    return j;
}

/* ---- parsing ---- */

static bool parse_u64(uint64_t *out, const char *s)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return false; /* strtoull would take spaces and signs */
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    *out = v;
    return *end == '\0' && errno == 0;
}

static bool valid_alias(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 60)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

enum { K_FLAG, K_STR, K_KEY, K_UTXO, K_OUT };

typedef struct optdef {
    const char *name;
    int kind;
    unsigned cmds; /* the commands it applies to */
    size_t off;    /* K_FLAG and K_STR: the field of opts */
} optdef;

#define F(field) offsetof(opts, field)
static const optdef optdefs[] = {
    {"--rpc", K_STR, C_ALL, F(rpc)},
    {"--chain", K_STR, C_ALL, F(chain)},
    {"--hrp", K_STR, C_ALL, F(hrp)},
    {"--retries", K_STR, C_ALL, F(retries)},
    {"--json", K_FLAG, C_ALL, F(json)},
    {"--help", K_FLAG, C_ALL, F(help)},
    {"--key-file", K_KEY, C_KEYGEN | C_ADDRESS | C_BALANCE | C_UTXOS | C_SPEND, 0},
    {"--asset", K_OUT, C_BALANCE | C_PAY, 0},
    {"--to", K_OUT, C_PAY, 0},
    {"--owners", K_OUT, C_PAY, 0},
    {"--amount", K_OUT, C_PAY, 0},
    {"--threshold", K_OUT, C_PAY, 0},
    {"--locktime", K_OUT, C_PAY, 0},
    {"--utxo", K_UTXO, C_PAY, 0},
    {"--memo", K_STR, C_SPEND, F(memo)},
    {"--from-owners", K_STR, C_SPEND, F(from_owners)},
    {"--fee", K_STR, C_SPEND, F(fee)},
    {"--fee-asset", K_STR, C_SPEND, F(fee_asset)},
    {"--timeout", K_STR, C_SPEND | C_ISSUE, F(timeout)},
    {"--dry-run", K_FLAG, C_SPEND, F(dry_run)},
    {"--to-chain", K_STR, C_EXPORT, F(to_chain)},
    {"--from-chain", K_STR, C_IMPORT | C_UTXOS, F(from_chain)},
};
#undef F

/* Sets an option of the output being described; --to and --owners start a new
 * one, and so does --amount after the current one has its amount. */
static bool set_out(opts *o, const char *name, const char *v)
{
    bool opens = !strcmp(name, "--to") || !strcmp(name, "--owners");
    out_opt *cur = o->nouts ? &o->outs[o->nouts - 1] : NULL;
    if (!strcmp(name, "--asset") && !cur) {
        bool first = !o->asset;
        o->asset = v;
        return first;
    }
    if (!cur || (opens && (cur->to || cur->owners)) || (!strcmp(name, "--amount") && cur->amount)) {
        if (o->nouts == MAX_OUTS)
            return false;
        cur = &o->outs[o->nouts++];
    }
    const char **slot = !strcmp(name, "--to")          ? &cur->to
                        : !strcmp(name, "--owners")    ? &cur->owners
                        : !strcmp(name, "--asset")     ? &cur->asset
                        : !strcmp(name, "--amount")    ? &cur->amount
                        : !strcmp(name, "--threshold") ? &cur->threshold
                                                       : &cur->locktime;
    if (*slot)
        return false; /* e.g. two --threshold for one output */
    *slot = v;
    return true;
}

static int parse_args(ctx *c, int argc, char **argv)
{
    opts *o = c->o;
    unsigned early = C_ALL; /* what the options before the command apply to */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "-")) {
            if (!c->cmd_name) {
                for (size_t k = 0; k < sizeof cmd_names / sizeof *cmd_names; k++)
                    if (!strcmp(a, cmd_names[k])) {
                        c->cmd = 1u << k;
                        c->cmd_name = cmd_names[k];
                    }
                if (!c->cmd_name)
                    return fail(c, EXIT_USAGE, "unknown command '%s' (see --help)", a);
            } else if (o->npos < 2) {
                o->pos[o->npos++] = a;
            } else {
                return fail(c, EXIT_USAGE, "unexpected argument '%s'", a);
            }
            continue;
        }
        const optdef *d = NULL;
        for (size_t k = 0; k < sizeof optdefs / sizeof *optdefs; k++)
            if (!strcmp(a, optdefs[k].name))
                d = &optdefs[k];
        if (!d)
            return fail(c, EXIT_USAGE, "unknown option '%s' (see --help)", a);
        if (c->cmd && !(d->cmds & c->cmd))
            return fail(c, EXIT_USAGE, "option %s does not apply to %s", a, c->cmd_name);
        const char *v = NULL;
        if (d->kind != K_FLAG && i + 1 >= argc)
            return fail(c, EXIT_USAGE, "option %s needs a value", a);
        if (d->kind != K_FLAG)
            v = argv[++i];
        if (!c->cmd)
            early &= d->cmds;
        void *field = (char *)o + d->off;
        bool ok = true;
        if (d->kind == K_FLAG)
            *(bool *)field = true;
        else if (d->kind == K_STR && (ok = !*(const char **)field))
            *(const char **)field = v;
        else if (d->kind == K_KEY && (ok = o->nkeys < MAX_KEYS))
            o->key_files[o->nkeys++] = v;
        else if (d->kind == K_UTXO && (ok = o->nuse < MAX_USE))
            o->use[o->nuse++] = v;
        else if (d->kind == K_OUT && c->cmd == C_BALANCE && (ok = !o->asset))
            o->asset = v;
        else if (d->kind == K_OUT && c->cmd != C_BALANCE)
            ok = c->cmd != 0 && set_out(o, a, v);
        if (!ok)
            return fail(c, EXIT_USAGE, "option %s given too often or before the command", a);
    }
    if (c->cmd && !(early & c->cmd))
        return fail(c, EXIT_USAGE, "an option before the command does not apply to %s",
                    c->cmd_name);
    return 0;
}

/* ---- the node ---- */

static int open_rpc(ctx *c, lx_rpc **r, const char *alias)
{
    lx_rpc_options ro;
    lx_rpc_options_init(&ro);
    ro.chain = alias;
    if (c->cmd & (C_KEYGEN | C_ADDRESS | C_DECODE)) {
        /* These only ask for the network ID, and work without a node. */
        ro.max_retries = 1;
        ro.timeout_ms = 3000;
        ro.retry_deadline_ms = 4000;
    }
    uint64_t n = 0;
    if (c->o->retries && (!parse_u64(&n, c->o->retries) || n > 100))
        return fail(c, EXIT_USAGE, "bad --retries '%s' (0..100)", c->o->retries);
    if (c->o->retries)
        ro.max_retries = (uint32_t)n;
    lx_err err = lx_rpc_new(r, c->o->rpc ? c->o->rpc : "http://127.0.0.1:9630", &ro);
    if (err != LX_OK)
        return fail(c, EXIT_USAGE, "bad --rpc URL '%s'", c->o->rpc);
    return 0;
}

/* The HRP: --hrp, else the one of the node's network ID, else "local".
 * keygen, address and decode go on without a node. */
static int need_hrp(ctx *c)
{
    uint32_t net = 0;
    const char *hrp = c->o->hrp;
    lx_err err = hrp ? LX_OK : lx_rpc_get_network_id(c->rpc, &net);
    if (err != LX_OK && !(c->cmd & (C_KEYGEN | C_ADDRESS | C_DECODE)))
        return rpc_fail(c, c->rpc, err, "info.getNetworkID");
    if (!hrp && err == LX_OK)
        hrp = lx_wallet_network_hrp(net);
    if (!hrp) {
        hrp = "local";
        fprintf(stderr, "lx-xchain: %s; using HRP local (see --hrp)\n",
                err ? "no answer from the node" : "the network has no known HRP");
    }
    size_t n = strlen(hrp);
    if (n == 0 || n >= sizeof c->hrp || strspn(hrp, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
        return fail(c, EXIT_USAGE, "bad --hrp '%s' (lower case letters and digits)", hrp);
    memcpy(c->hrp, hrp, n + 1);
    return 0;
}

static void addr_str(const ctx *c, char out[LX_ADDR_STR_MAX], const char *alias,
                     const uint8_t a[LX_ADDR_LEN])
{
    if (lx_address_encode(out, LX_ADDR_STR_MAX, alias, c->hrp, a) != LX_OK)
        snprintf(out, LX_ADDR_STR_MAX, "?");
}

/* An address "<alias>-<hrp>1..." (or without the chain prefix) for chain
 * alias, in the network's HRP. */
static int parse_addr(const ctx *c, uint8_t out[LX_ADDR_LEN], const char *s, const char *alias)
{
    char why[256];
    return lx_wallet_address_parse(out, why, sizeof why, s, alias, c->hrp) == LX_OK
               ? 0
               : fail(c, EXIT_USAGE, "%s", why);
}

/* A comma-separated address list, into out (room for MAX_KEYS). */
static int parse_addr_list(const ctx *c, uint8_t (*out)[LX_ADDR_LEN], size_t *n, const char *list,
                           const char *alias)
{
    char why[MAX_KEYS * LX_ADDR_STR_MAX + 64];
    lx_err err = lx_wallet_owners_parse(out[0], MAX_KEYS, n, why, sizeof why, list, alias, c->hrp);
    return err == LX_OK ? 0 : fail(c, EXIT_USAGE, "%s", err == LX_ENOMEM ? "out of memory" : why);
}

/* An asset by cb58 ID or by symbol, described by the node (cached). */
static int resolve_asset(ctx *c, const lx_rpc_asset **out, const char *name)
{
    lx_err err = lx_asset_cache_find(c->assets, out, name);
    if (err != LX_OK) {
        char what[128];
        snprintf(what, sizeof what, "asset '%s'", name);
        return rpc_fail(c, c->rpc, err, what);
    }
    return 0;
}

static int load_keys(ctx *c)
{
    for (size_t i = 0; i < c->o->nkeys; i++) {
        lx_err err = lx_keyfile_read(&c->keys[c->nkeys], c->o->key_files[i]);
        if (err != LX_OK)
            return fail(c, 1, "key file %s: %s%s", c->o->key_files[i], lx_strerror(err),
                        err == LX_EPERM ? " (group or others may read it; chmod 600)" : "");
        c->nkeys++;
    }
    return 0;
}

static const char *chain_alias(const ctx *c)
{
    return c->o->chain ? c->o->chain : "X";
}

/* ---- keygen, address ---- */

/* Prints the address of the first key (and, with --json, its public key). */
static int print_key(ctx *c)
{
    uint8_t a[LX_ADDR_LEN], pub[LX_PUBKEY_LEN];
    char s[LX_ADDR_STR_MAX];
    lx_key_address(c->keys[0], a);
    lx_key_pubkey(c->keys[0], pub);
    addr_str(c, s, chain_alias(c), a);
    if (c->o->json)
        emit(c, json_pack("{s:s,s:o,s:o,s:s*}", "address", s, "addressHex", jhex(a, sizeof a),
                          "publicKey", jhex(pub, sizeof pub), "keyFile",
                          c->cmd == C_KEYGEN ? c->o->key_files[0] : NULL));
    else
        printf("%s\n", s);
    return 0;
}

static int cmd_keygen(ctx *c)
{
    if (c->o->nkeys != 1 || c->o->npos)
        return fail(c, EXIT_USAGE, "keygen takes exactly one --key-file (the file to create)");
    int rc = need_hrp(c);
    if (rc)
        return rc;
    lx_err err = lx_key_generate(&c->keys[0]);
    if (err != LX_OK)
        return fail(c, 1, "generating a key: %s", lx_strerror(err));
    c->nkeys = 1;
    err = lx_keyfile_write(c->keys[0], c->o->key_files[0]);
    if (err == LX_EEXIST)
        return fail(c, 1, "%s exists; not replaced", c->o->key_files[0]);
    if (err != LX_OK)
        return fail(c, 1, "writing %s: %s", c->o->key_files[0], lx_strerror(err));
    return print_key(c);
}

static int cmd_address(ctx *c)
{
    if (c->o->nkeys + c->o->npos != 1)
        return fail(c, EXIT_USAGE, "give one --key-file or one PrivateKey-.../hex secret");
    int rc = c->o->nkeys ? load_keys(c) : 0;
    if (!rc && c->o->npos) {
        const char *s = c->o->pos[0];
        lx_err err = lx_privkey_decode(&c->keys[0], s);
        if (err == LX_EFORMAT) {
            uint8_t sec[LX_SECKEY_LEN];
            size_t n = 0;
            err = lx_hex_decode(sec, sizeof sec, &n, s);
            err = err == LX_OK && n == sizeof sec ? lx_key_import(&c->keys[0], sec) : LX_EFORMAT;
            lx_wipe(sec, sizeof sec);
        }
        if (err != LX_OK)
            return fail(c, EXIT_USAGE, "not a PrivateKey-... or 64 hex digits: %s",
                        lx_strerror(err));
        c->nkeys = 1;
    }
    return rc ? rc : (rc = need_hrp(c)) ? rc : print_key(c);
}

/* ---- balance, utxos ---- */

/* The address to look at: ADDR, else the first key's. */
static int subject(ctx *c, uint8_t a[LX_ADDR_LEN], char s[LX_ADDR_STR_MAX])
{
    int rc = load_keys(c);
    if (!rc)
        rc = need_hrp(c);
    if (rc)
        return rc;
    if (c->o->npos == 1) {
        if ((rc = parse_addr(c, a, c->o->pos[0], chain_alias(c))))
            return rc;
    } else if (c->o->npos == 0 && c->nkeys == 1) {
        lx_key_address(c->keys[0], a);
    } else {
        return fail(c, EXIT_USAGE, "give one address, or one --key-file");
    }
    addr_str(c, s, chain_alias(c), a);
    return 0;
}

static int fetch_of(ctx *c, const char *addr, const char *source)
{
    lx_wallet_chain wc = {0};
    lx_err err = lx_wallet_new(&c->w, &wc);
    const char *list[1] = {addr};
    if (err == LX_OK)
        err = lx_wallet_fetch(c->w, NULL, c->rpc, list, 1, source);
    return err == LX_OK ? 0 : rpc_fail(c, c->rpc, err, "getUTXOs");
}

static int cmd_balance(ctx *c)
{
    uint8_t a[LX_ADDR_LEN];
    char s[LX_ADDR_STR_MAX];
    int rc = subject(c, a, s);
    if (rc)
        return rc;
    if (c->o->asset) {
        const lx_rpc_asset *as = NULL;
        if ((rc = resolve_asset(c, &as, c->o->asset)))
            return rc;
        lx_rpc_balance b;
        lx_err err = lx_rpc_get_balance(c->rpc, &b, s, as->asset_id);
        if (err != LX_OK)
            return rpc_fail(c, c->rpc, err, "getBalance");
        if (c->o->json)
            emit(c, json_pack("{s:s,s:o,s:s,s:o,s:I}", "address", s, "assetID", jid(as->asset_id),
                              "symbol", as->symbol, "balance", jnum(b.balance), "utxos",
                              (json_int_t)b.n_utxo_ids));
        else
            printf("%llu %s\n", (unsigned long long)b.balance, as->symbol);
        lx_rpc_balance_free(&b);
        return 0;
    }
    lx_wallet_sum sums[MAX_ASSETS];
    size_t n = 0;
    if ((rc = fetch_of(c, s, NULL)))
        return rc;
    if (lx_wallet_sums(c->w, sums, MAX_ASSETS, &n, (uint64_t)time(NULL)) != LX_OK)
        return fail(c, 1, "more than %d assets, or sums over 64 bits", MAX_ASSETS);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *sym = lx_asset_cache_symbol(c->assets, sums[i].asset_id);
        if (!c->o->json)
            printf("%llu %s (total %llu in %zu UTXOs)\n", (unsigned long long)sums[i].alone,
                   sym ? sym : "?", (unsigned long long)sums[i].total, sums[i].utxos);
        json_array_append_new(
            list, json_pack("{s:o,s:o,s:o,s:o,s:I}", "assetID", jid(sums[i].asset_id), "symbol",
                            sym ? json_string(sym) : json_null(), "balance", jnum(sums[i].alone),
                            "total", jnum(sums[i].total), "utxos", (json_int_t)sums[i].utxos));
    }
    if (c->o->json)
        emit(c, json_pack("{s:s,s:o}", "address", s, "balances", list));
    else
        json_decref(list);
    return 0;
}

static int cmd_utxos(ctx *c)
{
    uint8_t a[LX_ADDR_LEN];
    char s[LX_ADDR_STR_MAX];
    int rc = subject(c, a, s);
    if (rc || (rc = fetch_of(c, s, c->o->from_chain)))
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < lx_wallet_utxo_count(c->w); i++) {
        const lx_xutxo *u = lx_wallet_utxo_at(c->w, i, NULL);
        const char *sym = lx_asset_cache_symbol(c->assets, u->out.asset_id);
        char *text = NULL, id[LX_CB58_ID_MAX];
        if (c->o->json) {
            if (lx_utxo_to_json(&text, u, chain_alias(c), c->hrp, sym) != LX_OK) {
                json_decref(list);
                return fail(c, 1, "out of memory");
            }
            json_array_append_new(list, json_loads(text, 0, NULL));
            free(text);
            continue;
        }
        lx_id_to_cb58(id, u->tx_id);
        printf("%s:%u %llu %s threshold %u of", id, u->output_index,
               (unsigned long long)u->out.amount, sym ? sym : "?", u->out.threshold);
        for (size_t k = 0; k < u->out.naddrs; k++) {
            char as[LX_ADDR_STR_MAX];
            addr_str(c, as, chain_alias(c), u->out.addrs + k * LX_ADDR_LEN);
            printf(" %s", as);
        }
        if (u->out.locktime)
            printf(" locktime %llu", (unsigned long long)u->out.locktime);
        printf("\n");
    }
    if (c->o->json)
        emit(c, json_pack("{s:s,s:s,s:o}", "address", s, "chain", chain_alias(c), "utxos", list));
    else
        json_decref(list);
    return 0;
}

/* ---- submitting ---- */

static uint32_t timeout_ms(const ctx *c)
{
    uint64_t sec = 60;
    if (c->o->timeout && (!parse_u64(&sec, c->o->timeout) || sec == 0 || sec > 86400))
        sec = 0;
    return (uint32_t)(sec * 1000);
}

/* Issues the signed bytes through the idempotent submitter and waits. */
static int submit(ctx *c, const uint8_t *tx, size_t len)
{
    uint8_t id[LX_ID_LEN];
    char ids[LX_CB58_ID_MAX];
    lx_submit_options so;
    lx_submit_options_init(&so);
    if ((so.deadline_ms = timeout_ms(c)) == 0)
        return fail(c, EXIT_USAGE, "bad --timeout '%s' (1..86400 seconds)", c->o->timeout);
    lx_sha256(id, tx, len);
    lx_id_to_cb58(ids, id);
    lx_submit_report rep;
    lx_err err = lx_submit_tx(c->rpc, &rep, tx, len, id, &so);
    if (err == LX_EREJECTED)
        return fail(c, EXIT_REJECTED, "tx %s rejected: %s", ids, rep.message);
    if (err == LX_ETIMEDOUT)
        return fail(c, EXIT_TIMEOUT,
                    "tx %s: no decision after %u ms (status %s); it may still "
                    "be accepted: check with status",
                    ids, so.deadline_ms, lx_tx_status_str(rep.status));
    if (err != LX_OK)
        return fail(c, 1, "tx %s: %s: %s", ids, lx_strerror(err), rep.message);
    if (c->o->json)
        emit(c, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o}", "txID", ids, "chain", chain_alias(c),
                          "status", lx_tx_status_str(rep.status), "sends", (json_int_t)rep.sends,
                          "polls", (json_int_t)rep.polls, "attempts", (json_int_t)rep.attempts,
                          "elapsedMs", jnum(rep.elapsed_ms)));
    else
        printf("%s\n", ids);
    return 0;
}

/* Reads HEX (or stdin for "-"): the API's hex with checksum, else plain hex. */
static int read_hex(ctx *c, uint8_t **buf, size_t *len, bool *checksummed)
{
    char *in = NULL;
    const char *s = c->o->pos[0];
    if (c->o->npos != 1)
        return fail(c, EXIT_USAGE, "give one HEX argument, or - to read it from stdin");
    if (!strcmp(s, "-")) {
        in = malloc(HEX_IN_MAX + 1);
        size_t n = in ? fread(in, 1, HEX_IN_MAX + 1, stdin) : 0;
        if (!in || n > HEX_IN_MAX) {
            free(in);
            return fail(c, EXIT_USAGE, "stdin: over %d characters", HEX_IN_MAX);
        }
        while (n && (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' '))
            n--;
        in[n] = '\0';
        s = in;
    }
    lx_err err = lx_tx_hex_decode(buf, len, checksummed, s);
    free(in);
    return err == LX_OK ? 0 : fail(c, EXIT_USAGE, "not hex: %s", lx_strerror(err));
}

static int cmd_issue(ctx *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    bool cs;
    int rc = read_hex(c, &buf, &len, &cs);
    if (rc)
        return rc;
    lx_tx *tx = NULL;
    const char *why = NULL;
    lx_err err = lx_tx_decode(&tx, &why, buf, len);
    lx_tx_free(&tx);
    if (err != LX_OK) /* the node is the judge; say what the codec thinks */
        fprintf(stderr, "lx-xchain: issue: warning: the codec does not accept the tx: %s (%s)\n",
                lx_strerror(err), why);
    rc = submit(c, buf, len);
    free(buf);
    return rc;
}

static int cmd_status(ctx *c)
{
    uint8_t id[LX_ID_LEN];
    if (c->o->npos != 1 || lx_id_from_cb58(id, c->o->pos[0]) != LX_OK)
        return fail(c, EXIT_USAGE, "give one txID (cb58)");
    lx_tx_status st;
    lx_err err = lx_rpc_get_tx_status(c->rpc, &st, id);
    if (err != LX_OK)
        return rpc_fail(c, c->rpc, err, "getTxStatus");
    if (c->o->json)
        emit(c, json_pack("{s:s,s:s,s:s}", "txID", c->o->pos[0], "chain", chain_alias(c), "status",
                          lx_tx_status_str(st)));
    else
        printf("%s\n", lx_tx_status_str(st));
    return 0;
}

/* ---- decode ---- */

static int cmd_decode(ctx *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    bool cs;
    int rc = read_hex(c, &buf, &len, &cs);
    if (rc || (rc = need_hrp(c))) {
        free(buf);
        return rc;
    }
    const char *why = NULL, *why_u = NULL;
    bool is_signed = true;
    lx_err err = lx_tx_decode(&c->tx, &why, buf, len);
    if (err != LX_OK && lx_tx_decode_unsigned(&c->tx, &why_u, buf, len) == LX_OK)
        is_signed = false, err = LX_OK;
    free(buf);
    if (err != LX_OK)
        return fail(c, 1, "not a tx: %s (%s)", lx_strerror(err), why);
    char *text = NULL;
    json_t *j = NULL;
    if (lx_tx_to_json(&text, c->tx, chain_alias(c), c->hrp, is_signed) == LX_OK)
        j = json_loads(text, JSON_ALLOW_NUL, NULL); /* a memo may hold NUL bytes */
    free(text);
    if (j == NULL)
        return fail(c, 1, "out of memory");
    json_object_set_new(j, "encoding", json_string(cs ? "hex with checksum" : "plain hex"));
    emit(c, j);
    return 0;
}

/* ---- send, export, import ---- */

static int parse_utxo_id(ctx *c, lx_rpc_utxo_id *u, const char *s)
{
    char id[LX_CB58_ID_MAX];
    const char *colon = strchr(s, ':');
    uint64_t idx = 0;
    if (!colon || (size_t)(colon - s) >= sizeof id || !parse_u64(&idx, colon + 1) ||
        idx > UINT32_MAX)
        return fail(c, EXIT_USAGE, "bad --utxo '%s' (want TXID:INDEX)", s);
    memcpy(id, s, (size_t)(colon - s));
    id[colon - s] = '\0';
    if (lx_id_from_cb58(u->tx_id, id) != LX_OK)
        return fail(c, EXIT_USAGE, "bad txID in --utxo '%s'", s);
    u->output_index = (uint32_t)idx;
    return 0;
}

/* The outputs to pay, from the --to/--owners groups. */
static int parse_outputs(ctx *c, lx_xout *outs, uint8_t (*owners)[MAX_KEYS][LX_ADDR_LEN],
                         const char *alias, const uint8_t fee_asset[LX_ID_LEN])
{
    uint8_t own[LX_ADDR_LEN];
    lx_key_address(c->keys[0], own); /* an export pays the first key by default */
    for (size_t i = 0; i < c->o->nouts; i++) {
        const out_opt *p = &c->o->outs[i];
        const char *asset = p->asset ? p->asset : c->o->asset;
        const lx_wallet_output_text t = {p->to, p->owners, p->amount, p->threshold, p->locktime};
        const lx_rpc_asset *as = NULL;
        char why[MAX_KEYS * LX_ADDR_STR_MAX + 64];
        lx_err err = lx_wallet_output_parse(&outs[i], owners[i][0], MAX_KEYS, why, sizeof why, &t,
                                            alias, c->hrp, c->cmd == C_EXPORT ? own : NULL);
        if (err == LX_EINVAL) /* the output's own values, not its addresses */
            return fail(c, EXIT_USAGE, "output %zu: %s", i + 1, why);
        if (err != LX_OK)
            return fail(c, EXIT_USAGE, "%s", err == LX_ENOMEM ? "out of memory" : why);
        int rc = asset ? resolve_asset(c, &as, asset) : 0;
        if (rc)
            return rc;
        memcpy(outs[i].asset_id, as ? as->asset_id : fee_asset, LX_ID_LEN);
    }
    return 0;
}

static int print_dry_run(ctx *c, const uint8_t *bytes, size_t len)
{
    uint8_t id[LX_ID_LEN];
    char ids[LX_CB58_ID_MAX], *hex = malloc(lx_hexcs_len(len));
    if (!hex || lx_hexcs_encode(hex, lx_hexcs_len(len), bytes, len) != LX_OK ||
        lx_sha256(id, bytes, len) != LX_OK || lx_id_to_cb58(ids, id) != LX_OK) {
        free(hex);
        return fail(c, 1, "out of memory");
    }
    if (c->o->json)
        emit(c, json_pack("{s:s,s:s,s:I}", "txID", ids, "tx", hex, "bytes", (json_int_t)len));
    else
        printf("%s\n%s\n", ids, hex);
    free(hex);
    return 0;
}

static int cmd_spend(ctx *c)
{
    opts *o = c->o;
    lx_xout outs[MAX_OUTS];
    uint8_t owners[MAX_OUTS][MAX_KEYS][LX_ADDR_LEN];
    uint8_t from[MAX_KEYS][LX_ADDR_LEN];
    lx_rpc_utxo_id use[MAX_USE];
    lx_wallet_chain wc;
    lx_wallet_spend sp = {.kind = c->cmd == C_SEND     ? LX_TX_BASE
                                  : c->cmd == C_EXPORT ? LX_TX_EXPORT
                                                       : LX_TX_IMPORT};
    const char *other = sp.kind == LX_TX_EXPORT ? o->to_chain : o->from_chain;
    int rc = load_keys(c);
    if (rc || (rc = need_hrp(c)))
        return rc;
    if (c->nkeys == 0 || o->npos)
        return fail(c, EXIT_USAGE, "give --key-file (one per signer) and no arguments");
    if (sp.kind != LX_TX_BASE && (!other || !valid_alias(other)))
        return fail(c, EXIT_USAGE, "%s needs %s ALIAS", c->cmd_name,
                    sp.kind == LX_TX_EXPORT ? "--to-chain" : "--from-chain");
    if (sp.kind != LX_TX_IMPORT && o->nouts == 0)
        return fail(c, EXIT_USAGE, "give an output: --to ADDR --amount N");
    lx_err err =
        lx_wallet_chain_query(c->rpc, &wc, chain_alias(c), o->fee_asset ? o->fee_asset : "LUX");
    if (err == LX_OK && other)
        err = lx_rpc_get_blockchain_id(c->rpc, sp.other_chain, other);
    if (err != LX_OK)
        return rpc_fail(c, c->rpc, err, "asking the node for the chain, fee asset and fee");
    if (other && !memcmp(sp.other_chain, wc.blockchain_id, LX_ID_LEN))
        return fail(c, EXIT_USAGE, "%s is this chain; give another", other);
    if (o->fee && !parse_u64(&wc.fee, o->fee))
        return fail(c, EXIT_USAGE, "bad --fee '%s'", o->fee);
    memset(outs, 0, sizeof outs);
    if ((rc = parse_outputs(c, outs, owners, sp.kind == LX_TX_EXPORT ? other : chain_alias(c),
                            wc.fee_asset)))
        return rc;
    sp.pay = outs;
    sp.npay = o->nouts;
    if (o->from_owners &&
        (rc = parse_addr_list(c, from, &sp.nfrom, o->from_owners, chain_alias(c))))
        return rc;
    sp.from = from[0];
    for (size_t i = 0; i < o->nuse; i++)
        if ((rc = parse_utxo_id(c, &use[i], o->use[i])))
            return rc;
    sp.use = use;
    sp.nuse = o->nuse;
    sp.memo = (const uint8_t *)o->memo;
    sp.memo_len = o->memo ? strlen(o->memo) : 0;
    if (sp.memo_len > LX_MEMO_MAX)
        return fail(c, EXIT_USAGE, "--memo is over %d bytes", LX_MEMO_MAX);
    sp.now = (uint64_t)time(NULL);

    err = lx_wallet_new(&c->w, &wc);
    for (size_t i = 0; err == LX_OK && i < c->nkeys; i++)
        if ((err = lx_wallet_add_key(c->w, c->keys[i])) == LX_EEXIST)
            return fail(c, EXIT_USAGE, "%s holds a key given already", o->key_files[i]);
    if (err == LX_OK)
        err = lx_wallet_fetch_own(c->w, NULL, c->rpc, chain_alias(c), c->hrp, NULL);
    if (err == LX_OK && sp.kind == LX_TX_IMPORT)
        err = lx_wallet_fetch_own(c->w, NULL, c->rpc, chain_alias(c), c->hrp, other);
    if (err != LX_OK)
        return rpc_fail(c, c->rpc, err, "getUTXOs");
    char why[512];
    err = lx_wallet_build(c->w, &c->tx, why, sizeof why, &sp);
    if (err != LX_OK)
        return fail(c, err == LX_EINVAL ? EXIT_USAGE : EXIT_FUNDS, "%s", why);

    size_t cap = lx_tx_signed_len(c->tx), len = 0;
    uint8_t *bytes = malloc(cap);
    if (!bytes || lx_tx_encode(c->tx, bytes, cap, &len) != LX_OK)
        rc = fail(c, 1, "encoding the tx failed");
    else
        rc = o->dry_run ? print_dry_run(c, bytes, len) : submit(c, bytes, len);
    free(bytes);
    return rc;
}

/* ---- main ---- */

/* In the order of cmd_names. */
static int (*const cmd_fns[])(ctx *) = {cmd_keygen, cmd_address, cmd_balance, cmd_utxos,
                                        cmd_spend,  cmd_spend,   cmd_spend,   cmd_issue,
                                        cmd_status, cmd_decode};

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    ctx c = {.o = &o};
    int rc = parse_args(&c, argc, argv);
    if (!rc && (o.help || !c.cmd)) {
        if (!o.help)
            rc = fail(&c, EXIT_USAGE, "no command (see --help)");
        else
            fputs(c.cmd & C_SPEND ? usage_spend : usage_main, stdout);
    } else if (!rc) {
        if (c.cmd == C_IMPORT && !o.chain && o.from_chain)
            o.chain = strcmp(o.from_chain, "X") == 0 ? "Y" : "X";
        if (!valid_alias(chain_alias(&c)))
            rc = fail(&c, EXIT_USAGE, "bad --chain '%s'", chain_alias(&c));
        if (!rc)
            rc = open_rpc(&c, &c.rpc, chain_alias(&c));
        if (!rc && lx_asset_cache_new(&c.assets, c.rpc) != LX_OK)
            rc = fail(&c, 1, "out of memory");
        if (!rc) {
            for (size_t k = 0; k < sizeof cmd_fns / sizeof *cmd_fns; k++)
                if (c.cmd == 1u << k)
                    rc = cmd_fns[k](&c);
        }
    }
    lx_tx_free(&c.tx);
    lx_wallet_free(&c.w);
    for (size_t i = 0; i < c.nkeys; i++)
        lx_key_free(&c.keys[i]);
    lx_asset_cache_free(&c.assets);
    lx_rpc_free(&c.rpc);
    return rc;
}
