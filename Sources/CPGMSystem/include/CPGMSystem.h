// Linux calls the Swift Glibc module hides behind _GNU_SOURCE (recvmmsg, sendmmsg, signalfd), wrapped so that
// PGMSockets can reach them; the definitions are in shims.c, compiled with _GNU_SOURCE.
#ifndef CPGMSYSTEM_H
#define CPGMSYSTEM_H

#include <signal.h>
#include <stdint.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

/// struct mmsghdr: one message of a batch and the bytes the kernel moved for it.
struct pgm_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

int pgm_recvmmsg(int fd, struct pgm_mmsghdr *messages, unsigned int count, int flags);
int pgm_sendmmsg(int fd, struct pgm_mmsghdr *messages, unsigned int count, int flags);
/// signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC).
int pgm_signalfd(const sigset_t *mask);
/// Reads one signalfd_siginfo; the signal number, 0 when none is pending, -1 on error.
int pgm_signalfd_read(int fd);

/// ppoll without a signal mask: poll with a nanosecond timeout, so rate-limited sends need not round to 1 ms.
int pgm_ppoll(struct pollfd *descriptors, unsigned long count, const struct timespec *timeout);

/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): the driver's wake-up for commands posted from other threads.
int pgm_eventfd(void);

/// Bytes of control data for one UDP_SEGMENT (GSO) cmsg.
unsigned long pgm_udp_segment_control_size(void);
/// Writes a UDP_SEGMENT cmsg into `control` (pgm_udp_segment_control_size() bytes): the kernel cuts the
/// message's payload into datagrams of `size` bytes (the last may be shorter).
void pgm_udp_segment_control(void *control, uint16_t size);
/// Attaches a classic BPF filter to a raw IPv4 socket (protocol 113) that keeps only PGM packets whose type byte
/// is one of `types` (at most 16): the kernel drops the rest before they wake the process. 0 or -1 (errno).
int pgm_attach_type_filter(int fd, const uint8_t *types, unsigned int count);
#endif
