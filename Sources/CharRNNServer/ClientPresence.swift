import Foundation
import NIOCore

/// Whether the client of a connection is still there. The server lets clients half-close (NIO's
/// allowRemoteHalfClosure), so its channel stays open when a client hangs up while waiting for a
/// reply, and nothing is written to a non-streamed reply until the end: the end of the client's input
/// is the sign that it has gone (as uvicorn and the servers behind vLLM and TGI take it), and the work
/// done for its request stops.
final class ClientPresence: @unchecked Sendable {
    // @unchecked: `gone` and `onLeave` are read and written only while holding `lock`.
    private let lock = NSLock()
    private var gone = false
    private var onLeave: (@Sendable () -> Void)?

    /// Runs `action` when the client leaves (at once if it has), in place of the previous request's:
    /// a connection serves one request at a time.
    func whileServing(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        if gone { lock.unlock(); action(); return }
        onLeave = action
        lock.unlock()
    }

    func leave() {
        lock.lock()
        gone = true
        let action = onLeave
        onLeave = nil
        lock.unlock()
        action?()
    }

    // MARK: one per open connection

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [ObjectIdentifier: ClientPresence] = [:]

    static func register(_ channel: any Channel) -> ClientPresence {
        let presence = ClientPresence()
        registryLock.withLock { registry[ObjectIdentifier(channel)] = presence }
        return presence
    }

    static func remove(_ channel: any Channel) {
        let presence = registryLock.withLock { registry.removeValue(forKey: ObjectIdentifier(channel)) }
        presence?.leave()
    }

    static func of(_ channel: any Channel) -> ClientPresence? {
        registryLock.withLock { registry[ObjectIdentifier(channel)] }
    }
}
