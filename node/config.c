/* multi-node configuration: defaults, environment variables and flags (a flag
 * wins over its variable), value checks, and the markets file. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "node_int.h"

const char lx__usage[] =
    "usage: multi-node [options]\n"
    "\n"
    "Runs one node of an lxdex cluster. Every option also has an environment\n"
    "variable (in brackets); a flag wins over its variable.\n"
    "\n"
    "  --node ID              node id, 1-31 of [A-Za-z0-9._-] [NODE_ID] (node0)\n"
    "  --port N               base port; the node binds N..N+3 [BASE_PORT] (5000)\n"
    "  --peers LIST           peers' base endpoints, comma-separated,\n"
    "                         e.g. tcp://localhost:5100,tcp://localhost:5200 [PEERS]\n"
    "  --topology T           mesh (peers: all other nodes), star (the hub lists\n"
    "                         all, the others the hub) or ring (the two\n"
    "                         neighbours); star and ring relay [TOPOLOGY] (mesh)\n"
    "  --cluster-size N       nodes in the cluster; required with star and ring\n"
    "                         [CLUSTER_SIZE] (peers + 1)\n"
    "  --leader[=BOOL]        this node leads a new cluster's first term; later\n"
    "                         leaders are elected [IS_LEADER] (false)\n"
    "  --consensus MODE       leader (raft, byzantine, pbft: not in this\n"
    "                         version) [CONSENSUS] (leader)\n"
    "  --cluster-id NAME      the cluster's name, 1-63 of [A-Za-z0-9._-], the same\n"
    "                         on every node; messages of nodes with another name\n"
    "                         or --consensus are refused and logged [CLUSTER_ID]\n"
    "                         (lxdex)\n"
    "  --data-dir DIR         journal, snapshots, status.json [DATA_DIR] (data/ID)\n"
    "  --markets FILE         JSON array of markets for block 1 [MARKETS]\n"
    "                         (BTC-USD and ETH-USD, lot 1, tick 1, no fees)\n"
    "  --log-file FILE        also append log lines to FILE [LOG_FILE]\n"
    "  --metrics-interval D   metrics line period: 10s, 500ms, or seconds\n"
    "                         [METRICS_INTERVAL] (10s)\n"
    "  --bind HOST            address to bind [BIND] (127.0.0.1)\n"
    "  --hwm N                ZeroMQ high-water mark, messages [HWM] (10000)\n"
    "  --block-max-orders N   cut a block after N entries [BLOCK_MAX_ORDERS] (1024)\n"
    "  --block-max-us T       or T microseconds after its first [BLOCK_MAX_US] (1000)\n"
    "  --block-min-us T       after a block of 64 entries or more, cut the next\n"
    "                         at least T microseconds later: under load fuller\n"
    "                         blocks cost less per order; 0 never waits\n"
    "                         [BLOCK_MIN_US] (1000)\n"
    "  --fsync on|off         fdatasync each group commit [FSYNC] (on)\n"
    "  --direct-sync-us T     the main thread writes and syncs a block itself,\n"
    "                         skipping the journal thread, while syncs average\n"
    "                         at most T microseconds; 0 never [DIRECT_SYNC_US] (50)\n"
    "  --dev-faucet[=BOOL]    accept DEPOSIT requests [DEV_FAUCET] (false)\n"
    "  --heartbeat-ms N       heartbeat period [HEARTBEAT_MS] (100)\n"
    "  --snapshot-every N     snapshot every N blocks, 0 never [SNAPSHOT_EVERY] (10000)\n"
    "  --ack-quorum Q         majority: acknowledge a block once a majority of the\n"
    "                         nodes hold it durably; local: after the leader's own\n"
    "                         sync (faster, loses acknowledged orders if the leader\n"
    "                         dies first) [ACK_QUORUM] (majority)\n"
    "  --election-timeout D   followers elect a new leader after D without its\n"
    "                         heartbeats [ELECTION_TIMEOUT] (1s)\n"
    "  --compact on|off       after a snapshot, remove the journal segments the\n"
    "                         older kept snapshot covers [COMPACT] (on)\n"
    "  --journal-segment-bytes N\n"
    "                         start a new journal segment past N bytes, 4096 to\n"
    "                         2^40 [JOURNAL_SEGMENT_BYTES] (67108864)\n"
    "  --reserve-orders N     size the order book's id index and order pool for N\n"
    "                         open orders at start (16 MiB of index a million),\n"
    "                         so a book within N never pauses to grow them;\n"
    "                         0 grows from empty [RESERVE_ORDERS] (1048576)\n"
    "  --curve-key FILE       this node's CURVE secret key (lx-keys generate); turns\n"
    "                         CURVE on for every socket [CURVE_KEY]\n"
    "  --peer-keys FILE       allow-list of the cluster's node keys, labelled with\n"
    "                         node numbers [PEER_KEYS]\n"
    "  --peer-numbers LIST    node number of each --peers entry, in order, e.g. 1,2\n"
    "                         [PEER_NUMBERS]\n"
    "  --client-keys FILE     allow-list of client keys, labelled with the account\n"
    "                         each may act for [CLIENT_KEYS]\n"
    "  --insecure[=BOOL]      allow a non-loopback --bind without CURVE keys\n"
    "                         [INSECURE] (false)\n"
    "  --channel FILE         settle on the X-Chain: the shared channel file\n"
    "                         [SETTLE_CHANNEL] (none: no settlement)\n"
    "  --key-file FILE        this node's settlement key, mode 0600, from\n"
    "                         lx-xchain keygen [SETTLE_KEY_FILE]\n"
    "  --rpc URL              X-Chain API, needed by the leader [SETTLE_RPC]\n"
    "  --settle-interval D    close a batch every D [SETTLE_INTERVAL] (1s)\n"
    "  --settle-fills N       or once it holds N fills [SETTLE_FILLS] (10000)\n"
    "  --help                 print this and exit\n"
    "\n"
    "Exit status: 0 after a clean stop, 1 a runtime failure, 2 bad usage,\n"
    "3 a port in use.\n";

lx_err lx__errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LX_EINVAL;
}

static int parse_u64(uint64_t *out, const char *s)
{
    uint64_t v = 0;
    if (!s || !*s)
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

/* An unsigned integer in [lo, hi]. */
static int parse_range(uint64_t *out, const char *s, uint64_t lo, uint64_t hi)
{
    uint64_t v;
    if (!parse_u64(&v, s) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

static int parse_bool(int *out, const char *s)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

uint64_t lx__parse_duration_us(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s), digits = 0;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 12)
        return 0;
    char num[16];
    memcpy(num, s, digits);
    num[digits] = 0;
    uint64_t v;
    if (!parse_u64(&v, num))
        return 0;
    const char *unit = s + digits;
    uint64_t mul;
    if (*unit == 0 || strcmp(unit, "s") == 0)
        mul = 1000000;
    else if (strcmp(unit, "ms") == 0)
        mul = 1000;
    else if (strcmp(unit, "us") == 0)
        mul = 1;
    else if (strcmp(unit, "m") == 0)
        mul = 60000000;
    else
        return 0;
    return v * mul;
}

/* A bind host or peer host: letters, digits, '.', '-', '_' ('*' for bind). */
static int host_ok(const char *s, int wildcard)
{
    size_t n = strlen(s);
    if (n == 0 || n > LX__HOST_MAX)
        return 0;
    if (wildcard && strcmp(s, "*") == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static lx_err parse_peers(lx__config *cfg, char *err, size_t errlen, const char *s)
{
    cfg->npeers = 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ')) {
            p++;
            len--;
        }
        while (len && p[len - 1] == ' ')
            len--;
        if (len == 0)
            return lx__errf(err, errlen, "--peers: empty entry in \"%s\"", s);
        char item[LX__HOST_MAX + 32];
        if (len >= sizeof item)
            return lx__errf(err, errlen, "--peers: entry too long");
        memcpy(item, p, len);
        item[len] = 0;
        if (strncmp(item, "tcp://", 6) != 0)
            return lx__errf(err, errlen, "--peers: \"%s\" is not tcp://HOST:PORT", item);
        char *colon = strrchr(item + 6, ':');
        if (!colon)
            return lx__errf(err, errlen, "--peers: \"%s\" has no port", item);
        *colon = 0;
        uint64_t port;
        if (!host_ok(item + 6, 0))
            return lx__errf(err, errlen, "--peers: bad host \"%s\"", item + 6);
        if (!parse_range(&port, colon + 1, 1, 65532))
            return lx__errf(err, errlen, "--peers: bad port \"%s\" (1 to 65532)", colon + 1);
        if (cfg->npeers == LX__PEERS_MAX)
            return lx__errf(err, errlen, "--peers: more than %d peers", LX__PEERS_MAX);
        lx__peer_addr *a = &cfg->peers[cfg->npeers++];
        size_t hl = strlen(item + 6); /* host_ok: at most LX__HOST_MAX */
        memcpy(a->host, item + 6, hl + 1);
        a->port = (unsigned)port;
        p += len;
        while (*p == ' ')
            p++;
        if (*p == ',') {
            p++;
            if (!*p)
                return lx__errf(err, errlen, "--peers: trailing comma in \"%s\"", s);
        }
    }
    return LX_OK;
}

/* --peer-numbers: comma-separated node numbers (decimal u64), at most
 * LX__PEERS_MAX; checked against --peers by lx__auth_check_config. */
static lx_err parse_numbers(lx__curve_cfg *c, char *err, size_t errlen, const char *s,
                            const char *src)
{
    c->nnumbers = 0;
    const char *p = s;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[24];
        const char *q = p;
        while (len && *q == ' ') {
            q++;
            len--;
        }
        while (len && q[len - 1] == ' ')
            len--;
        if (len == 0 || len >= sizeof item)
            return lx__errf(err, errlen, "%s: bad entry in \"%s\": node numbers, e.g. 1,2", src, s);
        memcpy(item, q, len);
        item[len] = 0;
        uint64_t v;
        if (!parse_u64(&v, item))
            return lx__errf(err, errlen, "%s: \"%s\" is not a node number (0 to 2^64-1)", src,
                            item);
        if (c->nnumbers == LX__PEERS_MAX)
            return lx__errf(err, errlen, "%s: more than %d node numbers", src, LX__PEERS_MAX);
        c->numbers[c->nnumbers++] = v;
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            return lx__errf(err, errlen, "%s: trailing comma in \"%s\"", src, s);
    }
    return LX_OK;
}

size_t lx__markets_default(lx_market_spec *out, size_t cap)
{
    static const char *const names[][3] = {{"BTC-USD", "BTC", "USD"}, {"ETH-USD", "ETH", "USD"}};
    size_t n = 0;
    for (; n < 2 && n < cap; n++) {
        memset(&out[n], 0, sizeof out[n]);
        snprintf(out[n].name, sizeof out[n].name, "%s", names[n][0]);
        snprintf(out[n].base, sizeof out[n].base, "%s", names[n][1]);
        snprintf(out[n].quote, sizeof out[n].quote, "%s", names[n][2]);
        out[n].lot = out[n].tick = out[n].min_qty = 1;
    }
    return n;
}

lx_err lx__markets_load(lx_market_spec *out, size_t *n, size_t cap, char *err, size_t errlen,
                        const char *path)
{
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.line < 0 || strstr(je.text, "unable to open"))
            return lx__errf(err, errlen, "--markets: cannot read %s: %s", path, je.text);
        return lx__errf(err, errlen, "--markets: %s: line %d: %s", path, je.line, je.text);
    }
    lx_err rc = LX_OK;
    lx_cmdjson *cj = NULL;
    lx_engine *e = NULL;
    lx_events evs;
    lx_events_init(&evs);
    lx_engine_config ec = {0};
    if (!json_is_array(root)) {
        rc = lx__errf(err, errlen, "--markets: %s must hold a JSON array of market objects", path);
        goto out;
    }
    if (json_array_size(root) == 0 || json_array_size(root) > cap) {
        rc = lx__errf(err, errlen, "--markets: %s must list 1 to %zu markets", path, cap);
        goto out;
    }
    if (lx_cmdjson_new(&cj) != LX_OK || lx_engine_new(&e, &ec) != LX_OK) {
        rc = lx__errf(err, errlen, "--markets: out of memory");
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(root, i, v)
    {
        if (!json_is_object(v)) {
            rc = lx__errf(err, errlen, "--markets: %s: entry %zu is not an object", path, i + 1);
            goto out;
        }
        /* The lx-replay market line; "op" may be left out. */
        json_t *op = json_object_get(v, "op");
        if (!op)
            json_object_set_new(v, "op", json_string("market"));
        else if (!json_is_string(op) || strcmp(json_string_value(op), "market") != 0) {
            rc = lx__errf(err, errlen, "--markets: %s: entry %zu: \"op\" must be \"market\"", path,
                          i + 1);
            goto out;
        }
        char *line = json_dumps(v, JSON_COMPACT);
        if (!line) {
            rc = lx__errf(err, errlen, "--markets: out of memory");
            goto out;
        }
        lx_parsed pr;
        char why[160];
        lx_err prc = lx_cmdjson_parse(cj, &pr, why, sizeof why, e, line, strlen(line));
        free(line);
        if (prc != LX_OK) {
            rc = lx__errf(err, errlen, "--markets: %s: entry %zu: %s", path, i + 1,
                          prc == LX_EFORMAT ? why : lx_strerror(prc));
            goto out;
        }
        lx_events_clear(&evs);
        if (lx_engine_add_market(e, &evs, &pr.market) != LX_OK || evs.n != 1) {
            rc = lx__errf(err, errlen, "--markets: out of memory");
            goto out;
        }
        if (evs.v[0].type != LX_EV_MARKET) {
            rc = lx__errf(err, errlen, "--markets: %s: entry %zu (%s): rejected: %s", path, i + 1,
                          pr.market.name, lx_reason_str((lx_reason)evs.v[0].reason));
            goto out;
        }
        out[(*n)++] = pr.market;
    }
out:
    lx_events_free(&evs);
    lx_engine_free(&e);
    lx_cmdjson_free(&cj);
    json_decref(root);
    if (rc != LX_OK)
        *n = 0;
    return rc;
}

lx_err lx__cluster_tag(uint8_t out[LX__CLUSTER_TAG_LEN], const char *cluster_id,
                       const char *consensus)
{
    static const char domain[] = "lxdex-cluster";
    uint8_t buf[sizeof domain + LX__CLUSTER_ID_MAX + 1 + 16];
    size_t il = cluster_id ? strlen(cluster_id) : 0, cl = consensus ? strlen(consensus) : 0;
    if (!out || il == 0 || il > LX__CLUSTER_ID_MAX || cl == 0 || cl >= 16)
        return LX_EINVAL;
    memcpy(buf, domain, sizeof domain); /* with its NUL */
    memcpy(buf + sizeof domain, cluster_id, il);
    buf[sizeof domain + il] = 0;
    memcpy(buf + sizeof domain + il + 1, consensus, cl);
    uint8_t digest[LX_SHA256_LEN];
    lx_err rc = lx_sha256(digest, buf, sizeof domain + il + 1 + cl);
    if (rc == LX_OK)
        memcpy(out, digest, LX__CLUSTER_TAG_LEN);
    return rc;
}

/* The options: flag name, variable name, whether it takes a value. */
typedef enum opt_id {
    O_NODE,
    O_PORT,
    O_PEERS,
    O_TOPOLOGY,
    O_CLUSTER_SIZE,
    O_LEADER,
    O_CONSENSUS,
    O_CLUSTER_ID,
    O_DATA_DIR,
    O_MARKETS,
    O_LOG_FILE,
    O_METRICS,
    O_BIND,
    O_HWM,
    O_BLOCK_ORDERS,
    O_BLOCK_US,
    O_BLOCK_MIN_US,
    O_FSYNC,
    O_DIRECT_SYNC,
    O_FAUCET,
    O_HEARTBEAT,
    O_SNAPSHOT,
    O_ACK_QUORUM,
    O_ELECTION,
    O_COMPACT,
    O_SEGMENT,
    O_RESERVE,
    O_CURVE_KEY,
    O_PEER_KEYS,
    O_PEER_NUMBERS,
    O_CLIENT_KEYS,
    O_INSECURE,
    O_CHANNEL, /* the settlement options, in lx__settle_set_opt's order */
    O_KEY_FILE,
    O_RPC,
    O_SETTLE_INTERVAL,
    O_SETTLE_FILLS,
    O_COUNT
} opt_id;

static const struct {
    const char *flag, *env;
    int is_switch; /* a bare flag means true */
} opts[O_COUNT] = {
    [O_NODE] = {"node", "NODE_ID", 0},
    [O_PORT] = {"port", "BASE_PORT", 0},
    [O_PEERS] = {"peers", "PEERS", 0},
    [O_TOPOLOGY] = {"topology", "TOPOLOGY", 0},
    [O_CLUSTER_SIZE] = {"cluster-size", "CLUSTER_SIZE", 0},
    [O_LEADER] = {"leader", "IS_LEADER", 1},
    [O_CONSENSUS] = {"consensus", "CONSENSUS", 0},
    [O_CLUSTER_ID] = {"cluster-id", "CLUSTER_ID", 0},
    [O_DATA_DIR] = {"data-dir", "DATA_DIR", 0},
    [O_MARKETS] = {"markets", "MARKETS", 0},
    [O_LOG_FILE] = {"log-file", "LOG_FILE", 0},
    [O_METRICS] = {"metrics-interval", "METRICS_INTERVAL", 0},
    [O_BIND] = {"bind", "BIND", 0},
    [O_HWM] = {"hwm", "HWM", 0},
    [O_BLOCK_ORDERS] = {"block-max-orders", "BLOCK_MAX_ORDERS", 0},
    [O_BLOCK_US] = {"block-max-us", "BLOCK_MAX_US", 0},
    [O_BLOCK_MIN_US] = {"block-min-us", "BLOCK_MIN_US", 0},
    [O_FSYNC] = {"fsync", "FSYNC", 0},
    [O_DIRECT_SYNC] = {"direct-sync-us", "DIRECT_SYNC_US", 0},
    [O_FAUCET] = {"dev-faucet", "DEV_FAUCET", 1},
    [O_HEARTBEAT] = {"heartbeat-ms", "HEARTBEAT_MS", 0},
    [O_SNAPSHOT] = {"snapshot-every", "SNAPSHOT_EVERY", 0},
    [O_ACK_QUORUM] = {"ack-quorum", "ACK_QUORUM", 0},
    [O_ELECTION] = {"election-timeout", "ELECTION_TIMEOUT", 0},
    [O_COMPACT] = {"compact", "COMPACT", 0},
    [O_SEGMENT] = {"journal-segment-bytes", "JOURNAL_SEGMENT_BYTES", 0},
    [O_RESERVE] = {"reserve-orders", "RESERVE_ORDERS", 0},
    [O_CURVE_KEY] = {"curve-key", "CURVE_KEY", 0},
    [O_PEER_KEYS] = {"peer-keys", "PEER_KEYS", 0},
    [O_PEER_NUMBERS] = {"peer-numbers", "PEER_NUMBERS", 0},
    [O_CLIENT_KEYS] = {"client-keys", "CLIENT_KEYS", 0},
    [O_INSECURE] = {"insecure", "INSECURE", 1},
    [O_CHANNEL] = {"channel", "SETTLE_CHANNEL", 0},
    [O_KEY_FILE] = {"key-file", "SETTLE_KEY_FILE", 0},
    [O_RPC] = {"rpc", "SETTLE_RPC", 0},
    [O_SETTLE_INTERVAL] = {"settle-interval", "SETTLE_INTERVAL", 0},
    [O_SETTLE_FILLS] = {"settle-fills", "SETTLE_FILLS", 0},
};

/* Applies one option's value; src names where it came from for messages. */
static lx_err set_opt(lx__config *c, char *err, size_t errlen, opt_id id, const char *v,
                      const char *src)
{
    uint64_t u;
    int b;
    switch (id) {
    case O_NODE:
        if (!lx__node_id_ok(v))
            return lx__errf(err, errlen, "%s: bad node id \"%s\": 1 to 31 of A-Z a-z 0-9 . _ -",
                            src, v);
        snprintf(c->node_id, sizeof c->node_id, "%s", v);
        return LX_OK;
    case O_CLUSTER_ID:
        if (!lx__name_ok(v, LX__CLUSTER_ID_MAX))
            return lx__errf(err, errlen, "%s: bad cluster id \"%s\": 1 to %d of A-Z a-z 0-9 . _ -",
                            src, v, LX__CLUSTER_ID_MAX);
        snprintf(c->cluster_id, sizeof c->cluster_id, "%s", v);
        return LX_OK;
    case O_PORT:
        if (!parse_range(&u, v, 1, 65532))
            return lx__errf(err, errlen,
                            "%s: bad port \"%s\": 1 to 65532 (the node uses port+0..+3)", src, v);
        c->base_port = (unsigned)u;
        return LX_OK;
    case O_PEERS:
        return parse_peers(c, err, errlen, v);
    case O_TOPOLOGY:
        if (strcmp(v, "mesh") == 0)
            c->topology = LX__TOPO_MESH;
        else if (strcmp(v, "star") == 0)
            c->topology = LX__TOPO_STAR;
        else if (strcmp(v, "ring") == 0)
            c->topology = LX__TOPO_RING;
        else
            return lx__errf(err, errlen, "%s: bad topology \"%s\": mesh, star or ring", src, v);
        return LX_OK;
    case O_CLUSTER_SIZE:
        if (!parse_range(&u, v, 1, LX__CLUSTER_MAX))
            return lx__errf(err, errlen, "%s: bad cluster size \"%s\": 1 to %d nodes", src, v,
                            LX__CLUSTER_MAX);
        c->cluster_size = (size_t)u;
        return LX_OK;
    case O_LEADER:
        if (!parse_bool(&b, v))
            return lx__errf(err, errlen, "%s: bad value \"%s\": true or false", src, v);
        c->is_leader = b;
        return LX_OK;
    case O_CONSENSUS:
        if (strcmp(v, "leader") == 0) {
            snprintf(c->consensus, sizeof c->consensus, "%s", v);
            return LX_OK;
        }
        if (strcmp(v, "raft") == 0 || strcmp(v, "byzantine") == 0 || strcmp(v, "pbft") == 0) {
            if (err && errlen)
                snprintf(err, errlen,
                         "%s: consensus mode \"%s\" is not available in this version; use "
                         "\"leader\"",
                         src, v);
            return LX_EUNSUPPORTED;
        }
        return lx__errf(err, errlen,
                        "%s: unknown consensus mode \"%s\": leader, raft, byzantine or pbft", src,
                        v);
    case O_DATA_DIR:
    case O_MARKETS:
    case O_LOG_FILE: {
        char *dst = id == O_DATA_DIR  ? c->data_dir
                    : id == O_MARKETS ? c->markets_file
                                      : c->log_file;
        if (!*v || strlen(v) >= LX__PATH_MAX)
            return lx__errf(err, errlen, "%s: the path must be 1 to %d bytes", src,
                            LX__PATH_MAX - 1);
        snprintf(dst, LX__PATH_MAX, "%s", v);
        return LX_OK;
    }
    case O_METRICS:
        u = lx__parse_duration_us(v);
        if (u < 1000 || u > 86400000000ull)
            return lx__errf(err, errlen,
                            "%s: bad interval \"%s\": e.g. 10s, 500ms or 10 (seconds), 1ms to 24h",
                            src, v);
        c->metrics_interval_us = u;
        return LX_OK;
    case O_BIND:
        if (!host_ok(v, 1))
            return lx__errf(err, errlen, "%s: bad bind address \"%s\"", src, v);
        snprintf(c->bind, sizeof c->bind, "%s", v);
        return LX_OK;
    case O_HWM:
        if (!parse_range(&u, v, 1, 10000000))
            return lx__errf(err, errlen, "%s: bad high-water mark \"%s\": 1 to 10000000", src, v);
        c->hwm = (int)u;
        return LX_OK;
    case O_BLOCK_ORDERS:
        if (!parse_range(&u, v, 1, LX_BLOCK_ENTRIES_MAX))
            return lx__errf(err, errlen, "%s: bad block size \"%s\": 1 to %u", src, v,
                            LX_BLOCK_ENTRIES_MAX);
        c->block_max_orders = (uint32_t)u;
        return LX_OK;
    case O_BLOCK_US:
        if (!parse_range(&u, v, 1, 10000000))
            return lx__errf(err, errlen, "%s: bad block time \"%s\": 1 to 10000000 microseconds",
                            src, v);
        c->block_max_us = u;
        return LX_OK;
    case O_BLOCK_MIN_US:
        if (!parse_range(&u, v, 0, 10000000))
            return lx__errf(err, errlen, "%s: bad block pacing \"%s\": 0 to 10000000 microseconds",
                            src, v);
        c->block_min_us = u;
        return LX_OK;
    case O_FSYNC:
        if (!parse_bool(&b, v))
            return lx__errf(err, errlen, "%s: bad value \"%s\": on or off", src, v);
        c->fsync = b;
        return LX_OK;
    case O_DIRECT_SYNC:
        if (!parse_range(&u, v, 0, 1000000))
            return lx__errf(err, errlen,
                            "%s: bad direct sync limit \"%s\": 0 to 1000000 microseconds", src, v);
        c->direct_sync_us = (uint32_t)u;
        return LX_OK;
    case O_FAUCET:
        if (!parse_bool(&b, v))
            return lx__errf(err, errlen, "%s: bad value \"%s\": true or false", src, v);
        c->dev_faucet = b;
        return LX_OK;
    case O_HEARTBEAT:
        if (!parse_range(&u, v, 1, 60000))
            return lx__errf(err, errlen, "%s: bad heartbeat period \"%s\": 1 to 60000 ms", src, v);
        c->heartbeat_ms = (uint32_t)u;
        return LX_OK;
    case O_SNAPSHOT:
        if (!parse_range(&u, v, 0, UINT32_MAX))
            return lx__errf(err, errlen, "%s: bad snapshot period \"%s\": 0 to 4294967295 blocks",
                            src, v);
        c->snapshot_every = u;
        return LX_OK;
    case O_ACK_QUORUM:
        if (strcmp(v, "majority") != 0 && strcmp(v, "local") != 0)
            return lx__errf(err, errlen, "%s: bad ack quorum \"%s\": majority or local", src, v);
        c->ack_majority = strcmp(v, "majority") == 0;
        return LX_OK;
    case O_ELECTION:
        u = lx__parse_duration_us(v);
        if (u < 10000 || u > 600000000ull)
            return lx__errf(err, errlen, "%s: bad election timeout \"%s\": 10ms to 10m", src, v);
        c->election_us = u;
        return LX_OK;
    case O_COMPACT:
        if (!parse_bool(&b, v))
            return lx__errf(err, errlen, "%s: bad value \"%s\": on or off", src, v);
        c->compact = b;
        return LX_OK;
    case O_SEGMENT:
        if (!parse_range(&u, v, 4096, (uint64_t)1 << 40))
            return lx__errf(err, errlen, "%s: bad segment size \"%s\": 4096 to 1099511627776 bytes",
                            src, v);
        c->segment_bytes = u;
        return LX_OK;
    case O_RESERVE:
        if (!parse_range(&u, v, 0, LX_ENGINE_RESERVE_MAX))
            return lx__errf(err, errlen, "%s: bad order reserve \"%s\": 0 to %zu open orders", src,
                            v, LX_ENGINE_RESERVE_MAX);
        c->reserve_orders = (size_t)u;
        return LX_OK;
    case O_CURVE_KEY:
    case O_PEER_KEYS:
    case O_CLIENT_KEYS: {
        char *dst = id == O_CURVE_KEY   ? c->curve.key_file
                    : id == O_PEER_KEYS ? c->curve.peer_keys
                                        : c->curve.client_keys;
        if (!*v || strlen(v) >= LX__PATH_MAX)
            return lx__errf(err, errlen, "%s: the path must be 1 to %d bytes", src,
                            LX__PATH_MAX - 1);
        snprintf(dst, LX__PATH_MAX, "%s", v);
        return LX_OK;
    }
    case O_PEER_NUMBERS:
        return parse_numbers(&c->curve, err, errlen, v, src);
    case O_INSECURE:
        if (!parse_bool(&b, v))
            return lx__errf(err, errlen, "%s: bad value \"%s\": true or false", src, v);
        c->curve.insecure = b;
        return LX_OK;
    case O_CHANNEL:
    case O_KEY_FILE:
    case O_RPC:
    case O_SETTLE_INTERVAL:
    case O_SETTLE_FILLS:
        return lx__settle_set_opt(&c->settle, err, errlen, (int)(id - O_CHANNEL), v, src);
    case O_COUNT:
        break;
    }
    return LX_EINVAL;
}

/* --topology against --peers and --cluster-size: the majority must count
 * every node of the cluster, not only the ones this node links to. */
static lx_err check_topology(lx__config *c, char *err, size_t errlen)
{
    size_t links = c->npeers, n = c->cluster_size;
    if (c->topology == LX__TOPO_MESH) {
        if (n && n != links + 1)
            return lx__errf(err, errlen,
                            "--cluster-size %zu: a mesh has every other node in --peers (%zu "
                            "peers: %zu nodes)",
                            n, links, links + 1);
        c->cluster_size = links + 1;
        return LX_OK;
    }
    const char *t = c->topology == LX__TOPO_STAR ? "star" : "ring";
    if (!n)
        return lx__errf(err, errlen, "--topology %s needs --cluster-size (every node counts)", t);
    if (n < links + 1)
        return lx__errf(err, errlen, "--cluster-size %zu: %zu peers and this node make %zu", n,
                        links, links + 1);
    if (links == 0 && n > 1)
        return lx__errf(err, errlen, "--topology %s: --peers lists no node to link to", t);
    if (c->topology == LX__TOPO_RING && links > 2)
        return lx__errf(err, errlen,
                        "--topology ring: --peers lists %zu nodes; a ring node has two "
                        "neighbours",
                        links);
    if (c->topology == LX__TOPO_STAR && links != 1 && links != n - 1)
        return lx__errf(err, errlen,
                        "--topology star: --peers lists %zu nodes; the hub lists the %zu "
                        "others, every other node the hub only",
                        links, n - 1);
    return LX_OK;
}

static const char *process_env(const char *name)
{
    return getenv(name);
}

static void defaults(lx__config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->node_id, sizeof c->node_id, "node0");
    c->base_port = 5000;
    snprintf(c->consensus, sizeof c->consensus, "leader");
    snprintf(c->cluster_id, sizeof c->cluster_id, "lxdex");
    c->metrics_interval_us = 10000000;
    snprintf(c->bind, sizeof c->bind, "127.0.0.1");
    /* Room for about half a second of replies to one client at 250,000
     * orders/s: a client that pauses briefly loses none. */
    c->hwm = 10000;
    c->block_max_orders = 1024;
    c->block_max_us = 1000;
    c->block_min_us = 1000;
    c->fsync = 1;
    c->direct_sync_us = 50;
    c->heartbeat_ms = 100;
    c->snapshot_every = 10000;
    c->ack_majority = 1;
    c->election_us = 1000000;
    c->compact = 1;
    c->segment_bytes = LX_JOURNAL_SEGMENT_DEFAULT;
    c->reserve_orders = LX__RESERVE_DEFAULT;
    lx__settle_cfg_defaults(&c->settle);
}

lx_err lx__config_parse(lx__config *cfg, char *err, size_t errlen, int argc, char **argv,
                        lx__getenv_fn env)
{
    if (!cfg || (argc > 0 && !argv))
        return LX_EINVAL;
    if (err && errlen)
        err[0] = 0;
    if (!env)
        env = process_env;
    defaults(cfg);
    lx_err rc;

    /* Flags first into a table, so that the environment can be applied
     * underneath them and a flag wins whatever the order. */
    const char *flag_val[O_COUNT] = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->help = 1;
            return LX_OK;
        }
        if (strncmp(a, "--", 2) != 0)
            return lx__errf(err, errlen, "unexpected argument \"%s\" (see --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int id = -1;
        for (int k = 0; k < O_COUNT; k++)
            if (strlen(opts[k].flag) == nlen && strncmp(opts[k].flag, name, nlen) == 0)
                id = k;
        if (id < 0)
            return lx__errf(err, errlen, "unknown option \"%s\" (see --help)", a);
        const char *val;
        if (eq)
            val = eq + 1;
        else if (opts[id].is_switch)
            val = "true";
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return lx__errf(err, errlen, "--%s needs a value", opts[id].flag);
        flag_val[id] = val;
    }
    for (int k = 0; k < O_COUNT; k++) {
        char src[64];
        const char *v = flag_val[k];
        if (v)
            snprintf(src, sizeof src, "--%s", opts[k].flag);
        else if ((v = env(opts[k].env)) != NULL)
            snprintf(src, sizeof src, "%s", opts[k].env);
        else
            continue;
        if ((rc = set_opt(cfg, err, errlen, (opt_id)k, v, src)) != LX_OK)
            return rc;
    }
    if (!cfg->data_dir[0])
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "data/%s", cfg->node_id);
    if ((rc = lx__cluster_tag(cfg->cluster_tag, cfg->cluster_id, cfg->consensus)) != LX_OK)
        return lx__errf(err, errlen, "cannot derive the cluster tag: %s", lx_strerror(rc));
    if ((rc = check_topology(cfg, err, errlen)) != LX_OK)
        return rc;
    if ((rc = lx__settle_cfg_check(&cfg->settle, err, errlen, cfg->is_leader)) != LX_OK)
        return rc;
    if (cfg->markets_file[0])
        return lx__markets_load(cfg->markets, &cfg->nmarkets, LX__MARKETS_MAX, err, errlen,
                                cfg->markets_file);
    cfg->nmarkets = lx__markets_default(cfg->markets, LX__MARKETS_MAX);
    return LX_OK;
}
