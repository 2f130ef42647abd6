/// One named tensor inside the flat parameter buffer.
package struct TensorSlot: Sendable, Equatable {
    package let name: String
    package let shape: [Int]
    package let offset: Int
    package var count: Int { shape.reduce(1, *) }
}

/// Where each tensor lives in the one flat parameter buffer (and the gradient buffer beside it).
/// Names, shapes and order are PyTorch's state_dict for Embedding -> nn.LSTM/GRU/RNN -> Linear,
/// so a checkpoint loads into that module unchanged.
package struct ParameterLayout: Sendable {
    package let slots: [TensorSlot]
    package let count: Int

    package init(_ c: ModelConfig) {
        var slots: [TensorSlot] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) {
            slots.append(TensorSlot(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        if c.embed > 0 { add("embedding.weight", [c.vocabSize, c.embed]) }
        let gh = c.cell.gateCount * c.hidden
        for l in 0..<c.layers {
            add("rnn.weight_ih_l\(l)", [gh, c.inputSize(layer: l)])
            add("rnn.weight_hh_l\(l)", [gh, c.hidden])
            add("rnn.bias_ih_l\(l)", [gh])
            add("rnn.bias_hh_l\(l)", [gh])
        }
        add("decoder.weight", [c.vocabSize, c.hidden])
        add("decoder.bias", [c.vocabSize])
        self.slots = slots
        self.count = offset
    }

    /// A layout of the given tensors, in order.
    package init(slots named: [(String, [Int])]) {
        var slots: [TensorSlot] = []
        var offset = 0
        for (name, shape) in named {
            slots.append(TensorSlot(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        self.slots = slots
        self.count = offset
    }

    package subscript(name: String) -> TensorSlot? { slots.first { $0.name == name } }

    func offset(_ name: String) -> Int { self[name]!.offset }

    /// Where recurrent layer l's four tensors start (`suffix` "_reverse" for a backward direction): what
    /// the CPU layers and their device twins both read.
    func recurrentOffsets(layer l: Int, suffix: String = "") -> (wIh: Int, wHh: Int, bIh: Int, bHh: Int) {
        (offset("rnn.weight_ih_l\(l)\(suffix)"), offset("rnn.weight_hh_l\(l)\(suffix)"),
         offset("rnn.bias_ih_l\(l)\(suffix)"), offset("rnn.bias_hh_l\(l)\(suffix)"))
    }

    /// Every slot of `buffer` as a named tensor (names prefixed by `prefix`), for saving.
    package func tensors(of buffer: FloatBuffer, prefix: String = "") -> [SafeTensors.Tensor] {
        slots.map { s in
            SafeTensors.Tensor(name: prefix + s.name, shape: s.shape,
                               values: Array(UnsafeBufferPointer(start: buffer.pointer + s.offset, count: s.count)))
        }
    }

    /// Checks that each slot is present among saved tensors, of its shape and finite.
    package func check(_ tensors: [String: SafeTensors.Tensor], prefix: String = "", path: String) throws {
        for slot in slots {
            let name = prefix + slot.name
            guard let t = tensors[name] else { throw CharRNNError.badCheckpoint(path, "tensor '\(name)' is missing") }
            guard t.shape == slot.shape else {
                throw CharRNNError.badCheckpoint(path, "tensor '\(name)' has shape \(t.shape), expected \(slot.shape)")
            }
            guard t.values.allSatisfy({ $0.isFinite }) else {
                throw CharRNNError.badCheckpoint(path, "tensor '\(name)' holds NaN or infinity")
            }
        }
    }

    /// Fills `buffer` from saved tensors, after `check`.
    package func load(_ tensors: [String: SafeTensors.Tensor], into buffer: FloatBuffer, prefix: String = "",
                     path: String) throws {
        try check(tensors, prefix: prefix, path: path)
        for slot in slots {
            let t = tensors[prefix + slot.name]!
            t.values.withUnsafeBufferPointer { (buffer.pointer + slot.offset).update(from: $0.baseAddress!, count: slot.count) }
        }
    }
}
