import Foundation

/// Draws the next character of B streams from the logits on a device (KernelSource.sampling), the twin
/// of Sampler.choose. A small vocabulary takes a warp per stream (`sample_next`, one launch; with top-k its
/// lane 0 alone); a large one, where a thread would walk thousands of logits several times (a few
/// hundred microseconds per character with top-k), takes a thread per slice of 256 logits in a chain
/// of small kernels. Both give the same ids bit for bit, so which one runs changes no text.
package final class DeviceSampler {
    package let device: ComputeDevice
    /// Logits per slice (CRN_SAMPLE_SLICE in the kernels).
    package static let slice = 256
    /// Vocabularies larger than this draw by slices. Below it, one launch of a warp per stream costs
    /// less than the chain's launches. 1,024 unless CHARRNN_SAMPLE_SLICED_ABOVE says otherwise (to compare
    /// the two ways on a GPU).
    package var slicedAbove = ProcessInfo.processInfo.environment["CHARRNN_SAMPLE_SLICED_ABOVE"].flatMap { Int($0) } ?? 1024
    private let select: DeviceBuffer, partMax: DeviceBuffer, partMass: DeviceBuffer, partCounts: DeviceBuffer
    /// The nucleus's walk by slices: per stream [B, 4], and each slice's counts and masses per byte.
    private let nucleus: DeviceBuffer, nucleusCounts: DeviceBuffer, nucleusMass: DeviceBuffer

    package init(device: ComputeDevice) throws {
        self.device = device
        select = try DeviceBuffer(device, count: 0)
        partMax = try DeviceBuffer(device, count: 0)
        partMass = try DeviceBuffer(device, count: 0)
        partCounts = try DeviceBuffer(device, count: 0)
        nucleus = try DeviceBuffer(device, count: 0)
        nucleusCounts = try DeviceBuffer(device, count: 0)
        nucleusMass = try DeviceBuffer(device, count: 0)
    }

    package func usesSlices(vocabulary V: Int) -> Bool { V > slicedAbove }

    /// Makes room for B streams over V characters, before a capture (which may not allocate).
    package func reserve(streams B: Int, vocabulary V: Int) throws {
        guard usesSlices(vocabulary: V) else { return }
        let P = (V + Self.slice - 1) / Self.slice
        try select.reserve(B * 4)
        try partMax.reserve(B * P)
        try partMass.reserve(B * P)
        try partCounts.reserve(B * P * 256)
        try nucleus.reserve(B * 4)
        try nucleusCounts.reserve(B * P * 256)
        try nucleusMass.reserve(B * P * 256)
    }

    /// Queues the draw: ids[b] (and history[b], when given) from logits [B, V], with the seed and the draw
    /// counter's base read from `draws` and `offset` added to the base. topP 1 keeps every character top-k
    /// keeps.
    package func queue(streams B: Int, vocabulary V: Int, logits: DevicePointer, inverseTemperature: Float, topK: Int,
                      topP: Float = 1, greedy: Bool, draws: DevicePointer, offset: Int, ids: DevicePointer,
                      history: DevicePointer?) throws {
        guard usesSlices(vocabulary: V) else {
            try device.sampleNext(threads: B * 32, B: B, V: V, logits: logits, invTemperature: inverseTemperature, topK: topK,
                                  topP: topP, greedy: greedy ? 1 : 0, draws: draws, offset: offset, ids: ids,
                                  history: history)
            return
        }
        try reserve(streams: B, vocabulary: V)
        let slices = B * ((V + Self.slice - 1) / Self.slice)
        var ranked = !greedy && topK > 0 && topK < V
        try device.sampleSliceMax(threads: slices, B: B, V: V, logits: logits, partMax: partMax.pointer)
        try device.sampleSelectBegin(threads: B, B: B, V: V, topK: ranked ? topK : 0, partMax: partMax.pointer,
                                     select: select.pointer)
        if ranked {
            for shift in stride(from: 24, through: 0, by: -8) {
                try device.sampleRadixCount(threads: slices, B: B, V: V, logits: logits, select: select.pointer, shift: shift,
                                            partCounts: partCounts.pointer)
                try device.sampleRadixChoose(threads: B, B: B, V: V, partCounts: partCounts.pointer, shift: shift,
                                             select: select.pointer)
            }
        }
        func masses() throws {
            try device.sampleSliceMass(threads: slices, B: B, V: V, logits: logits, invTemperature: inverseTemperature,
                                       select: select.pointer, ranked: ranked ? 1 : 0, partCounts: partCounts.pointer,
                                       partMass: partMass.pointer)
        }
        if !greedy {
            try masses()
            if topP < 1 {
                try device.sampleNucleusBegin(threads: B, B: B, V: V, topP: topP, partMass: partMass.pointer,
                                              select: select.pointer, nucleus: nucleus.pointer)
                for shift in stride(from: 24, through: 0, by: -8) {
                    try device.sampleNucleusCount(threads: slices, B: B, V: V, logits: logits, invTemperature: inverseTemperature,
                                                  select: select.pointer, shift: shift,
                                                  partCounts: nucleusCounts.pointer, partHist: nucleusMass.pointer)
                    try device.sampleNucleusChoose(threads: B, B: B, V: V, partCounts: nucleusCounts.pointer,
                                                   partHist: nucleusMass.pointer, shift: shift,
                                                   invTemperature: inverseTemperature, select: select.pointer,
                                                   nucleus: nucleus.pointer, rankedCounts: partCounts.pointer)
                }
                ranked = true
                try masses()
            }
        }
        try device.samplePick(threads: B, B: B, V: V, logits: logits, invTemperature: inverseTemperature, greedy: greedy ? 1 : 0,
                              select: select.pointer, ranked: ranked ? 1 : 0, partCounts: partCounts.pointer,
                              partMax: partMax.pointer, partMass: partMass.pointer, draws: draws, offset: offset,
                              ids: ids, history: history)
    }
}
