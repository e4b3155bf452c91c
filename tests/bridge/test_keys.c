/* Key text and key files: PrivateKey-<cb58>, 0600 atomic writes that never
 * replace a file, refusal of files others may read, and malformed files. */
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

#include "lx/bridge.h"

static const char ref_text[] = "PrivateKey-ewoqjP7PxY4yr3iLTpLisriqt94hdyDFNgchSxGGztUrTXtNN";

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/lx-test-keys-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_privkey_text(void **state)
{
    (void)state;
    lx_key *key = NULL;
    assert_int_equal(lx_privkey_decode(&key, ref_text), LX_OK);
    uint8_t addr[20];
    char a[LX_ADDR_STR_MAX], back[LX_PRIVKEY_STR_MAX];
    assert_int_equal(lx_key_address(key, addr), LX_OK);
    assert_int_equal(lx_address_encode(a, sizeof a, "X", "local", addr), LX_OK);
    assert_string_equal(a, "X-local18jma8ppw3nhx5r4ap8clazz0dps7rv5u00z96u");
    assert_int_equal(lx_privkey_encode(key, back, sizeof back), LX_OK);
    assert_string_equal(back, ref_text);
    assert_int_equal(lx_privkey_encode(key, back, 20), LX_EINVAL);
    lx_key_free(&key);
    assert_int_equal(lx_privkey_decode(&key, ref_text + 11), LX_EFORMAT);
    assert_int_equal(
        lx_privkey_decode(&key, "PrivateKey-ewoqjP7PxY4yr3iLTpLisriqt94hdyDFNgchSxGGztUrTXtNM"),
        LX_ECORRUPT);
    assert_int_equal(lx_privkey_decode(&key, "PrivateKey-11111111111111111111111111111111LpoYY"),
                     LX_ECRYPTO); /* the zero scalar */
    assert_null(key);
}

static void test_write_read(void **state)
{
    (void)state;
    char path[300];
    path_of(path, sizeof path, "k1.key");
    lx_key *key = NULL, *back = NULL;
    assert_int_equal(lx_key_generate(&key), LX_OK);
    assert_int_equal(lx_keyfile_write(key, path), LX_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lx_keyfile_read(&back, path), LX_OK);
    uint8_t a[33], b[33];
    lx_key_pubkey(key, a);
    lx_key_pubkey(back, b);
    assert_memory_equal(a, b, 33);
    lx_key_free(&back);
    /* an existing file is never replaced */
    lx_key *other = NULL;
    assert_int_equal(lx_key_generate(&other), LX_OK);
    assert_int_equal(lx_keyfile_write(other, path), LX_EEXIST);
    assert_int_equal(lx_keyfile_read(&back, path), LX_OK);
    lx_key_pubkey(back, b);
    assert_memory_equal(a, b, 33);
    lx_key_free(&back);
    lx_key_free(&other);
    /* no temporary file is left behind */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | grep -c tmp) -eq 0", dir);
    assert_int_equal(system(cmd), 0);
    /* the text is the documented one-liner */
    FILE *f = fopen(path, "r");
    char line[128] = {0};
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_int_equal(strncmp(line, "PrivateKey-", 11), 0);
    assert_int_equal(line[strlen(line) - 1], '\n');
    lx_key_free(&key);
    path_of(path, sizeof path, "no/such/dir.key");
    assert_int_equal(lx_keyfile_write(key, path), LX_EINVAL); /* NULL key */
}

static void test_permissions_refused(void **state)
{
    (void)state;
    char path[300];
    path_of(path, sizeof path, "open.key");
    lx_key *key = NULL;
    write_text(path, ref_text, 0640);
    assert_int_equal(lx_keyfile_read(&key, path), LX_EPERM);
    assert_null(key);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(lx_keyfile_read(&key, path), LX_EPERM);
    assert_int_equal(chmod(path, 0620), 0);
    assert_int_equal(lx_keyfile_read(&key, path), LX_EPERM);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(lx_keyfile_read(&key, path), LX_OK);
    lx_key_free(&key);
    /* a symlink is not followed */
    char link_path[300];
    path_of(link_path, sizeof link_path, "link.key");
    assert_int_equal(symlink(path, link_path), 0);
    assert_int_not_equal(lx_keyfile_read(&key, link_path), LX_OK);
    assert_null(key);
}

static void test_formats_and_errors(void **state)
{
    (void)state;
    char path[300];
    lx_key *key = NULL;
    path_of(path, sizeof path, "hex.key");
    write_text(path, "  0x56289e99c94b6912bfc12adc093c9b51124f0dc54ac7a766b2bc5ccf558d8027\n\n",
               0600);
    assert_int_equal(lx_keyfile_read(&key, path), LX_OK);
    char text[LX_PRIVKEY_STR_MAX];
    assert_int_equal(lx_privkey_encode(key, text, sizeof text), LX_OK);
    assert_string_equal(text, ref_text);
    lx_key_free(&key);
    path_of(path, sizeof path, "short.key");
    write_text(path, "56289e99c94b", 0600);
    assert_int_equal(lx_keyfile_read(&key, path), LX_EFORMAT);
    path_of(path, sizeof path, "junk.key");
    write_text(path, "hello world", 0600);
    assert_int_equal(lx_keyfile_read(&key, path), LX_EFORMAT);
    path_of(path, sizeof path, "empty.key");
    write_text(path, "", 0600);
    assert_int_equal(lx_keyfile_read(&key, path), LX_EFORMAT);
    path_of(path, sizeof path, "big.key");
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    big[4999] = '\0';
    write_text(path, big, 0600);
    free(big);
    assert_int_equal(lx_keyfile_read(&key, path), LX_ETOOBIG);
    path_of(path, sizeof path, "missing.key");
    assert_int_equal(lx_keyfile_read(&key, path), LX_ENOTFOUND);
    assert_int_equal(lx_keyfile_read(&key, dir), LX_EFORMAT); /* a directory */
    assert_int_equal(lx_keyfile_read(NULL, path), LX_EINVAL);
    assert_null(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_privkey_text),
        cmocka_unit_test(test_write_read),
        cmocka_unit_test(test_permissions_refused),
        cmocka_unit_test(test_formats_and_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
