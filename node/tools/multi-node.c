/* multi-node: one node of an lxdex cluster (docs/multi-node.md). Parses the
 * configuration, installs the signal handlers and runs the node. */
#define _POSIX_C_SOURCE 200809L
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../node_int.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int main(int argc, char **argv)
{
    static lx__config cfg;
    lx_timer_slack_min();
    char err[512];
    lx_err rc = lx__config_parse(&cfg, err, sizeof err, argc, argv, NULL);
    if (rc != LX_OK) {
        fprintf(stderr, "multi-node: %s\n", err);
        return 2;
    }
    if (cfg.help) {
        fputs(lx__usage, stdout);
        return 0;
    }
    if (lx__auth_check_config(&cfg, err, sizeof err) != LX_OK) {
        fprintf(stderr, "multi-node: %s\n", err);
        return 2;
    }
    /* Freed memory stays with the process: no trimming or unmapping and
     * faulting back in of the same pages under load. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int code;
    do
        lx__node_run(&cfg, &stop_flag, &code);
    while (code == LX__EXIT_RESTART && !stop_flag);
    lx__node_drop_carry();
    return code == LX__EXIT_RESTART ? 0 : code;
}
