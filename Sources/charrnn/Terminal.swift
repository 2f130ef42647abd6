import CharRNN
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output helpers: streamed characters, one-line errors, progress lines that update in place on a terminal.
enum Terminal {
    static var stdoutIsTerminal: Bool { isatty(1) != 0 }
    static var stdinIsTerminal: Bool { isatty(0) != 0 }

    /// Standard streams that were closed when the process started. Each is held open on /dev/null so
    /// that no file the command opens takes its number (progress lines would land in a checkpoint);
    /// writing to one fails as writing to a closed stream does.
    nonisolated(unsafe) private static var closedAtStart: Set<Int32> = []

    /// Run first in main.
    static func holdStandardStreams() {
        for fd: Int32 in [0, 1, 2] where fcntl(fd, F_GETFD) < 0 && errno == EBADF {
            let null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if null >= 0 && null != fd { dup2(null, fd); close(null) }
            closedAtStart.insert(fd)
        }
    }

    /// Writes straight to the file descriptor: unbuffered, so streamed characters appear at once.
    /// Output that cannot be written (a full disk, a closed pipe or stream) ends the command: one line
    /// on stderr where it can still be written, and exit status 1, never a silent success.
    static func write(_ s: String, to fd: Int32 = 1) {
        guard !closedAtStart.contains(fd) else { writeFailed(fd, EBADF) }
        var s = s
        s.withUTF8 { buf in
            var done = 0
            while done < buf.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                #else
                let n = Darwin.write(fd, buf.baseAddress! + done, buf.count - done)
                #endif
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {  // a non-blocking stream that is full: wait until it drains
                        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&p, 1, 1000)
                        continue
                    }
                    writeFailed(fd, errno)
                }
                done += n
            }
        }
    }

    private static func writeFailed(_ fd: Int32, _ code: Int32) -> Never {
        if fd != 2 && !closedAtStart.contains(2) {
            let why = code == EBADF ? "it is closed" : String(cString: strerror(code))
            let line = "charrnn: error: cannot write to standard output: \(why)\n"
            _ = line.withCString { Glibc_write(2, $0, strlen($0)) }
        }
        exit(1)
    }

    static func writeFlushed(_ s: String) { write(s) }

    static func error(_ s: String) { write(s + "\n", to: 2) }

    static func fail(_ message: String, code: Int32) -> Never {
        error("charrnn: error: \(CharRNNError.visible(message))")
        exit(code)
    }

    static func exit(_ code: Int32) -> Never {
        #if canImport(Glibc)
        Glibc.exit(code)
        #else
        Darwin.exit(code)
        #endif
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "?" }
        guard s < 100 * 3600 else { return ">99h" }
        let t = Int(s.rounded())
        if t >= 3600 { return "\(t / 3600)h\(pad((t % 3600) / 60))m" }
        if t >= 60 { return "\(t / 60)m\(pad(t % 60))s" }
        return "\(t)s"
    }

    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ p: UnsafePointer<CChar>, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
