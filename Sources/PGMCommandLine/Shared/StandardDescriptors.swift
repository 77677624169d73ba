internal import Glibc

/// Descriptors 0, 1 and 2 a program was started without. A closed one would be taken by the next socket or file
/// opened (pgm-source then read its own socket as standard input; pgm-recv wrote its data to a socket), so each
/// program opens /dev/null on them before anything else and refuses to use a closed one as its data's input or
/// output.
struct StandardDescriptors {
    /// Which of 0, 1, 2 were closed when ``guardClosed()`` ran.
    var closed: Set<Int32>

    /// Opens /dev/null on every closed standard descriptor (read-write, so either direction is harmless).
    static func guardClosed() -> StandardDescriptors {
        var closed: Set<Int32> = []
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            closed.insert(fd)
            let null = open("/dev/null", O_RDWR)
            if null >= 0 && null != fd {
                // Lower descriptors were taken first, so /dev/null lands on `fd`; anything else is moved there.
                dup2(null, fd)
                close(null)
            }
        }
        return StandardDescriptors(closed: closed)
    }

    /// Standard input was closed: a program must not read its data from it.
    var inputClosed: Bool { closed.contains(0) }
    /// Standard output was closed: a program must not write its data to it.
    var outputClosed: Bool { closed.contains(1) }
}
