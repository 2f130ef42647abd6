import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Open connections of one server, shared by every connection's ConnectionGuard.
final class ConnectionCount: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false when it is beyond the limit (it is not counted then).
    func admit() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard open < limit else { return false }
        open += 1
        ServerMetrics.openConnections.record(open)
        return true
    }

    func release() {
        lock.lock(); defer { lock.unlock() }
        open -= 1
        ServerMetrics.openConnections.record(open)
    }
}

/// Sits between the HTTP codec and the request handling of each connection:
/// - a connection beyond `--max-connections` gets 503 with the JSON error at once and is closed, so
///   idle clients cannot use up the process's file descriptors;
/// - the end of the client's input tells the requests of the connection that their client has gone
///   (ClientPresence);
/// - the empty 400 that the HTTP layer sends for a request it cannot parse (bad request line, too many
///   or too long headers, bad Content-Length, HTTP/0.9) gets the JSON error body every other refusal has.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let count: ConnectionCount
    private var admitted = false
    private var presence: ClientPresence?
    private var refusingConnect = false

    init(count: ConnectionCount) { self.count = count }

    func channelActive(context: ChannelHandlerContext) {
        guard count.admit() else {
            let body = APIError.body(
                .serviceUnavailable, "the server has \(count.limit) open connections, its maximum; try again shortly")
            var head = HTTPResponse(status: .serviceUnavailable)
            head.headerFields = [.contentType: "application/json", .contentLength: "\(body.readableBytes)",
                                 .connection: "close", .retryAfter: "1"]
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(body)), promise: nil)
            let channel = context.channel  // Sendable, unlike the context, for the completion handler
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        admitted = true
        presence = ClientPresence.register(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if admitted { count.release(); admitted = false }
        if presence != nil { ClientPresence.remove(context.channel); presence = nil }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { presence?.leave() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted, !refusingConnect else { return }  // a refused connection is answered and closing
        if case .head(let head) = unwrapInboundIn(data), head.method == .connect {
            refuseConnect(context: context)
            return
        }
        context.fireChannelRead(data)
    }

    /// CONNECT gets 405 with the JSON error, then the connection is closed. NIO's encoder frames every
    /// reply to a CONNECT without a body (right for a 2xx, which opens a tunnel), so the reply is
    /// written as bytes below it.
    private func refuseConnect(context: ChannelHandlerContext) {
        refusingConnect = true
        let body = APIError.body(.methodNotAllowed, "CONNECT is not supported: this server is not a proxy")
        var reply = ByteBuffer(string: "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\n"
                                    + "Content-Length: \(body.readableBytes)\r\nConnection: close\r\n\r\n")
        reply.writeImmutableBuffer(body)
        let channel = context.channel
        guard let below = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            channel.close(promise: nil)
            return
        }
        below.writeAndFlush(NIOAny(reply)).whenComplete { _ in channel.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest,
              head.headerFields[.contentLength] == "0" else {
            context.write(data, promise: promise)
            return
        }
        // The HTTP layer's own answer to an unparseable request: every 400 we send has a body.
        let body = APIError.body(
            .badRequest, "malformed HTTP request (request line, headers or Content-Length)")
        head.headerFields[.contentLength] = "\(body.readableBytes)"
        head.headerFields[.contentType] = "application/json"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: promise)
    }
}
