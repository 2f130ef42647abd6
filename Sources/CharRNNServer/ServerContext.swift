import Hummingbird
import NIOCore

/// The request context of charrnn's routes: Hummingbird's basic one plus the connection's channel,
/// so a route can tell when its client has gone and stop the work done for it.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
