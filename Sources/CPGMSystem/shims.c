#define _GNU_SOURCE
#include "CPGMSystem.h"

#include <stddef.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <unistd.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <linux/filter.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

_Static_assert(sizeof(struct pgm_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct pgm_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

int pgm_recvmmsg(int fd, struct pgm_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

int pgm_sendmmsg(int fd, struct pgm_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}

int pgm_signalfd(const sigset_t *mask) { return signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC); }

int pgm_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t got = read(fd, &info, sizeof info);
    if (got == (ssize_t)sizeof info) return (int)info.ssi_signo;
    return got < 0 ? -1 : 0;
}

int pgm_ppoll(struct pollfd *descriptors, unsigned long count, const struct timespec *timeout) {
    return ppoll(descriptors, (nfds_t)count, timeout, NULL);
}

int pgm_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

unsigned long pgm_udp_segment_control_size(void) { return CMSG_SPACE(sizeof(uint16_t)); }

void pgm_udp_segment_control(void *control, uint16_t size) {
    memset(control, 0, CMSG_SPACE(sizeof(uint16_t)));
    struct cmsghdr *header = (struct cmsghdr *)control;
    header->cmsg_level = IPPROTO_UDP;
    header->cmsg_type = UDP_SEGMENT;
    header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(header), &size, sizeof size);
}

int pgm_attach_type_filter(int fd, const uint8_t *types, unsigned int count) {
    if (count == 0 || count > 16) { errno = EINVAL; return -1; }
    /* X = IP header length (4 * IHL, Router Alert included); A = the PGM type byte, 4 bytes into PGM. Then one
     * comparison per type: a match jumps to "accept", the last miss falls through to "drop". */
    struct sock_filter program[2 + 16 + 2];
    unsigned int n = 0;
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_IND, 4);
    for (unsigned int i = 0; i < count; i++) {
        /* jump forward to accept: over the remaining comparisons and the drop */
        program[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, types[i], (uint8_t)(count - i), 0);
    }
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    program[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFF);
    struct sock_fprog filter = {.len = (unsigned short)n, .filter = program};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &filter, sizeof filter);
}
