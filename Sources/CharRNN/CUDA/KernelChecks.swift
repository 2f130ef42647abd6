import CCharRNNKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Each GPU kernel against its CPU twin on random inputs of awkward sizes (odd H, a batch of 3): the
/// same check runs on the emulated device of the tests and, through `charrnn devices --check`, on a GPU.
package enum KernelChecks {
    package struct Outcome: Sendable {
        package let name: String
        /// Largest |device - cpu| over the largest |cpu| (at least 1) of any compared tensor.
        package let relativeError: Double
        package let passed: Bool
    }

    /// fp32 agreement asked of every kernel (issue: 1e-4 relative).
    package static let tolerance = 1e-4

    /// Largest |got - want| over the largest |want| (at least `floor`); a NaN anywhere is infinitely wrong.
    static func relativeError(_ got: [Float], _ want: [Float], floor: Double = 1) -> Double {
        precondition(got.count == want.count)
        var diff = 0.0, scale = floor
        for (g, w) in zip(got, want) {
            let d = abs(Double(g) - Double(w))
            if d.isNaN { return .infinity }
            diff = max(diff, d)
            scale = max(scale, abs(Double(w)))
        }
        return diff / scale
    }

    package static func run(on device: ComputeDevice, seed: UInt64 = 7) throws -> [Outcome] {
        var checker = Checker(device: device, rng: RandomGenerator(seed: seed))
        return try checker.all()
    }

    /// The matrix product alone (each transpose), against the CPU's BLAS within the device's precision's
    /// tolerance: what `devices --check` runs again at tf32 and bf16.
    package static func products(on device: ComputeDevice, seed: UInt64 = 7) throws -> [Outcome] {
        var checker = Checker(device: device, rng: RandomGenerator(seed: seed))
        return try checker.products()
    }

    private struct Checker {
        let device: ComputeDevice
        var rng: RandomGenerator
        var outcomes: [Outcome] = []
        var allocations: [DevicePointer] = []

        mutating func random(_ n: Int, scale: Float = 1) -> [Float] {
            (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale }
        }

        mutating func put(_ values: [Float]) throws -> DevicePointer {
            let p = try device.allocate(floats: values.count)
            allocations.append(p)
            try device.upload(values, to: p)
            return p
        }

        mutating func put(_ values: [Int32]) throws -> DevicePointer {
            let p = try device.allocate(bytes: max(1, values.count) * 4)
            allocations.append(p)
            try device.upload(values, to: p)
            return p
        }

        func get(_ p: DevicePointer, _ n: Int) throws -> [Float] { try device.downloadFloats(p, count: n) }

        mutating func record(_ name: String, _ pairs: [([Float], [Float])], tolerance: Double = KernelChecks.tolerance) {
            let worst = pairs.map { KernelChecks.relativeError($0.0, $0.1) }.max() ?? 0
            outcomes.append(Outcome(name: name, relativeError: worst, passed: worst <= tolerance))
        }

        mutating func products() throws -> [Outcome] {
            defer { allocations.forEach { device.free($0) } }
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] { try gemm(transA: ta, transB: tb) }
            try device.synchronize()
            return outcomes
        }

        mutating func all() throws -> [Outcome] {
            defer { allocations.forEach { device.free($0) } }
            try lstm()
            try gru()
            for relu in [false, true] { try rnn(relu: relu) }
            try embedding()
            try loss()
            try sequence()
            try reductionAndClipping()
            for kind in OptimizerKind.allCases { try optimizer(kind) }
            try optimizer(.sgd, momentum: 0.9)
            try elementwise()
            try dropout()
            try sampling()
            try slicedSampling()
            for folded in [false, true] { try lstmStep(folded: folded); try gruStep(folded: folded) }
            for relu in [false, true] { try rnnStep(relu: relu) }
            try decoderStep()
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] { try gemm(transA: ta, transB: tb) }
            try device.synchronize()
            return outcomes
        }

        // MARK: cells

        mutating func lstm() throws {
            let B = 3, H = 37, n = B * H
            // The kernel adds nn.LSTM's two biases itself; the CPU kernel takes their sum.
            var gates = random(B * 4 * H, scale: 2), biasIh = random(4 * H), biasHh = random(4 * H), cPrev = random(n)
            var bias = zip(biasIh, biasHh).map { $0 + $1 }
            var c = [Float](repeating: 0, count: n), h = c
            let dg = try put(gates), dbi = try put(biasIh), dbh = try put(biasHh), dcp = try put(cPrev), dc = try put(c), dh = try put(h)
            try device.lstmForward(threads: n, B: B, H: H, gates: dg, biasIh: dbi, biasHh: dbh, cPrev: dcp, c: dc, h: dh)
            crn_lstm_forward(Int32(B), Int32(H), &gates, &bias, &cPrev, &c, &h)
            record("lstm_forward", [(try get(dg, gates.count), gates), (try get(dc, n), c), (try get(dh, n), h)])

            for withRecurrent in [false, true] {
                let dhOut = random(n), dhRec = random(n)
                var dcCarry = random(n), dGates = [Float](repeating: 0, count: B * 4 * H)
                let pOut = try put(dhOut), pRec = try put(dhRec), pCarry = try put(dcCarry), pG = try put(dGates)
                try device.lstmBackward(threads: n, B: B, H: H, gates: dg, cPrev: dcp, c: dc, dhOut: pOut,
                                        dhRec: withRecurrent ? pRec : nil, dc: pCarry, dgates: pG)
                dhRec.withUnsafeBufferPointer { rec in
                    crn_lstm_backward(Int32(B), Int32(H), gates, cPrev, c, dhOut, withRecurrent ? rec.baseAddress : nil,
                                      &dcCarry, &dGates)
                }
                record("lstm_backward" + (withRecurrent ? "" : " (last step)"),
                       [(try get(pG, dGates.count), dGates), (try get(pCarry, n), dcCarry)])
            }
        }

        mutating func gru() throws {
            let B = 3, H = 29, n = B * H
            // The device adds the biases itself; the CPU's kernel takes the products with their bias.
            let xp = random(B * 3 * H, scale: 2), hp = random(B * 3 * H, scale: 2), hPrev = random(n)
            let biasIh = random(3 * H), biasHh = random(3 * H)
            let xpBiased = (0..<xp.count).map { xp[$0] + biasIh[$0 % (3 * H)] }
            let hpBiased = (0..<hp.count).map { hp[$0] + biasHh[$0 % (3 * H)] }
            var act = [Float](repeating: 0, count: B * 3 * H), h = [Float](repeating: 0, count: n)
            let pxp = try put(xp), php = try put(hp), pIh = try put(biasIh), pHh = try put(biasHh)
            let pPrev = try put(hPrev), pAct = try put(act), ph = try put(h)
            try device.gruForward(threads: n, B: B, H: H, xp: pxp, bIh: pIh, hp: php, bHh: pHh, hPrev: pPrev, act: pAct, h: ph)
            crn_gru_forward(Int32(B), Int32(H), xpBiased, hpBiased, hPrev, &act, &h)
            // What backward reads of hp: its n third, now with b_hh.
            let hpKept = try get(php, hp.count), nThird = (0..<hp.count).filter { $0 % (3 * H) >= 2 * H }
            record("gru_forward", [(try get(pAct, act.count), act), (try get(ph, n), h),
                                   (nThird.map { hpKept[$0] }, nThird.map { hpBiased[$0] })])

            let dhOut = random(n), dhRec = random(n)
            var dxp = [Float](repeating: 0, count: B * 3 * H), dhp = dxp, dhPrev = [Float](repeating: 0, count: n)
            let pOut = try put(dhOut), pRec = try put(dhRec), pdx = try put(dxp), pdh = try put(dhp), pdp = try put(dhPrev)
            try device.gruBackward(threads: n, B: B, H: H, act: pAct, hp: php, hPrev: pPrev, dhOut: pOut, dhRec: pRec, dxp: pdx,
                                   dhp: pdh, dhPrev: pdp)
            crn_gru_backward(Int32(B), Int32(H), act, hpBiased, hPrev, dhOut, dhRec, &dxp, &dhp, &dhPrev)
            record("gru_backward", [(try get(pdx, dxp.count), dxp), (try get(pdh, dhp.count), dhp), (try get(pdp, n), dhPrev)])
        }

        mutating func rnn(relu: Bool) throws {
            let B = 3, H = 41, n = B * H, r: Int32 = relu ? 1 : 0
            let pre = random(n, scale: 2), biasIh = random(H), biasHh = random(H), bias = zip(biasIh, biasHh).map { $0 + $1 }
            var h = [Float](repeating: 0, count: n)
            let pPre = try put(pre), pIh = try put(biasIh), pHh = try put(biasHh), ph = try put(h)
            try device.rnnForward(threads: n, B: B, H: H, pre: pPre, biasIh: pIh, biasHh: pHh, h: ph, relu: Int(r))
            crn_rnn_forward(Int32(B), Int32(H), pre, bias, &h, r)
            let dhOut = random(n), dhRec = random(n)
            var dpre = [Float](repeating: 0, count: n)
            let pOut = try put(dhOut), pRec = try put(dhRec), pd = try put(dpre)
            try device.rnnBackward(threads: n, B: B, H: H, h: ph, dhOut: pOut, dhRec: pRec, dpre: pd, relu: Int(r))
            crn_rnn_backward(Int32(B), Int32(H), h, dhOut, dhRec, &dpre, r)
            record(relu ? "rnn_forward/rnn_backward (relu)" : "rnn_forward/rnn_backward (tanh)", [(try get(ph, n), h), (try get(pd, n), dpre)])
        }

        // MARK: embedding, loss

        mutating func embedding() throws {
            let V = 11, E = 13, rows = 40, ldo = E + 3
            let ids = (0..<rows).map { _ in Int32(rng.next(upperBound: UInt64(V - 1))) }  // the last id never occurs
            let table = random(V * E), keep = (0..<V).map { _ in rng.nextFloat() < 0.3 ? Float(0) : 1.25 }
            let pIds = try put(ids), pTable = try put(table), pKeep = try put(keep)
            let pOut = try put([Float](repeating: 0, count: rows * ldo))
            try device.embeddingForward(threads: rows * E, rows: rows, E: E, ids: pIds, table: pTable, keep: pKeep, out: pOut,
                                        ldo: ldo)
            var out = [Float](repeating: 0, count: rows * ldo)
            for r in 0..<rows { for e in 0..<E { out[r * ldo + e] = table[Int(ids[r]) * E + e] * keep[Int(ids[r])] } }
            record("embedding_forward", [(try get(pOut, out.count), out)])

            // A conditional model's rows: the category of stream r % B one-hot after the character.
            let B = 4, C = ldo - E
            let categories = (0..<B).map { Int32(($0 + 1) % C) }  // every category, and streams that differ
            try device.categoryOnehot(threads: rows * C, rows: rows, B: B, C: C, categories: try put(categories), out: pOut,
                                      ldo: ldo, base: E)
            for r in 0..<rows { out[r * ldo + E + Int(categories[r % B])] = 1 }
            record("category_onehot", [(try get(pOut, out.count), out)])

            let d = random(rows * ldo), gradStart = random(V * E)
            let index = CSRIndex(ids: ids, vocabulary: V)
            let pFirst = try put(index.first), pRows = try put(index.rows), pd = try put(d), pGrad = try put(gradStart)
            try device.embeddingBackward(threads: V * E, V: V, E: E, first: pFirst, rowsById: pRows, d: pd, ldd: ldo, keep: pKeep,
                                         grad: pGrad)
            var grad = gradStart
            for r in 0..<rows { for e in 0..<E { grad[Int(ids[r]) * E + e] += keep[Int(ids[r])] * d[r * ldo + e] } }
            record("embedding_backward", [(try get(pGrad, grad.count), grad)])
        }

        /// The loss's three launches against crn_softmax_xent: a vocabulary of 67, a Chinese-sized one
        /// (lanes of 80 logits) and fewer logits than lanes (a classifier's 18 categories); the mean-scaled
        /// gradient, each row's own scale (a weighted loss), and the loss alone leaving the logits as they were.
        mutating func loss() throws {
            let softmax = try DeviceSoftmaxLoss(device)
            var pairs: [([Float], [Float])] = []
            for (N, V) in [(7, 67), (5, 2_574), (6, 18)] {
                let logits = random(N * V, scale: 4)
                let targets = (0..<N).map { _ in Int32(rng.next(upperBound: UInt64(V))) }
                let pL = try put(logits), pT = try put(targets), pLoss = try put([Float](repeating: 0, count: N))
                try softmax.queue(rows: N, vocabulary: V, logits: pL, targets: pT, loss: pLoss, gradient: true, scale: 0.25)
                var cpu = logits
                let total = crn_softmax_xent(Int32(N), Int32(V), &cpu, targets, 0.25, 1)
                pairs.append((try get(pL, cpu.count), cpu))
                pairs.append(([try get(pLoss, N).reduce(0, +)], [Float(total)]))
                // Each row with its own scale, as one CPU call per row.
                let scales = (0..<N).map { _ in rng.nextFloat() }
                let pW = try put(logits)
                try softmax.queue(rows: N, vocabulary: V, logits: pW, targets: pT, loss: pLoss, gradient: true, scale: 0,
                                  rowScale: try put(scales))
                var weighted = logits
                weighted.withUnsafeMutableBufferPointer { w in
                    for r in 0..<N { _ = crn_softmax_xent(1, Int32(V), w.baseAddress! + r * V, [targets[r]], scales[r], 1) }
                }
                pairs.append((try get(pW, weighted.count), weighted))
                // The loss alone.
                let pPlain = try put(logits)
                try softmax.queue(rows: N, vocabulary: V, logits: pPlain, targets: pT, loss: pLoss, gradient: false, scale: 1)
                pairs.append((try get(pPlain, logits.count), logits))
                pairs.append(([try get(pLoss, N).reduce(0, +)], [Float(total)]))
            }
            record("softmax_lanes/softmax_rows/softmax_gradient", pairs)
        }

        // MARK: sequences (the bidirectional classifier)

        mutating func sequence() throws {
            let T = 5, B = 3, W = 7
            let src = random(T * B * W)
            let pSrc = try put(src), pDst = try put([Float](repeating: 0, count: T * B * W))
            try device.reverseTime(threads: T * B * W, T: T, B: B, W: W, src: pSrc, dst: pDst)
            var reversed = src
            for t in 0..<T { for j in 0..<(B * W) { reversed[t * B * W + j] = src[(T - 1 - t) * B * W + j] } }
            record("reverse_time", [(try get(pDst, src.count), reversed)])

            let rows = 6, lds = 9, ldd = 11, width = 4
            let from = random(rows * lds), start = random(rows * ldd)
            let pFrom = try put(from), pTo = try put(start)
            try device.copyColumns(threads: rows * width, rows: rows, W: width, src: pFrom.advanced(byFloats: 2), lds: lds,
                                   dst: pTo.advanced(byFloats: 5), ldd: ldd)
            var to = start
            for r in 0..<rows { for j in 0..<width { to[r * ldd + 5 + j] = from[r * lds + 2 + j] } }
            record("copy_columns", [(try get(pTo, to.count), to)])
        }

        // MARK: reductions, clipping, optimizers

        mutating func reductionAndClipping() throws {
            let n = 10_007, parts = 64
            let g = random(n, scale: 3)
            let pG = try put(g)
            let partial = try device.allocate(bytes: parts * 8), total = try device.allocate(bytes: 8)
            allocations += [partial, total]
            try device.sumFloats(threads: parts, n: n, x: pG, square: 1, parts: parts, out: partial)
            try device.sumDoubles(threads: 1, n: parts, x: partial, parts: 1, out: total)
            let sumsq = try device.downloadDoubles(total, count: 1)[0]
            let cpuSumsq = g.withUnsafeBufferPointer { crn_sumsq($0.baseAddress!, n) }
            record("sum_floats/sum_doubles", [([Float(sumsq / cpuSumsq)], [1])])
            let log = try device.allocate(bytes: 6 * 8), slot = try put([Int32(2)])
            allocations.append(log)
            try device.zero(log, bytes: 6 * 8)
            try device.logStep(threads: 1, loss: total, normSquared: partial, slot: slot, log: log)
            let logged = try device.downloadDoubles(log, count: 6), firstPartial = try device.downloadDoubles(partial, count: 1)[0]
            record("log_step", [(logged.map { Float($0) }, [0, 0, 0, 0, Float(sumsq), Float(firstPartial)])])

            try device.clipNorm(threads: n, n: n, g: pG, sumSquares: total, maxNorm: 5)
            let clipped = FloatBuffer(g)
            GradientClipping.clipGlobalNorm(clipped, maxNorm: 5)
            record("clip_norm", [(try get(pG, n), clipped.array)])

            let pV = try put(g)
            try device.clipValue(threads: n, n: n, g: pV, v: 0.5)
            let byValue = FloatBuffer(g)
            GradientClipping.clipValue(byValue, value: 0.5)
            record("clip_value", [(try get(pV, n), byValue.array)])
        }

        mutating func optimizer(_ kind: OptimizerKind, momentum: Float = 0) throws {
            let n = 1_003
            let params = FloatBuffer(random(n)), cpu = Optimizer(kind: kind, count: n)
            cpu.momentum = momentum
            let pP = try put(params.array), pM = try put([Float](repeating: 0, count: n)), pV = try put([Float](repeating: 0, count: n))
            let rule = kind.rule.init(cpu), scalars = UpdateScalars(cpu)
            for step in 1...3 {
                let grads = FloatBuffer(random(n))
                let pG = try put(grads.array)
                let lr: Float = 0.01 * Float(step)
                let pS = try put(scalars.values(step: step, learningRate: lr))
                try rule.queue(on: device, count: n, p: pP, g: pG, m: pM, v: pV, scalars: pS)
                cpu.update(parameters: params, gradients: grads, learningRate: lr)
            }
            record("\(rule.kernelName) (\(kind.rawValue), 3 steps)", [(try get(pP, n), params.array), (try get(pM, n), cpu.m.array)])
        }

        mutating func elementwise() throws {
            let rows = 5, cols = 19, n = rows * cols
            let x = random(n), m = random(n), v = random(cols)
            let px = try put(x), pm = try put(m), pv = try put(v), py = try put([Float](repeating: 0, count: n))
            try device.mul(threads: n, n: n, x: px, m: pm, y: py)
            record("mul", [(try get(py, n), zip(x, m).map { $0 * $1 })])
            try device.add(threads: n, n: n, a: px, b: pm, y: py)
            record("add", [(try get(py, n), zip(x, m).map { $0 + $1 })])
            try device.fillRows(threads: n, rows: rows, cols: cols, out: py, v: pv)
            record("fill_rows", [(try get(py, n), (0..<n).map { v[$0 % cols] })])
            // Three updates of WeightAverage, the first a copy; its exact floats (both sides fuse the
            // multiply-add), so the tolerance is none.
            let average = WeightAverage(decay: 0.75, count: n)
            let pa = try put([Float](repeating: 0, count: n)), pw = try put([Float](repeating: 0, count: 1))
            for step in 0..<3 {
                let params = FloatBuffer(random(n).map { $0 + Float(step) })
                try device.upload([average.nextWeight], to: pw)
                try device.lerpToward(threads: n, n: n, a: pa, p: try put(params.array), weight: pw)
                average.update(from: params)
            }
            record("lerp_toward (3 updates)", [(try get(pa, n), average.values.array)], tolerance: 0)
            try device.swapFloats(threads: n, n: n, a: px, b: pa)
            record("swap_floats", [(try get(px, n), average.values.array), (try get(pa, n), x)], tolerance: 0)
            // bfloat16 rounding, bit for bit: random values, ties both ways, the largest that rounds up to
            // infinity, infinities, a NaN, zeros and subnormals.
            let specials: [Float] = [Float(bitPattern: 0x3f80_8000), Float(bitPattern: 0x3f81_8000), Float(bitPattern: 0x7f7f_ffff),
                                     .infinity, -.infinity, .nan, 0, -0.0, Float(bitPattern: 0x0000_8001), -Float.leastNormalMagnitude / 3]
            let values = random(n - n % 2 - specials.count, scale: 1000) + specials
            let pb = try put([Int32](repeating: 0, count: values.count / 2))
            try device.toBf16(threads: values.count, n: values.count, x: try put(values), y: pb)
            let words = try device.downloadInt32s(pb, count: values.count / 2)
            let bits = words.flatMap { [UInt16(truncatingIfNeeded: UInt32(bitPattern: $0)), UInt16(truncatingIfNeeded: UInt32(bitPattern: $0) >> 16)] }
            let wrong = zip(bits, values).filter { $0.0 != Precision.bfloat16Bits($0.1) }.count
            outcomes.append(Outcome(name: "to_bf16 (\(values.count) values, \(wrong) wrong)", relativeError: Double(wrong), passed: wrong == 0))
        }

        /// Against its CPU twin crn_dropout_mask, bit for bit (the CPU's training draws the same masks),
        /// over a mask repeated with a period that is not a power of two; and the rate of zeros.
        mutating func dropout() throws {
            let period = 1_000, n = 20 * period + 7, p: Float = 0.3, keep: Float = 1 / 0.7
            let pm = try put([Float](repeating: -1, count: n))
            let pSeed = try put([Int32]([12345, 0]))  // the seed, a 64-bit word in device memory
            try device.dropoutMask(threads: n, n: n, mask: pm, p: p, keep: keep, seed: pSeed, period: period)
            let mask = try get(pm, n)
            var want = [Float](repeating: -1, count: n)
            crn_dropout_mask(0, Int64(n), &want, p, keep, 12345, Int64(period))
            let differing = zip(mask, want).filter { $0.bitPattern != $1.bitPattern }.count
            let zeros = Double(mask.prefix(period).filter { $0 == 0 }.count) / Double(period)
            // 1000 draws at p = 0.3: a standard deviation of 0.0145, so 0.06 is over four.
            let ok = differing == 0 && abs(zeros - Double(p)) < 0.06
            outcomes.append(Outcome(name: "dropout_mask (against the CPU's, \(differing) of \(n) differ; \(Int((zeros * 100).rounded()))% dropped, p = 0.3)",
                                    relativeError: ok ? 0 : .infinity, passed: ok))
        }

        /// sample_next over B streams that share one row of logits: greedy takes the CPU's argmax, top-k
        /// draws only among the k largest, and temperature draws follow the CPU's softmax (Pearson's
        /// chi-square below the 0.999 quantile, 32.9 for the 12 degrees of freedom of V = 13).
        mutating func sampling() throws {
            let B = 5_000, V = 13
            let row = random(V, scale: 2)
            let pL = try put((0..<B).flatMap { _ in row }), pIds = try put([Int32](repeating: -1, count: B))
            let pDraws = try put([Int32]([77, 0, 1, 0]))  // seed 77, base 1 (two little-endian 64-bit words)
            try device.advanceDraws(threads: 1, draws: pDraws, n: 1)
            let draws = try device.downloadFloats(pDraws, count: 4).map(\.bitPattern)
            guard draws == [77, 0, 2, 0] else {
                outcomes.append(Outcome(name: "advance_draws", relativeError: .infinity, passed: false))
                return
            }
            func draw(_ temperature: Float, topK: Int, topP: Float = 1, greedy: Bool) throws -> [Int32] {
                try device.sampleNext(threads: B * 32, B: B, V: V, logits: pL, invTemperature: 1 / temperature, topK: topK,
                                      topP: topP, greedy: greedy ? 1 : 0, draws: pDraws, offset: 1, ids: pIds,
                                      history: nil)
                return try device.downloadInt32s(pIds, count: B)
            }
            let best = Int32(row.indices.max { row[$0] < row[$1] }!)
            let greedyOK = try draw(1, topK: 0, greedy: true).allSatisfy { $0 == best }
            let top3 = Set(row.indices.sorted { row[$0] > row[$1] }.prefix(3).map { Int32($0) })
            let topOK = try draw(1, topK: 3, greedy: false).allSatisfy { top3.contains($0) }
            let x2 = Self.chiSquare(try draw(0.8, topK: 0, greedy: false), logits: row, temperature: 0.8)
            // Nucleus: draws from the CPU's nucleus, renormalised (its 0.999 quantile for up to 12 degrees
            // of freedom is at most 32.9), alone and after top-k.
            var nucleusX2 = 0.0
            for (topK, topP) in [(0, Float(0.6)), (5, 0.8)] {
                let ids = try draw(0.9, topK: topK, topP: topP, greedy: false)
                nucleusX2 = max(nucleusX2, Self.chiSquare(ids, logits: row, temperature: 0.9, topK: topK, topP: topP))
            }
            // Penalties: penalize_logits gives the CPU twin's floats.
            let counts = (0..<B * V).map { Int32($0 % 7 == 0 ? 0 : $0 % 5) }
            var want = (0..<B).flatMap { _ in row }
            crn_penalize_logits(Int32(B), Int32(V), &want, counts, 0.3, 0.7)
            let pCounts = try put(counts)
            try device.penalizeLogits(threads: B * V, B: B, V: V, logits: pL, counts: pCounts, presence: 0.3, frequency: 0.7)
            let penaltiesOK = try get(pL, B * V).map(\.bitPattern) == want.map(\.bitPattern)
            try device.countDraws(threads: B, B: B, V: V, ids: pIds, counts: pCounts)
            let drawn = try device.downloadInt32s(pIds, count: B), counted = try device.downloadInt32s(pCounts, count: B * V)
            let countOK = (0..<B).allSatisfy { b in counted[b * V + Int(drawn[b])] == counts[b * V + Int(drawn[b])] + 1 }
            let ok = greedyOK && topOK && x2 < 32.9 && nucleusX2 < 32.9 && penaltiesOK && countOK
            outcomes.append(Outcome(name: "sample_next/advance_draws/penalize_logits/count_draws (greedy, top-3, chi-square \(Self.shown(x2)) over \(B) draws, with top-p \(Self.shown(nucleusX2)); penalties \(penaltiesOK ? "equal" : "differ"))",
                                    relativeError: ok ? 0 : .infinity, passed: ok))
        }

        /// The CPU's distribution: softmax(logits / temperature), top-k then the nucleus (SamplingOptions'
        /// order), renormalised.
        static func cpuDistribution(_ logits: [Float], temperature: Float, topK: Int = 0, topP: Float = 1) -> [Float] {
            let V = logits.count
            var p = [Float](repeating: 0, count: V)
            crn_softmax_temperature(Int32(V), logits, 1 / temperature, &p)
            if topK > 0 && topK < V { crn_keep_top_k(Int32(V), &p, Int32(topK)) }
            if topP < 1 { p.withUnsafeMutableBufferPointer { Sampler.keepNucleus($0.baseAddress!, count: V, mass: topP) } }
            let total = p.reduce(0, +)
            return p.map { $0 / total }
        }

        /// Pearson's statistic of `ids`, drawn from softmax(logits / temperature), over the characters
        /// expected at least 5 times.
        /// A statistic for an outcome's name: infinite when a draw had probability 0.
        static func shown(_ x2: Double) -> String { x2.isFinite ? "\(Int(x2.rounded()))" : "inf (a draw outside the kept characters)" }

        /// A draw of probability 0 makes it infinite.
        static func chiSquare(_ ids: [Int32], logits: [Float], temperature: Float, topK: Int = 0, topP: Float = 1) -> Double {
            let V = logits.count, n = Double(ids.count)
            let p = cpuDistribution(logits, temperature: temperature, topK: topK, topP: topP)
            var counts = [Int](repeating: 0, count: V)
            for id in ids { counts[Int(id)] += 1 }
            if (0..<V).contains(where: { p[$0] == 0 && counts[$0] > 0 }) { return .infinity }
            var x2 = 0.0
            for j in 0..<V where Double(p[j]) * n >= 5 {
                let e = Double(p[j]) * n
                x2 += (Double(counts[j]) - e) * (Double(counts[j]) - e) / e
            }
            return x2
        }

        /// The two ways of DeviceSampler over a vocabulary of 1,300 (six slices, the last short): the same
        /// ids bit for bit, for rows with many ties at the k-th place and negative logits, at each top-k; the
        /// ids among the k largest logits with ties going to the lowest ids (the CPU's rule); greedy the
        /// first largest; the ids in the CPU's nucleus; and by slices, draws that follow the softmax (and
        /// the renormalised nucleus) when the mass lies in several slices.
        mutating func slicedSampling() throws {
            let V = 1_300, B = 24
            var rows: [Float] = []
            for b in 0..<B {
                switch b % 3 {
                case 0: rows += random(V, scale: 3)
                case 1: rows += (0..<V).map { _ in Float(Int(rng.nextFloat() * 8)) * 0.5 - 2 }  // ties everywhere
                default: rows += random(V, scale: 5).map { $0 - 10 }
                }
            }
            let pL = try put(rows), pIds = try put([Int32](repeating: -1, count: B))
            let pDraws = try put([Int32]([19, 0, 3, 0]))  // seed 19, base 3
            let oneThread = try DeviceSampler(device: device), slices = try DeviceSampler(device: device)
            oneThread.slicedAbove = .max
            slices.slicedAbove = 0
            func draw(_ sampler: DeviceSampler, _ temperature: Float, topK: Int, topP: Float, greedy: Bool) throws -> [Int32] {
                try sampler.queue(streams: B, vocabulary: V, logits: pL, inverseTemperature: 1 / temperature,
                                  topK: topK, topP: topP, greedy: greedy, draws: pDraws, offset: 1, ids: pIds, history: nil)
                return try device.downloadInt32s(pIds, count: B)
            }
            var same = true, inKept = true
            for (temperature, topK, topP, greedy) in [(Float(1), 0, Float(1), false), (0.7, 3, 1, false), (1.3, 40, 1, false),
                                                       (1, 1, 1, false), (1, 200, 1, false), (1, V - 1, 1, false), (1, 0, 1, true),
                                                       (1, 0, 0.5, false), (0.7, 40, 0.9, false), (1.2, 0, 0.95, false),
                                                       (1, 0, 0.01, false)] {
                let a = try draw(oneThread, temperature, topK: topK, topP: topP, greedy: greedy)
                let b = try draw(slices, temperature, topK: topK, topP: topP, greedy: greedy)
                same = same && a == b
                for s in 0..<B {
                    let row = Array(rows[s * V..<(s + 1) * V])
                    if greedy {
                        inKept = inKept && Int(b[s]) == row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
                    } else {
                        inKept = inKept && Self.cpuDistribution(row, temperature: temperature, topK: topK, topP: topP)[Int(b[s])] > 0
                    }
                }
            }
            // Many streams on one row whose mass lies on 12 ids spread over the slices, with and without a
            // nucleus.
            let draws = 4_000
            var row = [Float](repeating: -30, count: V)
            for i in 0..<12 { row[7 + 107 * i] = random(1, scale: 1.5)[0] }
            let pRow = try put((0..<draws).flatMap { _ in row }), pMany = try put([Int32](repeating: -1, count: draws))
            var x2 = 0.0
            for topP: Float in [1, 0.8] {
                try slices.queue(streams: draws, vocabulary: V, logits: pRow, inverseTemperature: 1 / 0.8, topK: 0, topP: topP, greedy: false,
                                 draws: pDraws, offset: 0, ids: pMany, history: nil)
                x2 = max(x2, Self.chiSquare(try device.downloadInt32s(pMany, count: draws), logits: row, temperature: 0.8, topP: topP))
            }
            // The 0.999 quantile of chi-square with 11 degrees of freedom (or fewer) is 31.3 (or less).
            let ok = same && inKept && x2 < 31.3
            outcomes.append(Outcome(name: "sample_slice_max/sample_select_begin/sample_radix_count/sample_radix_choose/sample_slice_mass/sample_pick/sample_nucleus_begin/sample_nucleus_count/sample_nucleus_choose (by slices, V = \(V): ids equal to one thread's, top-k and top-p with ties, chi-square \(Self.shown(x2)))",
                                    relativeError: ok ? 0 : .infinity, passed: ok))
        }

        /// Row-major out[m, n] = a[m, k] b[n, k]^T in doubles, the reference for the warp-per-row kernels.
        static func productNT(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Double] {
            var out = [Double](repeating: 0, count: m * n)
            for r in 0..<m { for c in 0..<n { for q in 0..<k { out[r * n + c] += Double(a[r * k + q]) * Double(b[c * k + q]) } } }
            return out
        }

        /// What every step kernel (KernelSource.step) reads, random and on the device: B streams of H units
        /// and I inputs (I and H above 32, so that lanes wrap around a row), G rows of weights per unit, a
        /// folded table of V characters and the ids that pick its rows, and the copy the launch does too.
        struct StepCase {
            static let B = 3, H = 37, I = 45, V = 7, copyCount = 50
            let G: Int, folded: Bool
            let wIh: [Float], wHh: [Float], biasIh: [Float], biasHh: [Float], hPrev: [Float], copied: [Float]
            /// x W_ih^T (or the folded rows) and h_prev W_hh^T, [B, G*H], without biases.
            let inputProduct: [Double], recurrentProduct: [Double]
            let pointers: [DevicePointer]  // x, ids, table, W_ih, W_hh, b_ih, b_hh, from, to
        }

        mutating func stepCase(rowsPerUnit G: Int, folded: Bool) throws -> StepCase {
            let (B, H, I, V) = (StepCase.B, StepCase.H, StepCase.I, StepCase.V), gh = G * H
            let x = random(B * I), wIh = random(gh * I, scale: 0.3), wHh = random(gh * H, scale: 0.3)
            let biasIh = random(gh), biasHh = random(gh), hPrev = random(B * H)
            let table = random(V * gh), ids: [Int32] = [5, 0, 6], copied = random(StepCase.copyCount)
            let input = folded ? (0..<(B * gh)).map { Double(table[Int(ids[$0 / gh]) * gh + $0 % gh]) }
                               : Self.productNT(x, wIh, m: B, n: gh, k: I)
            let pointers = [try put(x), try put(ids), try put(table), try put(wIh), try put(wHh), try put(biasIh), try put(biasHh),
                            try put(copied), try put(random(StepCase.copyCount))]
            return StepCase(G: G, folded: folded, wIh: wIh, wHh: wHh, biasIh: biasIh, biasHh: biasHh, hPrev: hPrev, copied: copied,
                            inputProduct: input, recurrentProduct: Self.productNT(hPrev, wHh, m: B, n: gh, k: H), pointers: pointers)
        }

        /// The operands every step kernel takes from `c`, as DeviceRecurrentLayer.stepOperands gives them.
        func operands(_ c: StepCase) -> DeviceRecurrentLayer.StepOperands {
            let p = c.pointers
            return .init(threads: max(StepCase.B * StepCase.H * 32, StepCase.copyCount), B: StepCase.B, H: StepCase.H,
                         I: StepCase.I, 
                         x: c.folded ? nil : p[0], ids: c.folded ? p[1] : nil, table: c.folded ? p[2] : nil,
                         wIh: p[3], wHh: p[4], biasIh: p[5], biasHh: p[6], copyFrom: p[7], copyTo: p[8],
                         copyCount: StepCase.copyCount)
        }

        /// lstm_step against the products and crn_lstm_forward, with a dense input or a folded table.
        mutating func lstmStep(folded: Bool) throws {
            let c = try stepCase(rowsPerUnit: 4, folded: folded), n = StepCase.B * StepCase.H
            let cPrev = random(n)
            var g = zip(c.inputProduct, c.recurrentProduct).map { Float($0 + $1) }, bias = zip(c.biasIh, c.biasHh).map { $0 + $1 }
            var cOld = cPrev, cNew = [Float](repeating: 0, count: n), h = cNew
            crn_lstm_forward(Int32(StepCase.B), Int32(StepCase.H), &g, &bias, &cOld, &cNew, &h)
            let pState = try put(c.hPrev + cPrev), pOut = try put(random(n))
            let s = operands(c)
            try device.lstmStep(threads: s.threads, B: s.B, H: s.H, I: s.I, x: s.x, ids: s.ids, table: s.table, wIh: s.wIh,
                                wHh: s.wHh, 
                                biasIh: s.biasIh, biasHh: s.biasHh, hPrev: pState, c: pState.advanced(byFloats: n), hOut: pOut,
                                copyFrom: s.copyFrom, copyTo: s.copyTo, copyCount: s.copyCount)
            let copied = try get(c.pointers[8], StepCase.copyCount)
            let state = try get(pState, 2 * n)
            record("lstm_step (\(folded ? "folded input" : "input product"), a warp per unit)",
                   [(try get(pOut, n), h), (Array(state[n...]), cNew), (Array(state[..<n]), c.hPrev), (copied, c.copied)])
        }

        /// gru_step against the products and crn_gru_forward (which takes each product with its bias).
        mutating func gruStep(folded: Bool) throws {
            let c = try stepCase(rowsPerUnit: 3, folded: folded), n = StepCase.B * StepCase.H, G = 3 * StepCase.H
            let xpBiased = c.inputProduct.indices.map { Float(c.inputProduct[$0]) + c.biasIh[$0 % G] }
            let hpBiased = c.recurrentProduct.indices.map { Float(c.recurrentProduct[$0]) + c.biasHh[$0 % G] }
            var act = [Float](repeating: 0, count: StepCase.B * G), h = [Float](repeating: 0, count: n)
            crn_gru_forward(Int32(StepCase.B), Int32(StepCase.H), xpBiased, hpBiased, c.hPrev, &act, &h)
            let pState = try put(c.hPrev), pOut = try put(random(n))
            let s = operands(c)
            try device.gruStep(threads: s.threads, B: s.B, H: s.H, I: s.I, x: s.x, ids: s.ids, table: s.table, wIh: s.wIh,
                               wHh: s.wHh, 
                               biasIh: s.biasIh, biasHh: s.biasHh, hPrev: pState, hOut: pOut,
                               copyFrom: s.copyFrom, copyTo: s.copyTo, copyCount: s.copyCount)
            let copied = try get(c.pointers[8], StepCase.copyCount)
            record("gru_step (\(folded ? "folded input" : "input product"), a warp per unit)",
                   [(try get(pOut, n), h), (try get(pState, n), c.hPrev), (copied, c.copied)])
        }

        /// rnn_step against the products and crn_rnn_forward.
        mutating func rnnStep(relu: Bool) throws {
            let c = try stepCase(rowsPerUnit: 1, folded: false), n = StepCase.B * StepCase.H
            let pre = zip(c.inputProduct, c.recurrentProduct).map { Float($0 + $1) }, bias = zip(c.biasIh, c.biasHh).map { $0 + $1 }
            var h = [Float](repeating: 0, count: n)
            crn_rnn_forward(Int32(StepCase.B), Int32(StepCase.H), pre, bias, &h, relu ? 1 : 0)
            let pState = try put(c.hPrev), pOut = try put(random(n))
            let s = operands(c)
            try device.rnnStep(threads: s.threads, B: s.B, H: s.H, I: s.I, x: s.x, ids: s.ids, table: s.table, wIh: s.wIh,
                               wHh: s.wHh, 
                               biasIh: s.biasIh, biasHh: s.biasHh, relu: relu ? 1 : 0, hPrev: pState, hOut: pOut,
                               copyFrom: s.copyFrom, copyTo: s.copyTo, copyCount: s.copyCount)
            let copied = try get(c.pointers[8], StepCase.copyCount)
            record("rnn_step (\(relu ? "relu" : "tanh"), a warp per unit)", [(try get(pOut, n), h), (copied, c.copied)])
        }

        /// decoder_step against the product, with its copy.
        mutating func decoderStep() throws {
            let B = 3, V = 11, H = 37, copyCount = B * H
            let h = random(B * H), weight = random(V * H), bias = random(V), copied = random(copyCount)
            let product = Self.productNT(h, weight, m: B, n: V, k: H)
            let logits = (0..<(B * V)).map { Float(product[$0] + Double(bias[$0 % V])) }
            let ph = try put(h), pw = try put(weight), pb = try put(bias), pl = try put(random(B * V))
            let pFrom = try put(copied), pTo = try put(random(copyCount))
            try device.decoderStep(threads: max(B * V * 32, copyCount), B: B, V: V, H: H, h: ph, weight: pw, bias: pb, logits: pl,
                                   copyFrom: pFrom, copyTo: pTo, copyCount: copyCount)
            record("decoder_step (a warp per logit)", [(try get(pl, B * V), logits), (try get(pTo, copyCount), copied)])
        }

        mutating func gemm(transA: Bool, transB: Bool) throws {
            let m = 7, n = 9, k = 11
            let a = random(m * k), b = random(k * n), c0 = random(m * n)
            let lda = transA ? m : k, ldb = transB ? k : n
            let pa = try put(a), pb = try put(b), pc = try put(c0)
            try device.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: pa, lda: lda, b: pb, ldb: ldb,
                            beta: 2, c: pc, ldc: n)
            var c = c0
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 2,
                      c: &c, ldc: n)
            let precision = device.precision == .fp32 ? "" : ", \(device.precision)"
            record("gemm (\(transA ? "T" : "N")\(transB ? "T" : "N")\(precision))", [(try get(pc, m * n), c)],
                   tolerance: device.precision.tolerance)
        }
    }
}

/// For embedding_backward: the rows of a batch grouped by character, built on the host where the ids
/// are, so the device sums each character's rows in a fixed order.
package struct CSRIndex: Sendable {
    /// first[v] ..< first[v + 1] are the positions in `rows` of character v's rows; V + 1 entries.
    package let first: [Int32]
    package let rows: [Int32]

    package init(ids: [Int32], vocabulary V: Int) {
        var counts = [Int32](repeating: 0, count: V + 1)
        for id in ids { counts[Int(id) + 1] += 1 }
        for v in 0..<V { counts[v + 1] += counts[v] }
        var next = counts, rows = [Int32](repeating: 0, count: ids.count)
        for (r, id) in ids.enumerated() {
            rows[Int(next[Int(id)])] = Int32(r)
            next[Int(id)] += 1
        }
        first = counts
        self.rows = rows
    }
}
