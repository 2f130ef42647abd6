/// Training speed in characters a second: over the steps of this process (what the last line reports)
/// and over the last second or 50 steps (what the progress line shows).
struct ThroughputMeter {
    private(set) var steps = 0
    private(set) var seconds = 0.0
    private(set) var characters = 0.0
    /// Characters a step so far; before the first step, what a full batch holds.
    private(set) var charactersPerStep: Double
    private var windowStart = monotonicSeconds(), windowSteps = 0, windowCharacters = 0.0
    private var recentRate = 0.0

    init(fullBatch: Int) { charactersPerStep = Double(fullBatch) }

    mutating func record(seconds dt: Double, characters stepCharacters: Double) {
        seconds += dt
        steps += 1
        characters += stepCharacters
        charactersPerStep = characters / Double(steps)
        windowSteps += 1
        windowCharacters += stepCharacters
        let now = monotonicSeconds()
        if now - windowStart >= 1 || windowSteps >= 50 {
            recentRate = windowCharacters / (now - windowStart)
            windowStart = now
            windowSteps = 0
            windowCharacters = 0
        }
    }

    /// Over every step of this process.
    var overallRate: Double { seconds > 0 ? characters / seconds : 0 }
    /// Over the last window, or every step until a window has closed.
    var recent: Double { recentRate > 0 ? recentRate : characters / max(seconds, 1e-9) }
}
