/* The node's clocks: monotonic time for deadlines and latency, wall time for
 * log lines. Only the node reads clocks; the engine never does. */
#define _GNU_SOURCE /* PR_SET_TIMERSLACK */
#include <sys/prctl.h>
#include <time.h>

#include "lx/node.h"

static uint64_t read_clock(clockid_t id, uint64_t div)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) / div;
}

uint64_t lx_now_ns(void)
{
    return read_clock(CLOCK_MONOTONIC, 1);
}

uint64_t lx_now_us(void)
{
    return read_clock(CLOCK_MONOTONIC, 1000);
}

uint64_t lx_wall_us(void)
{
    return read_clock(CLOCK_REALTIME, 1000);
}

uint64_t lx_thread_cpu_us(void)
{
    return read_clock(CLOCK_THREAD_CPUTIME_ID, 1000);
}

void lx_timer_slack_min(void)
{
    /* Linux lets a thread's timed waits end up to 50 us late by default so
     * that wakeups can be merged; a node or client paced in tens of
     * microseconds would pay that on every wait. Threads started later
     * inherit the setting. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}
