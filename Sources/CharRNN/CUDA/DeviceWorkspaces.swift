/// Small pieces of device work that the language model, its layers and the classifier share.

/// A vector of ones in device memory, grown as needed: column sums (bias gradients) as the product
/// ones[1, rows] times a [rows, cols] matrix.
final class DeviceOnes {
    private let buffer: DeviceBuffer
    private var filled = 0

    init(_ device: ComputeDevice) throws { buffer = try DeviceBuffer(device, count: 0) }

    /// At least `count` ones; copied from the host only when more are asked for than ever before.
    func pointer(count: Int) throws -> DevicePointer {
        if filled < count {
            try buffer.reserve(count)
            try buffer.device.upload([Float](repeating: 1, count: count), to: buffer.pointer)
            filled = count
        }
        return buffer.pointer
    }
}

/// A batch's rows grouped by character (CSRIndex, built on the host) in device memory, and the
/// embedding gradient that reads it (KernelSource.embedding's embedding_backward: no atomics).
final class DeviceCSRIndex {
    private let device: ComputeDevice
    private let vocabulary: Int
    private let first: DeviceBuffer, rows: DeviceBuffer

    init(_ device: ComputeDevice, vocabulary: Int) throws {
        self.device = device
        self.vocabulary = vocabulary
        first = try DeviceBuffer(device, count: vocabulary + 1, elementSize: 4)
        rows = try DeviceBuffer(device, count: 0, elementSize: 4)
    }

    /// The index of `ids` (one per row), built on the host and copied to the device.
    func upload(ids: [Int32]) throws {
        let index = CSRIndex(ids: ids, vocabulary: vocabulary)
        try rows.reserve(ids.count)
        try device.upload(index.first, to: first.pointer)
        try device.upload(index.rows, to: rows.pointer)
    }

    /// grad[v, 0..<E] += keep[v] * (sum of d[r, 0..<E] over the uploaded rows r of character v); d has
    /// row stride ldd, keep may be nil.
    func embeddingBackward(E: Int, d: DevicePointer, ldd: Int, keep: DevicePointer?, into grad: DevicePointer) throws {
        try device.embeddingBackward(threads: vocabulary * E, V: vocabulary, E: E, first: first.pointer, rowsById: rows.pointer,
                                     d: d, ldd: ldd, keep: keep, grad: grad)
    }
}

/// Softmax cross-entropy of N rows on a device (KernelSource.loss), with the workspace its launches share.
final class DeviceSoftmaxLoss {
    /// Threads per row in softmax_lanes (CRN_SOFTMAX_LANES).
    static let lanes = 32
    private let device: ComputeDevice
    private let partials: DeviceBuffer, rowStats: DeviceBuffer

    init(_ device: ComputeDevice) throws {
        self.device = device
        partials = try DeviceBuffer(device, count: 0)
        rowStats = try DeviceBuffer(device, count: 0)
    }

    /// Makes room for N rows (before a capture, which may not allocate).
    func reserve(rows N: Int) throws {
        try partials.reserve(N * Self.lanes * 2)
        try rowStats.reserve(N * 2)
    }

    /// loss[r] = the cross-entropy of row r of logits [N, V] at targets[r]; with gradient, the logits
    /// become w * (softmax - onehot(target)), w = rowScale[r] when given, else scale.
    func queue(rows N: Int, vocabulary V: Int, logits: DevicePointer, targets: DevicePointer, loss: DevicePointer,
               gradient: Bool, scale: Float, rowScale: DevicePointer? = nil) throws {
        try reserve(rows: N)
        try device.softmaxLanes(threads: N * Self.lanes, N: N, V: V, logits: logits, partials: partials.pointer)
        try device.softmaxRows(threads: N, N: N, V: V, logits: logits, targets: targets, partials: partials.pointer, loss: loss,
                               rowStats: rowStats.pointer)
        guard gradient else { return }
        try device.softmaxGradient(threads: N * V, n: N * V, V: V, logits: logits, targets: targets, rowStats: rowStats.pointer,
                                   scale: scale, rowScale: rowScale)
    }
}

extension ComputeDevice {
    /// A dropout mask (KernelSource.dropout): 0 with probability p, else 1/(1-p), repeating every
    /// `period` elements, drawn from the counter-based generator seeded by the word at `seed`.
    func drawDropoutMask(_ mask: DevicePointer, count: Int, p: Double, period: Int, seed: DevicePointer) throws {
        try dropoutMask(threads: count, n: count, mask: mask, p: Float(p), keep: Float(1 / (1 - p)), seed: seed, period: period)
    }
}
