/*
 * sendshim — an LD_PRELOAD library for tests/api/test_http_send_split.py:
 * it makes the server's sendmsg(2) stop at bytes the kernel would rarely
 * choose, so that the resumption of an answer (its head, then its body, by
 * one offset over both) is exercised at every kind of byte.
 *
 *   FM_SHIM_MAX=N     each call sends at most 1..N bytes (varying per call)
 *   FM_SHIM_SNDBUF=N  the socket's SO_SNDBUF is set to N before each call, so
 *                     that a slow reader makes real EAGAIN / EPOLLOUT rounds
 *   FM_SHIM_CONT_EAGAIN=N  the first N sends that begin with a 100 Continue
 *                     fail with EAGAIN (the socket has room: the server then
 *                     moves on when the client's next bytes wake it)
 *   FM_SHIM_LOG=PATH  at exit: "calls partial eagain continue_waited" counts, one line
 *                     (the last: sends that began with a 100 Continue and left some of it)
 *
 * It calls the kernel directly (syscall), not the libc or sanitizer wrapper.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned long n_calls, n_partial, n_eagain, n_cont;

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    static long max = -1, sndbuf = -1, cont_fail = 0;
    if (max < 0) {
        const char *c = getenv("FM_SHIM_CONT_EAGAIN");
        cont_fail = c ? atol(c) : 0;
        const char *e = getenv("FM_SHIM_MAX");
        max = e ? atol(e) : 0;
        e = getenv("FM_SHIM_SNDBUF");
        sndbuf = e ? atol(e) : 0;
    }
    unsigned long call = __atomic_fetch_add(&n_calls, 1, __ATOMIC_RELAXED);
    if (sndbuf > 0) {
        int v = (int)sndbuf;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    }
    int is_cont = m->msg_iovlen && m->msg_iov[0].iov_len >= 12 && memcmp(m->msg_iov[0].iov_base, "HTTP/1.1 100", 12) == 0;
    if (is_cont && __atomic_sub_fetch(&cont_fail, 1, __ATOMIC_RELAXED) >= 0) {
        __atomic_fetch_add(&n_eagain, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&n_cont, 1, __ATOMIC_RELAXED);
        errno = EAGAIN;
        return -1;
    }
    size_t total = 0;
    for (size_t i = 0; i < m->msg_iovlen; i++) total += m->msg_iov[i].iov_len;
    struct iovec iov[16];
    struct msghdr mm = *m;
    if (max > 0 && m->msg_iovlen <= 16) {
        size_t want = 1 + (size_t)((call * 2654435761u) >> 5) % (size_t)max;
        size_t k = 0, left = want;
        for (size_t i = 0; i < m->msg_iovlen && left; i++) {
            size_t l = m->msg_iov[i].iov_len < left ? m->msg_iov[i].iov_len : left;
            if (!l) continue;
            iov[k].iov_base = m->msg_iov[i].iov_base;
            iov[k].iov_len = l;
            k++;
            left -= l;
        }
        mm.msg_iov = iov;
        mm.msg_iovlen = k;
    }
    long r = syscall(SYS_sendmsg, fd, &mm, flags);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) __atomic_fetch_add(&n_eagain, 1, __ATOMIC_RELAXED);
    else if (r >= 0 && (size_t)r < total) __atomic_fetch_add(&n_partial, 1, __ATOMIC_RELAXED);
    /* a 100 Continue (at the start of what is pending) that did not all go */
    if (is_cont && (r < 0 || (size_t)r < m->msg_iov[0].iov_len))
        __atomic_fetch_add(&n_cont, 1, __ATOMIC_RELAXED);
    return (ssize_t)r;
}

__attribute__((destructor)) static void shim_report(void)
{
    const char *p = getenv("FM_SHIM_LOG");
    if (!p) return;
    FILE *f = fopen(p, "w");
    if (!f) return;
    fprintf(f, "%lu %lu %lu %lu\n", n_calls, n_partial, n_eagain, n_cont);
    fclose(f);
}
