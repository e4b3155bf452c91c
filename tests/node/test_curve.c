/* Tests for CURVE key files and allow-list files (node/curve.c). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lx/node.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/lx-test-curve-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static void rm_file(const char *name)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    unlink(p);
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"node.key", "open.key", "two.key", "bad.key", "allow.txt"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        rm_file(names[i]);
    return rmdir(dir);
}

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_keyfile(void **state)
{
    (void)state;
    char path[128];
    path_of(path, sizeof(path), "node.key");
    lx_curve_key pub, sec, back;
    assert_int_equal(lx_curve_keypair(&pub, &sec), LX_OK);
    assert_int_equal(lx_curve_keyfile_write(&sec, path), LX_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lx_curve_keyfile_read(&back, path), LX_OK);
    assert_memory_equal(back.b, sec.b, LX_CURVE_KEY_LEN);

    /* Never replaced. */
    lx_curve_key pub2, sec2;
    assert_int_equal(lx_curve_keypair(&pub2, &sec2), LX_OK);
    assert_int_equal(lx_curve_keyfile_write(&sec2, path), LX_EEXIST);
    assert_int_equal(lx_curve_keyfile_read(&back, path), LX_OK);
    assert_memory_equal(back.b, sec.b, LX_CURVE_KEY_LEN);

    /* Readable by group or others: refused, whatever it holds. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(lx_curve_keyfile_read(&back, path), LX_EPERM);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(lx_curve_keyfile_read(&back, path), LX_EPERM);
    assert_int_equal(chmod(path, 0600), 0);

    /* Hand-written files: comments and blank lines are fine. */
    char z[LX_CURVE_Z85_LEN + 1], text[256];
    assert_int_equal(lx_curve_key_z85(z, sizeof(z), &sec2), LX_OK);
    char other[128];
    path_of(other, sizeof(other), "open.key");
    snprintf(text, sizeof(text), "# mine\n\n  %s  \n", z);
    write_text(other, text, 0644);
    assert_int_equal(lx_curve_keyfile_read(&back, other), LX_EPERM);
    assert_int_equal(chmod(other, 0600), 0);
    assert_int_equal(lx_curve_keyfile_read(&back, other), LX_OK);
    assert_memory_equal(back.b, sec2.b, LX_CURVE_KEY_LEN);

    /* Two keys, no key, a short key, a missing file, a folder. */
    path_of(other, sizeof(other), "two.key");
    snprintf(text, sizeof(text), "%s\n%s\n", z, z);
    write_text(other, text, 0600);
    assert_int_equal(lx_curve_keyfile_read(&back, other), LX_EFORMAT);
    path_of(other, sizeof(other), "bad.key");
    write_text(other, "# nothing here\n", 0600);
    assert_int_equal(lx_curve_keyfile_read(&back, other), LX_EFORMAT);
    unlink(other);
    write_text(other, "HelloWorld\n", 0600);
    assert_int_equal(lx_curve_keyfile_read(&back, other), LX_EFORMAT);
    path_of(other, sizeof(other), "missing.key");
    assert_int_equal(lx_curve_keyfile_read(&back, other), LX_ENOTFOUND);
    assert_int_equal(lx_curve_keyfile_read(&back, dir), LX_EFORMAT);
    assert_int_equal(lx_curve_keyfile_read(NULL, path), LX_EINVAL);
    assert_int_equal(lx_curve_keyfile_write(&sec, ""), LX_EINVAL);

    lx_wipe(&sec, sizeof(sec));
    lx_wipe(&sec2, sizeof(sec2));
    lx_wipe(&back, sizeof(back));
}

static void test_allowlist(void **state)
{
    (void)state;
    lx_curve_key k[3], sec;
    char z[3][LX_CURVE_Z85_LEN + 1];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lx_curve_keypair(&k[i], &sec), LX_OK);
        assert_int_equal(lx_curve_key_z85(z[i], sizeof(z[i]), &k[i]), LX_OK);
    }
    lx_wipe(&sec, sizeof(sec));
    char text[512];
    snprintf(text, sizeof(text),
             "# cluster allow-list\n"
             "%s 0\n"
             "\n"
             "  %s\t18446744073709551615  \r\n"
             "#%s 5\n"
             "%s 42",
             z[0], z[1], z[2], z[2]);
    lx_curve_allow *v;
    size_t n;
    char why[128];
    assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), text, strlen(text)), LX_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(v[0].key.b, k[0].b, LX_CURVE_KEY_LEN);
    assert_true(v[0].label == 0);
    assert_true(v[1].label == UINT64_MAX);
    assert_memory_equal(v[2].key.b, k[2].b, LX_CURVE_KEY_LEN);
    assert_true(v[2].label == 42);
    free(v);

    /* The same from a file, which may be world-readable: it holds no secret. */
    char path[128];
    path_of(path, sizeof(path), "allow.txt");
    write_text(path, text, 0644);
    assert_int_equal(lx_allowlist_read(&v, &n, why, sizeof(why), path), LX_OK);
    assert_int_equal(n, 3);
    free(v);

    /* Empty is fine. */
    assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), "# none\n", 7), LX_OK);
    assert_int_equal(n, 0);
    assert_null(v);

    /* Each bad line is: before, the first keylen characters of a key, after. */
    const struct {
        const char *before;
        int keylen;
        const char *after, *why;
    } bad[] = {
        {"", 40, "\n", "line 1: the label is not a decimal u64"},
        {"", 40, " x\n", "line 1: the label is not a decimal u64"},
        {"", 40, " 18446744073709551616\n", "line 1: the label is not a decimal u64"},
        {"", 40, " 1 2\n", "line 1: the label is not a decimal u64"},
        {"", 40, " -1\n", "line 1: the label is not a decimal u64"},
        {"\n", 39, " 1\n", "line 2: the key is not 40 Z85 characters"},
        {"", 40, "1 1\n", "line 1: the key is not 40 Z85 characters"},
        {"#", 40, " 1\n", NULL}, /* a comment */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "%s%.*s%s", bad[i].before, bad[i].keylen, z[0], bad[i].after);
        lx_err want = bad[i].why != NULL ? LX_EFORMAT : LX_OK;
        assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), text, strlen(text)), want);
        if (bad[i].why != NULL)
            assert_string_equal(why, bad[i].why);
        assert_null(v);
    }
    snprintf(text, sizeof(text), "%s 1\n%s 2\n%s 3\n", z[0], z[1], z[0]);
    assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), text, strlen(text)), LX_EFORMAT);
    assert_string_equal(why, "line 3: the key is listed twice");
    /* Not a Z85 character. */
    snprintf(text, sizeof(text), "%s 1\n", z[0]);
    text[3] = '"';
    assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), text, strlen(text)), LX_EFORMAT);

    path_of(path, sizeof(path), "missing.txt");
    assert_int_equal(lx_allowlist_read(&v, &n, why, sizeof(why), path), LX_ENOTFOUND);
    assert_int_equal(lx_allowlist_parse(NULL, &n, why, sizeof(why), "", 0), LX_EINVAL);
}

/* A list too long for pairwise duplicate checks still finds a repeat. */
static void test_allowlist_large(void **state)
{
    (void)state;
    size_t count = 3000, cap = count * 64 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    char first[LX_CURVE_Z85_LEN + 1] = "";
    for (size_t i = 0; i < count; i++) {
        lx_curve_key key;
        memset(&key, 0, sizeof(key));
        memcpy(key.b, &i, sizeof(i));
        char z[LX_CURVE_Z85_LEN + 1];
        assert_int_equal(lx_curve_key_z85(z, sizeof(z), &key), LX_OK);
        if (i == 0)
            memcpy(first, z, sizeof(z));
        len += (size_t)snprintf(text + len, cap - len, "%s %zu\n", z, i);
    }
    lx_curve_allow *v;
    size_t n;
    char why[128];
    assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), text, len), LX_OK);
    assert_int_equal(n, count);
    free(v);
    len += (size_t)snprintf(text + len, cap - len, "%s 9\n", first);
    assert_int_equal(lx_allowlist_parse(&v, &n, why, sizeof(why), text, len), LX_EFORMAT);
    assert_string_equal(why, "a key is listed twice");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyfile),
        cmocka_unit_test(test_allowlist),
        cmocka_unit_test(test_allowlist_large),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
