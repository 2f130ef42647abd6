import CCharRNNKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory a model needs, from the activation formula in CharRNNModel, in overflow-checked
/// arithmetic, so a size a user or a file gives is refused with a sentence before anything is allocated.
package enum MemoryEstimate {
    /// Bytes to train `config` on T steps of B streams: parameters, gradients and two optimizer moments,
    /// the forward activations, and backward workspaces of the same size. nil when it overflows.
    package static func training(_ config: ModelConfig, T: Int, B: Int) -> Int? {
        guard let parameters = parameterCount(config), let activations = activationFloats(config, T: T, B: B) else { return nil }
        return sum([product([4, parameters]), product([2, activations])]).flatMap { product([4, $0]) }
    }

    /// Bytes to run `config` forward on T steps of B streams (sampling, evaluation, serving).
    package static func inference(_ config: ModelConfig, T: Int, B: Int) -> Int? {
        guard let parameters = parameterCount(config), let activations = activationFloats(config, T: T, B: B) else { return nil }
        return sum([product([2, parameters]), activations]).flatMap { product([4, $0]) }
    }

    /// Floats in the one parameter buffer.
    package static func parameterCount(_ c: ModelConfig) -> Int? {
        var terms: [Int?] = [product([c.vocabSize, c.embed]), product([c.vocabSize, c.hidden]), c.vocabSize]
        for l in 0..<c.layers {
            terms.append(sum([c.inputSize(layer: l), c.hidden, 2]).flatMap { product([c.cell.gateCount, c.hidden, $0]) })
        }
        return sum(terms)
    }

    /// Per layer: hidden states (T+1)*B*H, the cell's own activations, dropout masks; then the
    /// embedded inputs T*B*E, the logits T*B*V and layer 0's folded table V*G*H.
    static func activationFloats(_ c: ModelConfig, T: Int, B: Int) -> Int? {
        let cellFloats = c.cell.keptPerStep
        guard let states = sum([T, 1]) else { return nil }
        let perLayer = sum([product([states, B, c.hidden]), product([cellFloats + 1, T, B, c.hidden]),
                            c.dropout > 0 ? product([2, T, B, c.hidden]) : 0])
        return sum([perLayer.flatMap { product([c.layers, $0]) }, product([T, B, c.embed]), product([T, B, c.vocabSize]),
                    product([c.vocabSize, c.cell.gateCount, c.hidden])])
    }

    /// Refuses `bytes` (nil: beyond counting) when it is more than this machine's memory, or, for a run
    /// on `device`, more than the device has free (the host then holds little more than the parameters).
    package static func check(_ bytes: Int?, what: String, on device: ComputeDevice? = nil) throws {
        let available = physicalBytes
        guard let bytes else {
            throw CharRNNError.invalidOption("\(what) would need more memory than can be counted; choose smaller sizes")
        }
        if let device {
            if let free = device.memory?.free, bytes > free {
                throw CharRNNError.invalidOption("\(what) would need about \(describe(bytes)) of GPU memory and \(device.name) has "
                                                 + "\(describe(free)) free; choose smaller sizes")
            }
            return
        }
        if let available, bytes > available {
            throw CharRNNError.invalidOption(
                "\(what) would need about \(describe(bytes)) of memory and this machine has \(describe(available)); choose smaller sizes")
        }
    }

    /// Physical memory, or nil where the system does not say.
    package static var physicalBytes: Int? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return nil }
        return product([pages, size])
    }

    /// Hands memory that was freed back to the system (crn_return_freed_memory).
    package static func returnFreedMemory() { crn_return_freed_memory() }

    package static func describe(_ bytes: Int) -> String {
        let gb = Double(bytes) / 1_073_741_824
        return gb >= 1 ? fmt(gb, 1) + " GB" : fmt(Double(bytes) / 1_048_576, 0) + " MB"
    }

    package static func product(_ xs: [Int]) -> Int? {
        var p = 1
        for x in xs {
            guard x >= 0 else { return nil }
            let (r, overflow) = p.multipliedReportingOverflow(by: x)
            if overflow { return nil }
            p = r
        }
        return p
    }

    package static func sum(_ xs: [Int?]) -> Int? {
        var s = 0
        for x in xs {
            guard let x else { return nil }
            let (r, overflow) = s.addingReportingOverflow(x)
            if overflow { return nil }
            s = r
        }
        return s
    }
}
