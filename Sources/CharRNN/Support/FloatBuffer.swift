/// A heap array of Float32 with a stable address, for BLAS and the C kernels.
/// Workspaces grow with `reserve` and are never shrunk, so a training loop allocates nothing per step.
package final class FloatBuffer {
    package private(set) var pointer: UnsafeMutablePointer<Float>
    package private(set) var count: Int

    package init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    package convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    /// Makes room for at least `n` floats; contents are undefined after growing.
    package func reserve(_ n: Int) {
        guard n > count else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: n)
        pointer.initialize(repeating: 0, count: n)
        count = n
    }

    package func zero() { pointer.update(repeating: 0, count: count) }

    package var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    package subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}

/// A heap array of token ids with a stable address (for layers that keep a pointer until backward).
package final class IdBuffer {
    package private(set) var pointer: UnsafeMutablePointer<Int32>
    package private(set) var count: Int

    package init() {
        count = 0
        pointer = .allocate(capacity: 1)
    }

    deinit { pointer.deallocate() }

    package func set(_ ids: [Int32]) {
        if ids.count > count {
            pointer.deallocate()
            pointer = .allocate(capacity: ids.count)
        }
        count = max(count, ids.count)
        ids.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: ids.count) }
    }
}
