#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One of torch.optim's update rules on either device: its C kernel over a range of the flat
/// parameters on the CPU (Optimizer), its CUDA kernel on a GPU (DeviceOptimizer), twins with the same
/// arguments that read the same per-update scalars (UpdateScalars). An optimizer is such a type (a
/// file of Optimizers/ with its CUDA kernel), its C kernel and its case in OptimizerKind.
protocol UpdateRule: Sendable {
    /// Whether it keeps a second moment v beside m (Adam's).
    static var keepsSecondMoment: Bool { get }
    /// Its part of the CUDA module.
    static var kernels: KernelSource { get }
    /// Its hyperparameters from the optimizer's.
    init(_ optimizer: Optimizer)
    /// The kernel it runs (the device checks name their rows by it).
    var kernelName: String { get }
    /// n parameters on the CPU, on the calling thread; v is nil unless it keeps a second moment.
    func update(count n: Int, p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                v: UnsafeMutablePointer<Float>?, scalars s: UnsafePointer<Float>)
    /// n parameters on a device, queued; `s` in device memory, so a captured step reads each update's own.
    func queue(on device: ComputeDevice, count n: Int, p: DevicePointer, g: DevicePointer, m: DevicePointer, v: DevicePointer,
               scalars s: DevicePointer) throws
}

/// The values of one update that both devices' kernels read from memory (`s`): [lr, lr / (1 - beta1^t),
/// sqrt(1 - beta2^t), AdamW's shrink 1 - lr * weight_decay (1 otherwise), 1 on the first update (else 0)],
/// for update number t (1 for the first). Computed on the host from the step number, so no scalar
/// travels back from a GPU.
struct UpdateScalars: Sendable {
    let beta1: Float, beta2: Float
    /// AdamW's decoupled weight decay; nil for the other rules.
    let decoupledDecay: Float?

    init(_ o: Optimizer) {
        beta1 = o.beta1; beta2 = o.beta2; decoupledDecay = o.kind == .adamw ? o.weightDecay : nil
    }

    func values(step: Int, learningRate lr: Float) -> [Float] {
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let shrink: Float = decoupledDecay.map { 1 - lr * $0 } ?? 1
        return [lr, lr / bc1, bc2.squareRoot(), shrink, step == 1 ? 1 : 0]
    }
}
