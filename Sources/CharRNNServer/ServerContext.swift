import Foundation
import Hummingbird
import NIOCore

/// The request context of charrnn's routes: Hummingbird's basic one plus the connection's channel,
/// so a route can tell when its client has gone and stop the work done for it.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    /// What the request generated, for its log line.
    let tally = RequestTally()

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Characters one request generated, counted by its route while the reply is written.
final class RequestTally: @unchecked Sendable {
    // @unchecked: `count` is read and written only while holding `lock`.
    private let lock = NSLock()
    private var count = 0
    var characters: Int { lock.withLock { count } }
    func add(_ n: Int) { lock.withLock { count += n } }
}
