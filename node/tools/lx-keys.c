/* lx-keys: creates CURVE key files, prints their public keys and checks
 * allow-list files (docs/security.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx/node.h"

#define EXIT_USAGE 2
#define EXIT_BADFILE 3

static const char usage[] =
    "usage: lx-keys generate --out FILE [--label N]\n"
    "       lx-keys public FILE [--label N]\n"
    "       lx-keys allow-list FILE\n"
    "       lx-keys COMMAND --help\n"
    "\n"
    "CURVE keys for the transport's security layer (docs/security.md).\n"
    "\n"
    "  generate     make a new key pair, write the secret key to FILE (mode 0600,\n"
    "               never replacing a file) and print the public key\n"
    "  public       print the public key of the secret key file FILE\n"
    "  allow-list   check an allow-list file and print its entries\n"
    "\n"
    "Exit status: 0 ok, 1 an error, 2 bad usage, 3 a bad key or allow-list file.\n";

static const char usage_generate[] =
    "usage: lx-keys generate --out FILE [--label N]\n"
    "\n"
    "Makes a new CURVE key pair, writes the secret key to FILE with mode 0600 and\n"
    "prints the public key (40 Z85 characters) on standard output. An existing\n"
    "FILE is never replaced. With --label N the line printed is an allow-list\n"
    "entry, \"PUBKEY N\", ready to append to the cluster's allow-list.\n";

static const char usage_public[] =
    "usage: lx-keys public FILE [--label N]\n"
    "\n"
    "Prints the public key of the secret key file FILE, which must have no group\n"
    "or other permissions. With --label N prints the allow-list entry \"PUBKEY N\".\n";

static const char usage_allow[] =
    "usage: lx-keys allow-list FILE\n"
    "\n"
    "Checks FILE, one \"PUBKEY LABEL\" per line (PUBKEY 40 Z85 characters, LABEL a\n"
    "decimal number; '#' comments and blank lines allowed, no key twice), prints\n"
    "its entries in the same form and a count on standard error. Exit 3 with the\n"
    "line and the reason when the file is bad.\n";

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

static int print_key(const lx_curve_key *pub, int has_label, uint64_t label)
{
    char z[LX_CURVE_Z85_LEN + 1];
    if (lx_curve_key_z85(z, sizeof(z), pub) != LX_OK)
        return 1;
    if (has_label)
        printf("%s %" PRIu64 "\n", z, label);
    else
        printf("%s\n", z);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Parses "[--out FILE] [--label N] [FILE]" after the command name. */
typedef struct args {
    const char *out, *file;
    int has_label, help;
    uint64_t label;
} args;

static int parse_args(args *a, int argc, char **argv, int allow_out, int allow_label)
{
    memset(a, 0, sizeof(*a));
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            a->help = 1;
        } else if (allow_out && strcmp(argv[i], "--out") == 0 && i + 1 < argc && !a->out) {
            a->out = argv[++i];
        } else if (allow_label && strcmp(argv[i], "--label") == 0 && i + 1 < argc &&
                   !a->has_label) {
            if (!parse_u64(&a->label, argv[++i])) {
                fprintf(stderr, "lx-keys: --label wants a decimal number, not \"%s\"\n", argv[i]);
                return 0;
            }
            a->has_label = 1;
        } else if (!allow_out && argv[i][0] != '-' && a->file == NULL) {
            a->file = argv[i];
        } else {
            fprintf(stderr, "lx-keys: unexpected argument \"%s\"\n", argv[i]);
            return 0;
        }
    }
    return 1;
}

static int cmd_generate(int argc, char **argv)
{
    args a;
    if (!parse_args(&a, argc, argv, 1, 1))
        return EXIT_USAGE;
    if (a.help) {
        fputs(usage_generate, stdout);
        return 0;
    }
    if (a.out == NULL) {
        fputs(usage_generate, stderr);
        return EXIT_USAGE;
    }
    lx_curve_key pub, sec;
    lx_err err = lx_curve_keypair(&pub, &sec);
    if (err == LX_OK)
        err = lx_curve_keyfile_write(&sec, a.out);
    lx_wipe(&sec, sizeof(sec));
    if (err == LX_EEXIST) {
        fprintf(stderr, "lx-keys: %s exists; not replacing it\n", a.out);
        return 1;
    }
    if (err != LX_OK) {
        fprintf(stderr, "lx-keys: %s: %s\n", a.out, lx_strerror(err));
        return 1;
    }
    return print_key(&pub, a.has_label, a.label);
}

static int cmd_public(int argc, char **argv)
{
    args a;
    if (!parse_args(&a, argc, argv, 0, 1))
        return EXIT_USAGE;
    if (a.help) {
        fputs(usage_public, stdout);
        return 0;
    }
    if (a.file == NULL) {
        fputs(usage_public, stderr);
        return EXIT_USAGE;
    }
    lx_curve_key sec, pub;
    lx_err err = lx_curve_keyfile_read(&sec, a.file);
    if (err == LX_OK)
        err = lx_curve_public(&pub, &sec);
    lx_wipe(&sec, sizeof(sec));
    if (err == LX_EPERM) {
        fprintf(stderr,
                "lx-keys: %s: readable by group or others (chmod 600 it) or not "
                "readable\n",
                a.file);
        return EXIT_BADFILE;
    }
    if (err != LX_OK) {
        fprintf(stderr, "lx-keys: %s: %s\n", a.file, lx_strerror(err));
        return err == LX_EFORMAT || err == LX_ETOOBIG ? EXIT_BADFILE : 1;
    }
    return print_key(&pub, a.has_label, a.label);
}

static int cmd_allow_list(int argc, char **argv)
{
    args a;
    if (!parse_args(&a, argc, argv, 0, 0))
        return EXIT_USAGE;
    if (a.help) {
        fputs(usage_allow, stdout);
        return 0;
    }
    if (a.file == NULL) {
        fputs(usage_allow, stderr);
        return EXIT_USAGE;
    }
    lx_curve_allow *v;
    size_t n;
    char why[256];
    lx_err err = lx_allowlist_read(&v, &n, why, sizeof(why), a.file);
    if (err != LX_OK) {
        fprintf(stderr, "lx-keys: %s: %s\n", a.file, why[0] ? why : lx_strerror(err));
        return err == LX_EFORMAT || err == LX_ETOOBIG ? EXIT_BADFILE : 1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = print_key(&v[i].key, 1, v[i].label);
    free(v);
    fprintf(stderr, "%s: %zu entr%s\n", a.file, n, n == 1 ? "y" : "ies");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "generate") != 0 && strcmp(cmd, "public") != 0 &&
        strcmp(cmd, "allow-list") != 0) {
        fprintf(stderr, "lx-keys: unknown command \"%s\"\n\n%s", cmd, usage);
        return EXIT_USAGE;
    }
    lx_err err = lx_curve_available();
    if (err != LX_OK) {
        fprintf(stderr, "lx-keys: this libzmq has no CURVE support (built without "
                        "libsodium); CURVE keys cannot be made or used\n");
        return 1;
    }
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc, argv);
    if (strcmp(cmd, "public") == 0)
        return cmd_public(argc, argv);
    return cmd_allow_list(argc, argv);
}
