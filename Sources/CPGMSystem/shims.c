#define _GNU_SOURCE
#include "CPGMSystem.h"

#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <unistd.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/udp.h>
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
