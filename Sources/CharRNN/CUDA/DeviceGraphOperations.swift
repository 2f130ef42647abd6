/// A GPU's GraphOperations: cuBLAS and the CUDA kernels, queued on the device; each mask's seed is
/// read from the forward's seeds in device memory (DeviceModel.prepareMasks), so a captured step draws
/// new masks each time it is replayed.
struct DeviceGraphOperations: GraphOperations {
    typealias Failure = any Error
    let device: ComputeDevice
    let seeds: DeviceBuffer
    let ones: DeviceOnes
    /// For copyRows and addRows that reverse rows with strides (the classifier's): at least their size.
    var scratch: DevicePointer? = nil

    func advanced(_ values: DevicePointer, byFloats count: Int) -> DevicePointer { values.advanced(byFloats: count) }

    func copy(_ source: DevicePointer, to destination: DevicePointer, count: Int) throws {
        try device.copy(from: source, to: destination, bytes: count * 4)
    }

    func drawMask(_ mask: DevicePointer, count: Int, p: Double, period: Int, seed: Int) throws {
        try device.drawDropoutMask(mask, count: count, p: p, period: period, seed: seeds[offset: seed])
    }

    func multiply(_ x: DevicePointer, by mask: DevicePointer, into y: DevicePointer, count: Int) throws {
        try device.mul(threads: count, n: count, x: x, m: mask, y: y)
    }

    func fillRows(_ out: DevicePointer, rows: Int, count: Int, with row: DevicePointer) throws {
        try device.fillRows(threads: rows * count, rows: rows, cols: count, out: out, v: row)
    }

    func addProductTransposed(m: Int, n: Int, k: Int, a: DevicePointer, lda: Int, b: DevicePointer, ldb: Int,
                              c: DevicePointer, ldc: Int) throws {
        try device.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
    }

    func addWeightGradient(m: Int, n: Int, k: Int, a: DevicePointer, lda: Int, b: DevicePointer, ldb: Int,
                           c: DevicePointer, ldc: Int) throws {
        try device.gemm(transA: true, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: c, ldc: ldc)
    }

    func addColumnSums(_ x: DevicePointer, rows: Int, cols: Int, into out: DevicePointer) throws {
        try device.gemm(transA: false, transB: false, m: 1, n: cols, k: rows, alpha: 1, a: try ones.pointer(count: rows), lda: rows,
                        b: x, ldb: cols, beta: 1, c: out, ldc: cols)
    }

    func product(m: Int, n: Int, k: Int, a: DevicePointer, lda: Int, b: DevicePointer, ldb: Int, c: DevicePointer, ldc: Int) throws {
        try device.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
    }

    func zero(_ x: DevicePointer, count: Int) throws { try device.zero(x, bytes: count * 4) }

    /// The reverse_time kernel reads and writes packed rows: with strides, through `scratch`.
    func copyRows(T: Int, B: Int, width: Int, from source: DevicePointer, lds: Int, to destination: DevicePointer, ldd: Int,
                  reversed: Bool) throws {
        let rows = T * B, n = rows * width
        guard reversed else {
            return try device.copyColumns(threads: n, rows: rows, W: width, src: source, lds: lds, dst: destination, ldd: ldd)
        }
        if lds == width && ldd == width {
            try device.reverseTime(threads: n, T: T, B: B, W: width, src: source, dst: destination)
        } else if lds == width {
            try device.reverseTime(threads: n, T: T, B: B, W: width, src: source, dst: scratch!)
            try device.copyColumns(threads: n, rows: rows, W: width, src: scratch!, lds: width, dst: destination, ldd: ldd)
        } else {
            precondition(ldd == width, "a reversed copy has packed rows on one side")
            try device.copyColumns(threads: n, rows: rows, W: width, src: source, lds: lds, dst: scratch!, ldd: width)
            try device.reverseTime(threads: n, T: T, B: B, W: width, src: scratch!, dst: destination)
        }
    }

    func addRows(T: Int, B: Int, width: Int, from x: DevicePointer, into y: DevicePointer, reversed: Bool) throws {
        let n = T * B * width
        if reversed { try device.reverseTime(threads: n, T: T, B: B, W: width, src: x, dst: scratch!) }
        try device.add(threads: n, n: n, a: y, b: reversed ? scratch! : x, y: y)
    }
}

extension DeviceRecurrentLayer: GraphLayer {
    static func rows(_ values: DevicePointer) -> DeviceLayerInput { .rows(values) }

    /// Outside training, a step (T = 1) keeps nothing for a backward (see forward).
    func run(_ input: DeviceLayerInput, T: Int, B: Int, params: DevicePointer, state: DevicePointer, training: Bool) throws -> DevicePointer {
        try forward(input, T: T, B: B, params: params, state: state, keepForBackward: training)
    }

    func runBackward(_ input: DeviceLayerInput, T: Int, B: Int, params: DevicePointer, grads: DevicePointer, dOutput: DevicePointer,
                     needInputGradient: Bool) throws -> DevicePointer? {
        guard case .rows(let x) = input else { preconditionFailure("a training forward reads layer 0's input as rows") }
        return try backward(x, T: T, B: B, params: params, grads: grads, dOutput: dOutput, needInputGradient: needInputGradient)
    }
}
