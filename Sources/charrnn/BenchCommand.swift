import ArgumentParser
import CharRNN
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training and sampling speed on the standard configurations and print a table.",
        discussion: """
        Each configuration runs in its own process (so peak memory is its own) after untimed warm-up steps. \
        FLOPs are counted as the PyTorch reference does: per layer per character 2*G*H*(I+H) forward plus \
        2*H*V for the output, training = 3x forward. The BLAS ceiling is a 2048x2048 float32 product.
        """
    )

    @OptionGroup var threads: ThreadsOption
    @Option(parsing: .unconditional, help: "Seconds to time each configuration.")
    var seconds = 3.0
    @Option(parsing: .unconditional, help: "Run only configuration N of the table (1-based; of the --rows chosen), printing one JSON line.")
    var only: Int?
    @Option(help: "Train on this text's ids instead of random ids (V = its vocabulary).")
    var text: String?
    @Option(help: "Which rows: all, train or sample.")
    var rows = "all"
    @Option(help: ArgumentHelp("Run each row at each of these thread counts and print how it scales.", valueName: "1,2,4,8,16"))
    var threadsSweep: String?
    @Option(help: "How the recurrence's steps are shared among threads on the CPU: auto, rows (each thread its own batch rows for all steps) or tiles (each step's product cut into row-and-panel tiles, threads meeting twice a step).")
    var split = "auto"
    @Option(parsing: .unconditional, help: "Train every training row at this batch size instead of its own (how the splits fare with few rows per thread).")
    var batch: Int?
    @Flag(help: "Also time each phase of the training rows' steps (input, forward, decoder, loss, backward, weight gradients, update) and print milliseconds per step; with --threads-sweep, at each thread count. With --device cuda, also the GPU's time in each kind of operation (each product's shape, each kernel), the step launched operation by operation instead of replayed from a CUDA graph.")
    var phases = false
    @Option(help: "cpu, or cuda / cuda:N: every row (and the large rows of the PyTorch GPU table) on a GPU, with its peak memory.",
            transform: { try DeviceChoice(parsing: $0) })
    var device = DeviceChoice.cpu
    @Option(help: "With --device cuda, the matrix products: fp32, tf32 or bf16 (bfloat16 operands, fp32 sums).",
            transform: { try Precision(parsing: $0) })
    var precision = Precision.fp32

    func run() throws {
        let threads = self.threads.count
        try CharRNNError.requirePositive(seconds, "--seconds")
        guard seconds <= 3600 else { throw CharRNNError.invalidOption("--seconds must be at most 3600 per configuration (got \(seconds))") }
        guard device != .auto else { throw CharRNNError.invalidOption("bench takes --device cpu or cuda[:N], not auto") }
        let gpu = device != .cpu
        if !gpu { _ = try device.open(precision: precision) }  // refuses tf32 and bf16 on the CPU
        guard let recurrenceSplit = RecurrentLayer.RecurrenceSplit(rawValue: split) else {
            throw CharRNNError.invalidOption("--split must be auto, rows or tiles (got \(split))")
        }
        RecurrentLayer.recurrenceSplit = recurrenceSplit
        if let batch, !(1...4096).contains(batch) {
            throw CharRNNError.invalidOption("--batch must be between 1 and 4096 (got \(batch))")
        }
        var configs = gpu ? BenchmarkConfig.gpu(threads: threads) : BenchmarkConfig.standard(threads: threads)
        if let batch { for i in configs.indices where configs[i].kind == .train { configs[i].batch = batch } }
        var ids: [Int32]? = nil
        if let text {
            let t = try TextFile.read(text)
            ids = try Vocabulary(scalarsOf: t.unicodeScalars).encode(t, what: text)
        }
        guard ["all", "train", "sample"].contains(rows) else {
            throw CharRNNError.invalidOption("--rows must be all, train or sample (got \(rows))")
        }
        if phases && rows == "sample" { throw CharRNNError.invalidOption("--phases times the training rows; --rows sample has none") }
        if let only {
            // Counted within --rows: the CPU and GPU tables have different training rows, so
            // "--rows sample --only 2" names the same row on both.
            let chosen = configs.filter { rows == "all" || $0.kind.rawValue == rows }
            guard only >= 1 && only <= chosen.count else {
                throw CharRNNError.invalidOption("--only must be between 1 and \(chosen.count)")
            }
            let r = try Benchmark.run(chosen[only - 1], seconds: seconds, text: ids,
                                      device: try device.open(precision: precision) as? CUDADevice, phases: phases)
            Terminal.write(json(r) + "\n")
            return
        }
        if let threadsSweep {
            guard !gpu else { throw CharRNNError.invalidOption("--threads-sweep measures the CPU; leave out --device") }
            return try sweep(threadsSweep, configs)
        }
        if gpu { return try deviceTable(configs) }
        let ceiling = Benchmark.blasCeiling(threads: threads)
        Terminal.write("BLAS ceiling (2048x2048 sgemm, \(threads) thread\(threads == 1 ? "" : "s")): \(fmt(ceiling, 1)) GFLOP/s"
                       + " (\(BLAS.libraryDescription); per-step products: \(BLAS.packedKernelDescription) kernel; weight gradients: "
                       + (SharedPanelProduct.enabled ? "shared panels" : "BLAS") + ")\n\n")
        Terminal.write(pad("config", 34) + pad("thr", 4) + lpad("chars/s", 10) + lpad("ms/step", 9) + lpad("RSS MB", 8)
                       + lpad("act MB", 8) + lpad("GFLOP/s", 9) + lpad("% BLAS", 8) + "\n")
        var phaseLines: [String] = []
        for (i, c) in configs.enumerated() where rows == "all" || c.kind.rawValue == rows {
            guard let num = try measure(index: i + 1, threads: threads, name: c.name) else { continue }
            let act = num("activation_mb")
            Terminal.write(pad(c.name, 34) + pad("\(threads)", 4) + lpad(fmt(num("chars_per_sec"), 0), 10)
                           + lpad(fmt(num("ms_per_step"), 2), 9) + lpad(fmt(num("peak_rss_mb"), 0), 8)
                           + lpad(act > 0 ? fmt(act, 0) : "-", 8) + lpad(fmt(num("achieved_gflops"), 1), 9)
                           + lpad(fmt(100 * num("achieved_gflops") / ceiling, 1), 8) + "\n")
            if phases && c.kind == .train { phaseLines.append(pad(c.name, 34) + phaseColumns(threads, num)) }
        }
        if !phaseLines.isEmpty {
            Terminal.write("\nms per training step by phase (share of the step)\n" + pad("config", 34) + phaseHeader())
            phaseLines.forEach { Terminal.write($0) }
        }
    }

    /// The header of phaseColumns' table (without a threads column: a GPU's).
    private func phaseHeader(threads: Bool = true) -> String {
        (threads ? pad("thr", 4) : "") + StepPhases.Phase.allCases.map { lpad($0.name, 15) }.joined() + lpad("total", 9) + "\n"
    }

    /// One row's milliseconds per step in each phase, from its JSON line, with each phase's share.
    private func phaseColumns(_ threads: Int?, _ num: (String) -> Double) -> String {
        let ms = StepPhases.Phase.allCases.map { num(phaseKey($0)) }, total = ms.reduce(0, +)
        return (threads.map { pad("\($0)", 4) } ?? "")
            + ms.map { lpad(fmt($0, 2) + " (" + fmt(100 * $0 / total, 0) + "%)", 15) }.joined() + lpad(fmt(total, 2), 9) + "\n"
    }

    private func phaseKey(_ phase: StepPhases.Phase) -> String { "phase_\(phase)_ms" }

    /// The rows on a GPU: chars/s, time per step (per character for sampling) and charrnn's peak device memory.
    private func deviceTable(_ configs: [BenchmarkConfig]) throws {
        guard let opened = try device.open(precision: precision) else { return }
        Terminal.write("device: \(opened.name), \(precision)\n\n")
        Terminal.write(pad("config", 34) + lpad("chars/s", 11) + lpad("ms/step", 9) + lpad("GPU MB", 8) + lpad("TFLOP/s", 9)
                       + lpad("loss", 8) + "\n")
        var phaseLines: [String] = [], operationBlocks: [String] = []
        for (i, c) in configs.enumerated() where rows == "all" || c.kind.rawValue == rows {
            guard let row = try measureRow(index: i + 1, threads: threads.count, name: c.name) else { continue }
            let num = row.number
            Terminal.write(pad(c.name, 34) + lpad(fmt(num("chars_per_sec"), 0), 11) + lpad(fmt(num("ms_per_step"), 3), 9)
                           + lpad(fmt(num("peak_device_mb"), 0), 8) + lpad(fmt(num("achieved_gflops") / 1000, 2), 9)
                           + lpad(fmt(num("final_loss"), 3), 8) + "\n")
            if phases && c.kind == .train {
                phaseLines.append(pad(c.name, 34) + phaseColumns(nil, num))
                operationBlocks.append(operationTable(c.name, row.operations, stepMilliseconds: num("ms_per_step")))
            }
        }
        if !phaseLines.isEmpty {
            Terminal.write("\nGPU ms per training step by phase (share of the step), launched operation by operation\n"
                           + pad("config", 34) + phaseHeader(threads: false))
            phaseLines.forEach { Terminal.write($0) }
            Terminal.write("\nGPU time per training step by operation (products: C[m,n] = A[m,k] B[k,n] row-major, "
                           + "N or T: A, B as stored or transposed)\n" + operationBlocks.joined())
        }
    }

    /// One row's operations, the costliest first (those under 0.5% of the step summed in one line), and
    /// how much of the step's time no operation accounts for (the GPU waiting for the host).
    private func operationTable(_ name: String, _ operations: [[String: Any]], stepMilliseconds: Double) -> String {
        func value(_ o: [String: Any], _ k: String) -> Double { (o[k] as? NSNumber)?.doubleValue ?? .nan }
        var text = name + "\n  " + pad("operation", 40) + lpad("calls", 8) + lpad("ms", 10) + lpad("share", 8)
            + lpad("us/call", 10) + lpad("TFLOP/s", 9) + "\n"
        var rest = (calls: 0.0, ms: 0.0), total = 0.0
        for o in operations {
            let calls = value(o, "calls"), ms = value(o, "ms"), gflop = value(o, "gflop")
            total += ms
            guard ms >= 0.005 * stepMilliseconds else { rest.calls += calls; rest.ms += ms; continue }
            text += "  " + pad(o["name"] as? String ?? "?", 40) + lpad(fmt(calls, 0), 8) + lpad(fmt(ms, 3), 10)
                + lpad(fmt(100 * ms / stepMilliseconds, 1) + "%", 8) + lpad(fmt(1000 * ms / calls, 1), 10)
                + lpad(gflop > 0 ? fmt(gflop * calls / ms, 1) : "", 9) + "\n"
        }
        if rest.calls > 0 {
            text += "  " + pad("the others", 40) + lpad(fmt(rest.calls, 0), 8) + lpad(fmt(rest.ms, 3), 10)
                + lpad(fmt(100 * rest.ms / stepMilliseconds, 1) + "%", 8) + "\n"
        }
        return text + "  " + pad("no operation (the GPU waiting for the host)", 58)
            + lpad(fmt(100 * max(0, stepMilliseconds - total) / stepMilliseconds, 1) + "%", 8) + "\n"
    }

    /// Every row at each thread count: chars/s, and the speed-up over one thread where 1 is in the list.
    /// A row that is slower at a count than at a smaller one is marked.
    private func sweep(_ list: String, _ configs: [BenchmarkConfig]) throws -> Void {
        let counts = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 != nil }) else {
            throw CharRNNError.invalidOption("--threads-sweep takes thread counts separated by commas, e.g. 1,2,4 (got \(list))")
        }
        let sorted = Array(Set(counts.compactMap { $0 })).sorted()
        for t in sorted { try BLAS.checkThreads(t) }
        Terminal.write("chars/s by thread count (cores this process may use: \(CPUCount.usable))\n")
        Terminal.write(pad("config", 34) + sorted.map { lpad("\($0) thr", 10) }.joined() + lpad("best", 6) + "\n")
        var phaseBlocks: [String] = []
        for (i, c) in configs.enumerated() where rows == "all" || c.kind.rawValue == rows {
            var rates: [Double] = []
            var phaseBlock = c.name + "\n  " + phaseHeader()
            for t in sorted {
                let num = try measure(index: i + 1, threads: t, name: nil)
                rates.append(num?("chars_per_sec") ?? .nan)
                if let num, phases { phaseBlock += "  " + phaseColumns(t, num) }
            }
            if phases && c.kind == .train { phaseBlocks.append(phaseBlock) }
            let best = rates.indices.max { rates[$0].isNaN || rates[$0] < rates[$1] } ?? 0
            let regressed = rates.indices.dropFirst().contains { k in rates[..<k].contains { $0 > rates[k] } }
            var line = pad(c.name, 34) + rates.map { lpad(fmt($0, 0), 10) }.joined() + lpad("\(sorted[best])", 6)
            if let one = sorted.firstIndex(of: 1), rates[one] > 0 {
                line += "   x" + rates.map { fmt($0 / rates[one], 2) }.joined(separator: " x")
            }
            Terminal.write(line + (regressed ? "   (slower with more threads)" : "") + "\n")
        }
        if !phaseBlocks.isEmpty {
            // The same runs, phase by phase: which part of a step stops scaling.
            Terminal.write("\nms per training step by phase (share of the step)\n" + phaseBlocks.joined())
        }
    }

    /// One row in its own process; nil (after printing why, when `name` is given) if it failed.
    private func measure(index: Int, threads: Int, name: String?) throws -> ((String) -> Double)? {
        try measureRow(index: index, threads: threads, name: name)?.number
    }

    /// The same, with the row's operations (GPU --phases).
    private func measureRow(index: Int, threads: Int, name: String?)
        throws -> (number: (String) -> Double, operations: [[String: Any]])? {
        let line = try child(index: index, threads: threads)
        guard let data = line.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            if let name { Terminal.write(pad(name, 34) + "failed: \(line)\n") }
            return nil
        }
        return ({ (k: String) in (obj[k] as? NSNumber)?.doubleValue ?? .nan }, obj["operations"] as? [[String: Any]] ?? [])
    }

    private func child(index: Int, threads: Int) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].contains("/")
                              ? CommandLine.arguments[0] : "/proc/self/exe").resolvingSymlinksInPath()
        if !CommandLine.arguments[0].contains("/") {
            p.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        }
        var args = ["bench", "--only", "\(index)", "--threads", "\(threads)", "--seconds", "\(seconds)", "--device", device.description, "--precision", precision.rawValue]
        if let text { args += ["--text", text] }
        args += ["--split", split] + (batch.map { ["--batch", "\($0)"] } ?? []) + (phases ? ["--phases"] : [])
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters()
            .split(separator: "\n").last.map(String.init) ?? ""
    }

    private func json(_ r: BenchmarkResult) -> String {
        let c = r.config
        var fields: [String] = [
            "\"bench\":\"\(c.kind.rawValue)\"", "\"config\":\"\(c.name)\"", "\"cell\":\"\(c.cell.rawValue)\"",
            "\"layers\":\(c.layers)", "\"hidden\":\(c.hidden)", "\"embed\":\(c.embed)", "\"batch\":\(c.batch)",
            "\"seq\":\(c.seq)", "\"threads\":\(c.threads)",
            "\"chars_per_sec\":\(fmt(r.charactersPerSecond, 1))", "\"ms_per_step\":\(fmt(r.millisecondsPerStep, 4))",
            "\"achieved_gflops\":\(fmt(r.gflops, 3))", "\"peak_rss_mb\":\(fmt(Double(r.peakRSSBytes) / 1_048_576, 1))",
            "\"activation_mb\":\(fmt(Double(r.activationBytes) / 1_048_576, 1))",
        ]
        if let l = r.finalLoss { fields.append("\"final_loss\":\(fmt(l, 5))") }
        if let d = r.peakDeviceBytes { fields.append("\"peak_device_mb\":\(fmt(Double(d) / 1_048_576, 1))") }
        for (phase, ms) in (r.phaseMilliseconds ?? [:]).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            fields.append("\"\(phaseKey(phase))\":\(fmt(ms, 4))")
        }
        if let operations = r.operations {
            let list = operations.map {
                "{\"name\":\"\($0.name)\",\"calls\":\(fmt($0.callsPerStep, 3)),\"ms\":\(fmt($0.millisecondsPerStep, 5)),"
                    + "\"gflop\":\(fmt($0.flopsPerCall / 1e9, 6))}"
            }
            fields.append("\"operations\":[" + list.joined(separator: ",") + "]")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
}
