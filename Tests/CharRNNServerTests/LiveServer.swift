import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import XCTest

/// Runs the application made by `makeApplication` (which is handed the callback that learns the bound
/// port) on an ephemeral loopback port for the length of `body`, then shuts it down gracefully, as
/// `charrnn serve` does on SIGTERM.
func withLiveServer<Application: ApplicationProtocol>(
    _ makeApplication: (_ onRunning: @escaping @Sendable (Int) async -> Void) -> Application,
    _ body: (LiveClient) async throws -> Void
) async throws {
    let (ports, announce) = AsyncStream.makeStream(of: Int.self)
    let application = makeApplication { port in announce.yield(port) }
    var logger = Logger(label: "charrnn.tests")
    logger.logLevel = .warning
    let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { announce.finish() }
            try await services.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await group.waitForAll()
            throw LiveServerError.stoppedBeforeListening
        }
        do {
            try await body(LiveClient(port: port))
        } catch {
            await services.triggerGracefulShutdown()
            throw error
        }
        await services.triggerGracefulShutdown()
    }
}

enum LiveServerError: Error, CustomStringConvertible {
    case stoppedBeforeListening
    case malformedReply(String)
    case noReplyWithin(Double)

    var description: String {
        switch self {
        case .stoppedBeforeListening: "the server stopped before it listened"
        case .malformedReply(let reply): "not an HTTP reply: \(reply.prefix(300))"
        case .noReplyWithin(let seconds): "the server did not finish its reply within \(seconds) s"
        }
    }
}

/// An HTTP/1.1 client for the tests: each request goes on a connection of its own with
/// `Connection: close`, and the reply is read to the end (a fixed length or chunked).
struct LiveClient: Sendable {
    let port: Int

    struct Response {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: ByteBuffer
    }

    func execute(uri: String, method: HTTPRequest.Method, body: ByteBuffer? = nil, timeout: Double = 60) async throws -> Response {
        var request = "\(method.rawValue) \(uri) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let body { request += "Content-Length: \(body.readableBytes)\r\n" }
        request += "\r\n" + (body.map { String(buffer: $0) } ?? "")
        let reply = try await exchange(port: port, request, halfClose: false, timeout: timeout)
        guard reply.closedByServer else { throw LiveServerError.noReplyWithin(timeout) }
        return try Response(parsing: reply.bytes)
    }
}

extension LiveClient.Response {
    /// Parses a whole HTTP/1.1 reply: status line, header fields, then a body of Content-Length bytes,
    /// chunked, or running to the end of the connection.
    init(parsing bytes: [UInt8]) throws {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = bytes.firstRange(of: separator) else {
            throw LiveServerError.malformedReply(String(decoding: bytes, as: UTF8.self))
        }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = head[0].split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let code = Int(statusLine[1]) else {
            throw LiveServerError.malformedReply(head[0])
        }
        var headers = HTTPFields()
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":"), let name = HTTPField.Name(String(line[..<colon])) else {
                throw LiveServerError.malformedReply(line)
            }
            headers.append(HTTPField(name: name, value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var rest = bytes[end.upperBound...]
        var body: [UInt8]
        if headers[.transferEncoding]?.lowercased() == "chunked" {
            body = []
            while true {
                guard let lineEnd = rest.firstRange(of: Array("\r\n".utf8)),
                      let size = Int(String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self)
                                        .split(separator: ";").first ?? "", radix: 16),
                      rest.count >= lineEnd.upperBound - rest.startIndex + size + 2
                else { throw LiveServerError.malformedReply("a truncated chunk") }
                if size == 0 { break }
                body += rest[lineEnd.upperBound..<lineEnd.upperBound + size]
                rest = rest[(lineEnd.upperBound + size + 2)...]
            }
        } else if let length = headers[.contentLength].flatMap({ Int($0) }) {
            guard rest.count >= length else { throw LiveServerError.malformedReply("a body shorter than its Content-Length") }
            body = Array(rest.prefix(length))
        } else {
            body = Array(rest)
        }
        self.init(status: HTTPResponse.Status(code: code), headers: headers, body: ByteBuffer(bytes: body))
    }
}
