import Foundation

/// What a generation sends back to the request that asked for it.
public enum GenerationEvent: Sendable, Equatable {
    /// Characters produced since the last event.
    case text(String)
    /// Characters produced since the last event with the score of each (a generation asked to score).
    case scored(String, [CharacterScore])
    /// The last event: how many characters were produced and why it ended ("length", "stop", "cancelled", or
    /// "error" when the device failed).
    case finished(tokens: Int, reason: String)
    /// The request was refused (bad prompt, unknown category, ...); nothing was generated.
    case rejected(String)
}

/// The events of one generation, as the request reads them. Each `.text` carries every character
/// produced since the reader last asked: a reader that keeps up gets a character per event, one that
/// falls behind (a fast model, a busy machine) gets them together, so a slow writer never costs an event
/// (a JSON encoding and a socket write) per character. Releasing the sequence, or cancelling the task
/// that waits on it, stops the generation at its next step.
public final class GenerationEvents: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    let buffer: GenerationEventBuffer

    init(_ buffer: GenerationEventBuffer) { self.buffer = buffer }

    deinit { buffer.cancel() }

    /// Stops the generation at its next step (its client has gone).
    public func cancel() { buffer.cancel() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        // Holding the sequence keeps its generation going while any iterator is alive.
        let events: GenerationEvents
        public mutating func next() async -> GenerationEvent? { await events.buffer.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: self) }
}

/// The engine's side of GenerationEvents: the compute thread appends characters and finishes; the
/// request's task takes what has accumulated, or waits for it.
final class GenerationEventBuffer: @unchecked Sendable {
    // @unchecked: every stored property is read and written only while holding `lock`.
    private let lock = NSLock()
    private var pending = String.UnicodeScalarView()
    private var pendingScores: [CharacterScore] = []
    private var last: GenerationEvent?
    private var ended = false, cancelled = false
    private var waiter: CheckedContinuation<GenerationEvent?, Never>?

    /// Whether the reader has gone away.
    var isCancelled: Bool { lock.withLock { cancelled } }

    /// Adds a character; false when the reader has gone away.
    func append(_ character: Unicode.Scalar, score: CharacterScore? = nil) -> Bool {
        lock.lock()
        guard !cancelled else { lock.unlock(); return false }
        pending.append(character)
        if let score { pendingScores.append(score) }
        let resume = takeForWaiter()
        lock.unlock()
        resume?()
        return true
    }

    /// The last event; the reader gets it after the text still pending.
    func finish(_ event: GenerationEvent) {
        lock.lock()
        last = event
        let resume = takeForWaiter()
        lock.unlock()
        resume?()
    }

    func cancel() {
        lock.lock()
        cancelled = true
        let waiting = waiter
        waiter = nil
        lock.unlock()
        waiting?.resume(returning: nil)
    }

    func next() async -> GenerationEvent? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<GenerationEvent?, Never>) in
                lock.lock()
                if let event = take() {
                    lock.unlock()
                    continuation.resume(returning: event)
                } else if ended || cancelled {
                    lock.unlock()
                    continuation.resume(returning: nil)
                } else {
                    precondition(waiter == nil, "one reader at a time")
                    waiter = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            cancel()
        }
    }

    /// The next event to hand out: the pending text, else the last event (once). Holding `lock`.
    private func take() -> GenerationEvent? {
        if !pending.isEmpty {
            defer { pending = String.UnicodeScalarView(); pendingScores = [] }
            return pendingScores.isEmpty ? .text(String(pending)) : .scored(String(pending), pendingScores)
        }
        if let event = last, !ended {
            ended = true
            return event
        }
        return nil
    }

    /// Hands the next event to a waiting reader, as a closure to run after unlocking. Holding `lock`.
    private func takeForWaiter() -> (() -> Void)? {
        guard let waiting = waiter, let event = take() else { return nil }
        waiter = nil
        return { waiting.resume(returning: event) }
    }
}
