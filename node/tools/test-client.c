/* test-client: an open-loop load generator and protocol checker for a cluster
 * of lxdex nodes, speaking the client wire protocol over DEALER sockets. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lx/node.h"

static const char usage[] =
    "usage: test-client --nodes LIST [options]\n"
    "\n"
    "Sends limit orders to lxdex nodes on a fixed open-loop schedule and measures\n"
    "the latency of each from its intended send time to its acknowledgement.\n"
    "\n"
    "  --nodes LIST           comma-separated request endpoints (ROUTER, base port + 2),\n"
    "                         e.g. \"tcp://localhost:5002,tcp://localhost:5102\" (required)\n"
    "  --duration D           length of the timed phase (default 10s); units ns us ms s m h;\n"
    "                         0 only checks that every node answers PING\n"
    "  --rate R               orders per second in total over all nodes (default 1000)\n"
    "  --batch B              orders per frame, 1 to 256 (default 1); over 1 sends\n"
    "                         NEW_ORDER_BATCH frames\n"
    "  --batch-wait D         with --batch: send a partial frame once its first order\n"
    "                         has been due this long (default 1ms)\n"
    "  --busy-poll            never sleep between sends: poll the replies and the clock\n"
    "                         in a loop (one core at 100 %), so that neither a timer\n"
    "                         waking late nor the wake-up on a reply (tens of us each\n"
    "                         on a VM) is in the latency; for latency runs at moderate\n"
    "                         rates (lx-bench-zmq --busy-poll is its baseline)\n"
    "  --accounts N           accounts to trade from (default 100)\n"
    "  --account-base A       first account id (default 1)\n"
    "  --markets LIST         market names to trade (default every market the first node\n"
    "                         lists in MARKETS)\n"
    "  --seed S               random seed (default from the clock); printed in the summary\n"
    "  --id-base N            high bits of order ids, 1 to 8388607, so that clients do not\n"
    "                         collide (default derived from the seed)\n"
    "  --cancel-ratio F       share of orders cancelled again once acknowledged\n"
    "                         (default 0.1); the cancels of one batch frame's\n"
    "                         acknowledgements go in one CANCEL_BATCH frame\n"
    "  --acked-log FILE       write every acknowledged order id, one per line\n"
    "  --unbundled            ask for one reply frame per ZeroMQ message (default:\n"
    "                         the frames of one answer come in one message)\n"
    "  --json                 print the summary as one JSON object on stdout\n"
    "  --quiet                no progress lines\n"
    "  --error-threshold F    exit 1 if errors / sent is over F (default 0.01)\n"
    "  --connect-timeout D    time for every node to answer PING (default 5s)\n"
    "  --wait-ready D         ping every node until all answer or D passes; without\n"
    "                         --duration, exit 0 when all answered and 1 otherwise\n"
    "  --drain D              after the timed phase, wait this long at most for\n"
    "                         outstanding replies (default 5s)\n"
    "  --curve-key LIST       connect with CURVE, authenticating with this secret key\n"
    "                         file (lx-keys generate), or one file per --nodes entry,\n"
    "                         comma-separated. A node binds a key to one account: with\n"
    "                         one key --accounts is 1 and --account-base that account;\n"
    "                         with a key per node, node i's key acts for account\n"
    "                         account-base + i and --accounts is the number of nodes\n"
    "                         (the defaults)\n"
    "  --server-keys LIST     with --curve-key: each node's public key (40 Z85\n"
    "                         characters, lx-keys public), comma-separated, in the\n"
    "                         order of --nodes\n"
    "  --funding MODE         faucet: fund every account by DEPOSIT requests (default);\n"
    "                         none: the accounts are funded already (X-Chain deposits);\n"
    "                         plan: print the deposits faucet would make, one JSON\n"
    "                         object a line, and exit\n"
    "  --withdraw-every N     during the load, one WITHDRAW after every N orders, from\n"
    "                         the accounts in turn, to --withdraw-to (needs settlement);\n"
    "                         one answered ERROR overloaded (the settlement batch is\n"
    "                         full of withdrawals) is sent again 100 ms later, up to\n"
    "                         50 times\n"
    "  --withdraw-to ADDR     the X-Chain address the withdrawals pay\n"
    "  --withdraw-amount A    amount of each withdrawal (default 1)\n"
    "  --withdraw-asset SYM   asset of each withdrawal (default USD)\n"
    "  --malformed N          send N malformed frames of assorted kinds to each node\n"
    "                         instead of load, check each gets the right ERROR and the\n"
    "                         node still answers PING\n"
    "  --help                 show this text\n"
    "\n"
    "Exit status: 0 ok; 1 a node did not answer, funding failed, errors over the\n"
    "threshold or a malformed-frame check failed; 2 bad arguments.\n"
    "See docs/test-client.md.\n";

#define NODES_MAX LX_CLIENT_NODES_MAX
#define EP_MAX 256

typedef struct opts {
    char node_list[NODES_MAX * EP_MAX];
    const char *nodes[NODES_MAX];
    size_t nnodes;
    uint64_t duration_ns;
    int have_duration, no_load;
    double rate;
    unsigned batch;
    uint64_t batch_wait_ns;
    int busy_poll;
    uint64_t accounts, account_base;
    char markets[LX_CLIENT_MARKETS_ARG_MAX];
    uint64_t seed;
    uint64_t id_base;
    double cancel_ratio;
    const char *acked_log;
    int unbundled;
    int json, quiet;
    double error_threshold;
    uint64_t connect_timeout_ns, wait_ready_ns, drain_ns;
    int have_wait_ready;
    unsigned long malformed;
    int have_accounts;
    const char *curve_key;   /* --curve-key, as given: secret key files */
    const char *server_list; /* --server-keys, as given */
    lx_curve_key server_keys[NODES_MAX];
    size_t nserver_keys;
    /* funding and withdrawals (settlement runs) */
    int funding; /* FUND_FAUCET, FUND_NONE, FUND_PLAN */
    uint64_t wd_every, wd_amount;
    const char *wd_to;
    char wd_asset[LX_SYMBOL_MAX];
} opts;

enum { FUND_FAUCET, FUND_NONE, FUND_PLAN };

/* A run: the options, the client (node/client.c) and how sending kept to
 * the schedule. */
typedef struct run_state {
    opts o;
    lx_client *cl;
    uint64_t start_ns, last_send_ns, max_lag_ns;
    lx_hist *lag; /* per frame sent, in ns */
} run_state;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- argument parsing ---- */

static int bad_arg(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "test-client: %s \"%s\": %s (see --help)\n", opt, val, why);
    return 2;
}

static int parse_u64(uint64_t *out, const char *s, uint64_t lo, uint64_t hi)
{
    if (s == NULL || *s < '0' || *s > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static int parse_double(double *out, const char *s, double lo, double hi)
{
    if (s == NULL || *s == '\0')
        return 0;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

static int split_nodes(opts *o, char *list)
{
    o->nnodes = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n > 0 && t[n - 1] == ' ')
            t[--n] = '\0';
        if (n == 0)
            continue;
        if (o->nnodes == NODES_MAX || n >= EP_MAX || strncmp(t, "tcp://", 6) != 0)
            return 0;
        o->nodes[o->nnodes++] = t;
    }
    return o->nnodes > 0;
}

/* --server-keys: comma-separated Z85 public keys (Z85 has no comma). */
static int split_keys(opts *o, const char *list)
{
    o->nserver_keys = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n != LX_CURVE_Z85_LEN || o->nserver_keys == NODES_MAX ||
            lx_curve_key_parse(&o->server_keys[o->nserver_keys], p, n) != LX_OK)
            return 0;
        o->nserver_keys++;
        if (end == NULL)
            return 1;
        p = end + 1;
    }
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

enum {
    O_NODES = 256,
    O_DURATION,
    O_RATE,
    O_BATCH,
    O_BATCH_WAIT,
    O_BUSY_POLL,
    O_ACCOUNTS,
    O_ACCOUNT_BASE,
    O_MARKETS,
    O_SEED,
    O_ID_BASE,
    O_CANCEL_RATIO,
    O_ACKED_LOG,
    O_UNBUNDLED,
    O_JSON,
    O_QUIET,
    O_ERROR_THRESHOLD,
    O_CONNECT_TIMEOUT,
    O_WAIT_READY,
    O_DRAIN,
    O_MALFORMED,
    O_CURVE_KEY,
    O_SERVER_KEYS,
    O_FUNDING,
    O_WITHDRAW_EVERY,
    O_WITHDRAW_TO,
    O_WITHDRAW_AMOUNT,
    O_WITHDRAW_ASSET,
    O_HELP
};

static int parse_args(opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"nodes", required_argument, NULL, O_NODES},
        {"duration", required_argument, NULL, O_DURATION},
        {"rate", required_argument, NULL, O_RATE},
        {"batch", required_argument, NULL, O_BATCH},
        {"batch-wait", required_argument, NULL, O_BATCH_WAIT},
        {"busy-poll", no_argument, NULL, O_BUSY_POLL},
        {"accounts", required_argument, NULL, O_ACCOUNTS},
        {"account-base", required_argument, NULL, O_ACCOUNT_BASE},
        {"markets", required_argument, NULL, O_MARKETS},
        {"seed", required_argument, NULL, O_SEED},
        {"id-base", required_argument, NULL, O_ID_BASE},
        {"cancel-ratio", required_argument, NULL, O_CANCEL_RATIO},
        {"acked-log", required_argument, NULL, O_ACKED_LOG},
        {"unbundled", no_argument, NULL, O_UNBUNDLED},
        {"json", no_argument, NULL, O_JSON},
        {"quiet", no_argument, NULL, O_QUIET},
        {"error-threshold", required_argument, NULL, O_ERROR_THRESHOLD},
        {"connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT},
        {"wait-ready", required_argument, NULL, O_WAIT_READY},
        {"drain", required_argument, NULL, O_DRAIN},
        {"malformed", required_argument, NULL, O_MALFORMED},
        {"curve-key", required_argument, NULL, O_CURVE_KEY},
        {"server-keys", required_argument, NULL, O_SERVER_KEYS},
        {"funding", required_argument, NULL, O_FUNDING},
        {"withdraw-every", required_argument, NULL, O_WITHDRAW_EVERY},
        {"withdraw-to", required_argument, NULL, O_WITHDRAW_TO},
        {"withdraw-amount", required_argument, NULL, O_WITHDRAW_AMOUNT},
        {"withdraw-asset", required_argument, NULL, O_WITHDRAW_ASSET},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->duration_ns = UINT64_C(10000000000);
    o->rate = 1000.0;
    o->batch = 1;
    o->batch_wait_ns = 1000000;
    o->accounts = 100;
    o->account_base = 1;
    o->seed = mix64(lx_wall_us() ^ ((uint64_t)getpid() << 32));
    o->cancel_ratio = 0.1;
    o->wd_amount = 1;
    memcpy(o->wd_asset, "USD", 4);
    o->error_threshold = 0.01;
    o->connect_timeout_ns = UINT64_C(5000000000);
    o->drain_ns = UINT64_C(5000000000);
    int c;
    uint64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_NODES:
            snprintf(o->node_list, sizeof o->node_list, "%s", a);
            if (strlen(a) >= sizeof o->node_list || !split_nodes(o, o->node_list))
                return bad_arg("--nodes", a, "want up to 32 tcp:// endpoints, comma-separated");
            break;
        case O_DURATION:
            if (lx_parse_duration(&o->duration_ns, a) != LX_OK)
                return bad_arg("--duration", a, "want a duration such as 30s");
            /* 0 means no timed phase: only check that the nodes answer. */
            o->have_duration = o->duration_ns > 0;
            o->no_load = o->duration_ns == 0;
            break;
        case O_RATE:
            if (!parse_double(&o->rate, a, 0.001, 1e8))
                return bad_arg("--rate", a, "want orders per second, 0.001 to 1e8");
            break;
        case O_BATCH:
            if (!parse_u64(&v, a, 1, LX_PROTO_BATCH_MAX))
                return bad_arg("--batch", a, "want 1 to 256");
            o->batch = (unsigned)v;
            break;
        case O_BATCH_WAIT:
            if (lx_parse_duration(&o->batch_wait_ns, a) != LX_OK)
                return bad_arg("--batch-wait", a, "want a duration such as 1ms");
            break;
        case O_BUSY_POLL:
            o->busy_poll = 1;
            break;
        case O_ACCOUNTS:
            if (!parse_u64(&o->accounts, a, 1, 10000000))
                return bad_arg("--accounts", a, "want 1 to 10000000");
            o->have_accounts = 1;
            break;
        case O_ACCOUNT_BASE:
            if (!parse_u64(&o->account_base, a, 0, UINT64_C(1) << 62))
                return bad_arg("--account-base", a, "want 0 to 2^62");
            break;
        case O_MARKETS:
            if (strlen(a) >= sizeof o->markets)
                return bad_arg("--markets", a, "too long");
            snprintf(o->markets, sizeof o->markets, "%s", a);
            break;
        case O_SEED:
            if (!parse_u64(&o->seed, a, 0, UINT64_MAX))
                return bad_arg("--seed", a, "want an unsigned integer");
            break;
        case O_ID_BASE:
            if (!parse_u64(&o->id_base, a, 1, LX_ORDERGEN_ID_BASE_MAX))
                return bad_arg("--id-base", a, "want 1 to 8388607");
            break;
        case O_CANCEL_RATIO:
            if (!parse_double(&o->cancel_ratio, a, 0.0, 1.0))
                return bad_arg("--cancel-ratio", a, "want 0 to 1");
            break;
        case O_ACKED_LOG:
            o->acked_log = a;
            break;
        case O_UNBUNDLED:
            o->unbundled = 1;
            break;
        case O_JSON:
            o->json = 1;
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_ERROR_THRESHOLD:
            if (!parse_double(&o->error_threshold, a, 0.0, 1.0))
                return bad_arg("--error-threshold", a, "want 0 to 1");
            break;
        case O_CONNECT_TIMEOUT:
            if (lx_parse_duration(&o->connect_timeout_ns, a) != LX_OK || o->connect_timeout_ns == 0)
                return bad_arg("--connect-timeout", a, "want a positive duration");
            break;
        case O_WAIT_READY:
            if (lx_parse_duration(&o->wait_ready_ns, a) != LX_OK || o->wait_ready_ns == 0)
                return bad_arg("--wait-ready", a, "want a positive duration (bare: seconds)");
            o->have_wait_ready = 1;
            break;
        case O_DRAIN:
            if (lx_parse_duration(&o->drain_ns, a) != LX_OK)
                return bad_arg("--drain", a, "want a duration");
            break;
        case O_FUNDING:
            if (strcmp(a, "faucet") == 0)
                o->funding = FUND_FAUCET;
            else if (strcmp(a, "none") == 0)
                o->funding = FUND_NONE;
            else if (strcmp(a, "plan") == 0)
                o->funding = FUND_PLAN;
            else
                return bad_arg("--funding", a, "want faucet, none or plan");
            break;
        case O_WITHDRAW_EVERY:
            if (!parse_u64(&o->wd_every, a, 1, UINT64_C(1000000000)))
                return bad_arg("--withdraw-every", a, "want 1 to 1000000000");
            break;
        case O_WITHDRAW_TO:
            if (*a == '\0' || strlen(a) > LX_PROTO_ADDR_MAX)
                return bad_arg("--withdraw-to", a, "want an X-Chain address");
            o->wd_to = a;
            break;
        case O_WITHDRAW_AMOUNT:
            if (!parse_u64(&o->wd_amount, a, 1, UINT64_MAX))
                return bad_arg("--withdraw-amount", a, "want a positive amount");
            break;
        case O_WITHDRAW_ASSET:
            if (*a == '\0' || strlen(a) >= LX_SYMBOL_MAX)
                return bad_arg("--withdraw-asset", a, "want an asset symbol");
            memcpy(o->wd_asset, a, strlen(a) + 1);
            break;
        case O_MALFORMED:
            if (!parse_u64(&v, a, 1, 1000000))
                return bad_arg("--malformed", a, "want 1 to 1000000");
            o->malformed = (unsigned long)v;
            break;
        case O_CURVE_KEY:
            o->curve_key = a;
            break;
        case O_SERVER_KEYS:
            o->server_list = a;
            if (!split_keys(o, a))
                return bad_arg("--server-keys", a,
                               "want up to 32 public keys of 40 Z85 characters, comma-separated");
            break;
        case O_HELP:
            fputs(usage, stdout);
            exit(0);
        default:
            fprintf(stderr, "test-client: unknown option or missing value: %s (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc)
        return bad_arg("argument", argv[optind], "unexpected");
    if (o->nnodes == 0) {
        fprintf(stderr, "test-client: --nodes is required (see --help)\n");
        return 2;
    }
    if ((o->wd_every != 0) != (o->wd_to != NULL)) {
        fprintf(stderr,
                "test-client: --withdraw-every and --withdraw-to go together (see --help)\n");
        return 2;
    }
    if ((o->curve_key == NULL) != (o->server_list == NULL)) {
        fprintf(stderr, "test-client: --curve-key and --server-keys go together (see --help)\n");
        return 2;
    }
    size_t nkeys = 0;
    if (o->curve_key != NULL) {
        nkeys = 1;
        for (const char *p = o->curve_key; *p; p++)
            nkeys += *p == ',';
        if (nkeys != 1 && nkeys != o->nnodes) {
            fprintf(stderr,
                    "test-client: --curve-key lists %zu key files for %zu node(s): give one, or "
                    "one per --nodes entry\n",
                    nkeys, o->nnodes);
            return 2;
        }
        if (o->nserver_keys != o->nnodes) {
            fprintf(stderr,
                    "test-client: --server-keys lists %zu key(s) for %zu node(s); give one per "
                    "--nodes entry, in order\n",
                    o->nserver_keys, o->nnodes);
            return 2;
        }
        /* Node i's connection carries the accounts a with (a - base) %
         * nodes == i, and its key acts for one account. */
        uint64_t most = nkeys == 1 ? 1 : o->nnodes;
        if (o->have_accounts && o->accounts != 1 && o->accounts != most) {
            fprintf(stderr,
                    "test-client: with %zu CURVE key(s) --accounts is 1%s: each key acts for the "
                    "one account it is registered for\n",
                    nkeys, nkeys == 1 ? "" : " or the number of nodes");
            return 2;
        }
        if (!o->have_accounts)
            o->accounts = most;
    }
    if (o->id_base == 0)
        o->id_base = mix64(o->seed ^ UINT64_C(0x6c786465)) % LX_ORDERGEN_ID_BASE_MAX + 1u;
    double total = o->rate * (double)o->duration_ns / 1e9;
    if (o->have_duration && total > 1e12) {
        fprintf(stderr, "test-client: --rate times --duration is over 10^12 orders\n");
        return 2;
    }
    return 0;
}

static int stopped(void)
{
    return stop_requested != 0;
}

/* ---- the timed phase ---- */

static void progress(run_state *r, uint64_t now, uint64_t *prev_acked, uint64_t *prev_ns)
{
    if (r->o.quiet)
        return;
    lx_client_stats s;
    lx_client_stats_get(r->cl, &s);
    const lx_hist *h = lx_client_hist(r->cl);
    const lx_hist *last = lx_client_hist_recent(r->cl);
    double dt = (double)(now - *prev_ns) / 1e9;
    double rate = dt > 0 ? (double)(s.acked - *prev_acked) / dt : 0.0;
    fprintf(stderr,
            "[%6.1fs] sent %" PRIu64 " acked %" PRIu64 " rejected %" PRIu64 " errors %" PRIu64
            " fills %" PRIu64 " rate %.0f/s p50 %" PRIu64 "us p99 %" PRIu64
            "us | this second p99 %" PRIu64 "us max %" PRIu64 "us\n",
            (double)(now - r->start_ns) / 1e9, s.sent, s.acked, s.rejected, s.errors, s.fills, rate,
            lx_hist_percentile(h, 50), lx_hist_percentile(h, 99), lx_hist_percentile(last, 99),
            lx_hist_max(last));
    lx_client_hist_recent_reset(r->cl);
    *prev_acked = s.acked;
    *prev_ns = now;
}

/* --withdraw-every N: one WITHDRAW for each multiple of N among the orders
 * [from, to), from the accounts in turn. */
static void send_withdrawals(run_state *r, uint64_t from, uint64_t to)
{
    const opts *o = &r->o;
    if (o->wd_every == 0)
        return;
    for (uint64_t k = (from / o->wd_every + 1) * o->wd_every; k <= to; k += o->wd_every) {
        uint64_t account = o->account_base + (k / o->wd_every - 1) % o->accounts;
        lx_client_withdraw(r->cl, account, o->wd_asset, o->wd_amount, o->wd_to);
    }
}

static void run_load(run_state *r, uint64_t total)
{
    lx_client *cl = r->cl;
    const double rate = r->o.rate;
    const unsigned B = r->o.batch;
    const size_t nn = r->o.nnodes;
    r->start_ns = lx_now_ns() + 1000000u;
    lx_client_load_start(cl, r->start_ns);
    uint64_t k = 0, rr = 0;
    uint64_t next_progress = r->start_ns + 1000000000u, prev_acked = 0, prev_ns = r->start_ns;
    while (k < total && !stop_requested) {
        uint64_t now = lx_now_ns();
        uint64_t due = lx_pace_due(r->start_ns, rate, now);
        if (due > total)
            due = total;
        while (k < due) {
            uint64_t ready = due - k;
            uint64_t first_due = lx_pace_time(r->start_ns, rate, k);
            /* Hold a partial frame back until it fills, its first order has
             * waited batch_wait, or the schedule ends. */
            if (ready < B && due < total && now < first_due + r->o.batch_wait_ns)
                break;
            unsigned n = ready < B ? (unsigned)ready : B;
            if (now - first_due > r->max_lag_ns)
                r->max_lag_ns = now - first_due;
            if (r->lag)
                lx_hist_record(r->lag, now - first_due);
            lx_client_send_orders(cl, (size_t)(rr % nn), k, n);
            rr++;
            send_withdrawals(r, k, k + n);
            k += n;
            r->last_send_ns = now;
        }
        lx_client_recv(cl);
        now = lx_now_ns();
        if (now >= next_progress) {
            progress(r, now, &prev_acked, &prev_ns);
            next_progress += 1000000000u;
        }
        if (k >= total)
            break;
        uint64_t full = k + B - 1 < total ? k + B - 1 : total - 1;
        uint64_t wake = lx_pace_time(r->start_ns, rate, full);
        if (B > 1) {
            uint64_t held = lx_pace_time(r->start_ns, rate, k) + r->o.batch_wait_ns;
            if (held < wake)
                wake = held;
        }
        if (next_progress < wake)
            wake = next_progress;
        /* --busy-poll: no sleep; lx_client_recv above polls the replies
         * without blocking, round the loop until wake. sched_yield lets a
         * thread that is ready on this core run at once (ZeroMQ's I/O
         * thread, a node's), rather than after this one's time slice. */
        if (r->o.busy_poll)
            sched_yield();
        else if (wake > lx_now_ns())
            lx_client_wait(cl, wake);
    }
    /* Drain: wait for every frame to be answered, or the deadline. */
    uint64_t deadline = lx_now_ns() + r->o.drain_ns;
    while (lx_client_outstanding(cl) > 0 && lx_now_ns() < deadline) {
        uint64_t wake = deadline < next_progress ? deadline : next_progress;
        lx_client_wait(cl, wake);
        lx_client_recv(cl);
        uint64_t now = lx_now_ns();
        if (now >= next_progress) {
            progress(r, now, &prev_acked, &prev_ns);
            next_progress += 1000000000u;
        }
    }
    /* Orders never answered are errors. */
    lx_client_count_timeouts(cl);
}

static void print_summary(run_state *r, const lx_client_stats *c, uint64_t total)
{
    lx_loadgen_summary s;
    memset(&s, 0, sizeof s);
    uint64_t end = c->last_reply_ns > r->last_send_ns ? c->last_reply_ns : r->last_send_ns;
    s.duration_s = end > r->start_ns ? (double)(end - r->start_ns) / 1e9 : 0.0;
    s.target_rate = r->o.rate;
    s.sent = c->sent;
    s.acked = c->acked;
    s.rejected = c->rejected;
    s.errors = c->errors;
    s.fills = c->fills;
    s.throughput = s.duration_s > 0 ? (double)c->acked / s.duration_s : 0.0;
    lx_loadgen_summary_latency(&s, lx_client_hist(r->cl));
    s.nodes = r->o.nnodes;
    s.timeouts = c->timeouts;
    s.maker_fills = c->maker_fills;
    s.cancels_sent = c->cancels_sent;
    s.cancelled = c->cancelled;
    s.cancel_misses = c->cancel_misses;
    s.cancel_frames = c->cancel_frames;
    s.frames = c->frames;
    s.batch = r->o.batch;
    s.seed = r->o.seed;
    s.id_base = r->o.id_base;
    s.max_send_lag_us = r->max_lag_ns / 1000u;
    s.busy_poll = r->o.busy_poll;
    if (r->lag) {
        s.send_lag_p50_us = lx_hist_percentile(r->lag, 50.0) / 1000u;
        s.send_lag_p99_us = lx_hist_percentile(r->lag, 99.0) / 1000u;
    }
    if (r->o.json) {
        char json[2048];
        size_t n = lx_loadgen_summary_json(json, sizeof json, &s);
        if (r->o.wd_every != 0 && n > 0 && json[n - 1] == '}')
            printf("%.*s,\"withdrawals\":{\"sent\":%" PRIu64 ",\"acked\":%" PRIu64
                   ",\"rejected\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"sent_again\":%" PRIu64
                   ",\"amount\":%" PRIu64 ",\"asset\":\"%s\",\"to\":\"%s\"}}\n",
                   (int)n - 1, json, c->wd_sent, c->wd_acked, c->wd_rejected,
                   c->wd_sent - c->wd_acked - c->wd_rejected, c->wd_retries, c->wd_amount,
                   r->o.wd_asset, r->o.wd_to);
        else
            printf("%.*s\n", (int)n, json);
    } else {
        printf("test-client: %zu node(s), %.3f s, target %.0f orders/s, batch %u, seed %" PRIu64
               ", id base %" PRIu64 "\n",
               r->o.nnodes, s.duration_s, s.target_rate, r->o.batch, s.seed, s.id_base);
        printf("  orders    sent %" PRIu64 " of %" PRIu64 " scheduled in %" PRIu64
               " frames, acked %" PRIu64 ", rejected %" PRIu64 ", errors %" PRIu64
               " (timeouts %" PRIu64 ")\n",
               s.sent, total, s.frames, s.acked, s.rejected, s.errors, s.timeouts);
        printf("  fills     %" PRIu64 " as taker, %" PRIu64 " as maker\n", s.fills, s.maker_fills);
        printf("  cancels   sent %" PRIu64 " in %" PRIu64 " frames, cancelled %" PRIu64
               ", already gone %" PRIu64 "\n",
               s.cancels_sent, s.cancel_frames, s.cancelled, s.cancel_misses);
        printf("  throughput %.1f acked orders/s\n", s.throughput);
        printf("  latency us p50 %" PRIu64 " p90 %" PRIu64 " p99 %" PRIu64 " p99.9 %" PRIu64
               " max %" PRIu64 " (from intended send time)\n",
               s.p50, s.p90, s.p99, s.p999, s.max);
        printf("  send lag  p50 %" PRIu64 " p99 %" PRIu64 " max %" PRIu64
               " us behind the schedule%s\n",
               s.send_lag_p50_us, s.send_lag_p99_us, s.max_send_lag_us,
               s.busy_poll ? " (busy-polling)" : "");
        if (r->o.wd_every != 0)
            printf("  withdrawals sent %" PRIu64 ", acked %" PRIu64 " (%" PRIu64
                   " %s in all), rejected %" PRIu64 ", failed %" PRIu64 "; %" PRIu64
                   " sent again after ERROR overloaded\n",
                   c->wd_sent, c->wd_acked, c->wd_amount, r->o.wd_asset, c->wd_rejected,
                   c->wd_sent - c->wd_acked - c->wd_rejected, c->wd_retries);
    }
    for (size_t i = 1; i < LX_R_COUNT; i++)
        if (c->reject_reasons[i])
            fprintf(stderr, "test-client: rejected %s: %" PRIu64 "\n", lx_reason_str((lx_reason)i),
                    c->reject_reasons[i]);
    for (size_t e = 0; e < LX_PROTO_E_COUNT; e++)
        if (c->error_codes[e])
            fprintf(stderr, "test-client: ERROR %s: %" PRIu64 "\n",
                    lx_proto_error_str((lx_proto_error)e), c->error_codes[e]);
    if (c->bad_replies || c->stray_replies || c->send_failures)
        fprintf(stderr,
                "test-client: %" PRIu64 " unexpected replies, %" PRIu64 " late replies, %" PRIu64
                " failed sends\n",
                c->bad_replies, c->stray_replies, c->send_failures);
}

/* ---- the run ---- */

static void report_unready(const run_state *r, const char *what)
{
    for (size_t i = 0; i < r->o.nnodes; i++) {
        lx_client_node_info nd;
        if (lx_client_node(r->cl, &nd, i) == LX_OK && !nd.ready)
            fprintf(stderr, "test-client: %s: no PONG from %s\n", what, nd.ep);
    }
}

/* Connects, checks readiness, then runs the malformed-frame check or the
 * load; returns the exit status. */
static int run(run_state *r)
{
    opts *o = &r->o;
    lx_client_opts co = {.nodes = o->nodes,
                         .nnodes = o->nnodes,
                         .name = "test-client",
                         .connect_timeout_ns = o->connect_timeout_ns,
                         .drain_ns = o->drain_ns,
                         .stopped = stopped,
                         .unbundled = o->unbundled};
    static lx_curve_key secrets[NODES_MAX];
    size_t nsecrets = 0;
    if (o->curve_key != NULL) {
        char list[NODES_MAX * EP_MAX];
        snprintf(list, sizeof list, "%s", o->curve_key);
        for (char *save = NULL, *f = strtok_r(list, ",", &save); f != NULL && nsecrets < NODES_MAX;
             f = strtok_r(NULL, ",", &save)) {
            lx_err kerr = lx_curve_keyfile_read(&secrets[nsecrets], f);
            if (kerr != LX_OK) {
                fprintf(stderr, "test-client: --curve-key %s: %s\n", f,
                        kerr == LX_EPERM       ? "readable by group or others (chmod 600 it)"
                        : kerr == LX_EFORMAT   ? "not a CURVE secret key file"
                        : kerr == LX_ENOTFOUND ? "no such file"
                                               : lx_strerror(kerr));
                lx_wipe(secrets, sizeof secrets);
                return 2;
            }
            nsecrets++;
        }
        co.curve_secrets = secrets;
        co.ncurve_secrets = nsecrets;
        co.server_keys = o->server_keys;
    }
    size_t bad = SIZE_MAX;
    lx_err err = lx_client_new(&r->cl, &bad, &co);
    lx_wipe(secrets, sizeof secrets);
    if (err != LX_OK) {
        if (bad == SIZE_MAX) {
            fprintf(stderr, "test-client: out of memory\n");
            return 1;
        }
        fprintf(stderr, "test-client: %s: %s\n", o->nodes[bad], lx_strerror(err));
        return err == LX_EINVAL ? 2 : 1;
    }
    lx_client *cl = r->cl;
    if (o->acked_log != NULL && o->have_duration && o->malformed == 0 &&
        lx_client_open_acked_log(cl, o->acked_log) != LX_OK) {
        fprintf(stderr, "test-client: --acked-log %s: %s\n", o->acked_log, strerror(errno));
        return 2;
    }

    /* Readiness. */
    if (o->have_wait_ready) {
        int ok = lx_client_wait_ready(cl, o->wait_ready_ns);
        if (!ok)
            report_unready(r, "--wait-ready");
        if ((!o->have_duration || o->no_load) && o->malformed == 0) {
            if (ok && !o->quiet)
                fprintf(stderr, "test-client: all %zu node(s) answer\n", o->nnodes);
            return ok ? 0 : 1;
        }
        if (!ok)
            return 1;
    } else if (!lx_client_wait_ready(cl, o->connect_timeout_ns)) {
        report_unready(r, "unreachable");
        return 1;
    }
    if (!o->quiet)
        for (size_t i = 0; i < o->nnodes; i++) {
            lx_client_node_info nd;
            if (lx_client_node(cl, &nd, i) == LX_OK)
                fprintf(stderr, "test-client: %s answers (seq %" PRIu64 "%s)\n", nd.ep, nd.pong_seq,
                        nd.leader ? ", leader" : "");
        }
    if (o->no_load && o->malformed == 0)
        return 0;

    if (o->malformed > 0)
        return lx_client_malformed(cl, o->malformed, o->json != 0);

    int mk = lx_client_fetch_markets(cl, o->markets);
    if (mk <= 0)
        return mk < 0 ? 2 : 1;
    if (lx_client_markets(cl) == 0) {
        fprintf(stderr, "test-client: the cluster lists no markets\n");
        return 1;
    }
    uint64_t total = (uint64_t)llround(o->rate * (double)o->duration_ns / 1e9);
    if (total == 0)
        total = 1;
    lx_client_load load = {.seed = o->seed,
                           .id_base = o->id_base,
                           .accounts = o->accounts,
                           .account_base = o->account_base,
                           .rate = o->rate,
                           .cancel_ratio = o->cancel_ratio};
    err = lx_client_load_init(cl, &load);
    if (err == LX_EINVAL)
        fprintf(stderr, "test-client: cannot generate orders for these markets (tick, lot or "
                        "min_qty too large)\n");
    if (err != LX_OK)
        return 1;
    if (o->funding == FUND_PLAN)
        return lx_client_fund_plan(cl, total, stdout) ? 0 : 1;
    if (!o->quiet && o->funding == FUND_FAUCET)
        fprintf(stderr, "test-client: funding %" PRIu64 " accounts in %zu market(s)\n", o->accounts,
                lx_client_markets(cl));
    if (o->funding == FUND_FAUCET && !lx_client_fund(cl, total)) {
        fprintf(stderr, "test-client: funding failed\n");
        return 1;
    }
    if (!o->quiet)
        fprintf(stderr,
                "test-client: %" PRIu64 " orders at %.0f/s over %zu node(s), batch %u, seed "
                "%" PRIu64 "\n",
                total, o->rate, o->nnodes, o->batch, o->seed);
    run_load(r, total);
    lx_client_stats s;
    lx_client_stats_get(cl, &s);
    print_summary(r, &s, total);
    if (lx_client_close_acked_log(cl) != LX_OK) {
        fprintf(stderr, "test-client: --acked-log: write failed\n");
        return 1;
    }
    double err_share = s.sent > 0 ? (double)s.errors / (double)s.sent : 1.0;
    if (err_share > o->error_threshold) {
        fprintf(stderr, "test-client: errors %.4f of sent, over the threshold %.4f\n", err_share,
                o->error_threshold);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static run_state r; /* large; zeroed */
    lx_timer_slack_min();
    int rc = parse_args(&r.o, argc, argv);
    if (rc != 0)
        return rc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (lx_hist_new(&r.lag) != LX_OK) {
        fprintf(stderr, "test-client: out of memory\n");
        return 1;
    }
    rc = run(&r);
    lx_client_free(&r.cl);
    lx_hist_free(&r.lag);
    return rc;
}
