/// The one place a recurrent cell is registered. A cell is this enum's case with its properties and
/// the three switches below (its CPU layer, its GPU layer, its CUDA source); its own file, Cells/<Cell>.swift
/// (the CPU layer, then the CUDA kernels with the fused inference step, the GPU layer and the launchers);
/// and its C kernels (a source file in Sources/CCharRNNKernels/ and their declarations in
/// include/charrnn_kernels.h): four files.

/// The recurrent cell, named as in PyTorch (nn.LSTM, nn.GRU, nn.RNN with nonlinearity tanh or relu).
public enum CellKind: String, Codable, Sendable, CaseIterable {
    case lstm
    case gru
    case rnnTanh = "rnn_tanh"
    case rnnRelu = "rnn_relu"

    /// Gate blocks in the fused weight: 4 (i f g o), 3 (r z n), 1.
    public var gateCount: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh, .rnnRelu: return 1
        }
    }

    /// Hidden-state tensors per layer: LSTM keeps h and c.
    public var stateCount: Int { self == .lstm ? 2 : 1 }

    /// Values per hidden unit a layer keeps at each step for its backward pass, beside h: the LSTM's
    /// four gates and c, the GRU's three gates, their input parts and r's product, the RNN's
    /// pre-activation. The memory estimate and the benchmark's activation column read it.
    var keptPerStep: Int {
        switch self {
        case .lstm: return 5
        case .gru: return 6
        case .rnnTanh, .rnnRelu: return 1
        }
    }

    /// The names the command line takes for each cell, PyTorch's first.
    public static let names: [String: CellKind] = [
        "lstm": .lstm, "gru": .gru, "rnn": .rnnTanh, "rnn_tanh": .rnnTanh, "rnn-tanh": .rnnTanh, "tanh": .rnnTanh,
        "rnn_relu": .rnnRelu, "rnn-relu": .rnnRelu, "relu": .rnnRelu,
    ]
    /// The names --help shows.
    public static let shownNames = ["lstm", "gru", "rnn", "rnn-relu"]
}

extension CellKind {
    /// The CPU's layer of this cell, reading its weights from `layout` (`suffix` "_reverse" is the
    /// reverse direction of a bidirectional layer, PyTorch's names).
    func makeLayer(inputSize: Int, hidden: Int, layout: ParameterLayout, layer: Int, suffix: String = "") -> RecurrentLayer {
        switch self {
        case .lstm: return LSTMLayer(inputSize: inputSize, hidden: hidden, layout: layout, layer: layer, suffix: suffix)
        case .gru: return GRULayer(inputSize: inputSize, hidden: hidden, layout: layout, layer: layer, suffix: suffix)
        case .rnnTanh, .rnnRelu:
            return SimpleRNNLayer(inputSize: inputSize, hidden: hidden, relu: self == .rnnRelu, layout: layout, layer: layer, suffix: suffix)
        }
    }

    /// Its layer on a device; every layer of one model gets the same `sharedPre`.
    func makeDeviceLayer(_ device: ComputeDevice, inputSize: Int, hidden: Int, layout: ParameterLayout, layer: Int,
                         suffix: String = "", sharedPre: DeviceBuffer) throws -> DeviceRecurrentLayer {
        switch self {
        case .lstm:
            return try DeviceLSTMLayer(device, inputSize: inputSize, hidden: hidden, layout: layout, layer: layer, suffix: suffix,
                                       sharedPre: sharedPre)
        case .gru:
            return try DeviceGRULayer(device, inputSize: inputSize, hidden: hidden, layout: layout, layer: layer, suffix: suffix,
                                      sharedPre: sharedPre)
        case .rnnTanh, .rnnRelu:
            return try DeviceRNNLayer(device, inputSize: inputSize, hidden: hidden, relu: self == .rnnRelu, layout: layout,
                                      layer: layer, suffix: suffix, sharedPre: sharedPre)
        }
    }

    /// Its part of the CUDA module.
    var kernels: KernelSource {
        switch self {
        case .lstm: return .lstm
        case .gru: return .gru
        case .rnnTanh, .rnnRelu: return .rnn
        }
    }
}
