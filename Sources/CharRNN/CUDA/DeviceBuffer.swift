/// A growable array in a device's memory (the twin of FloatBuffer): workspaces grow with `reserve` and
/// are never shrunk, so a training loop allocates nothing per step once the first step has run.
package final class DeviceBuffer {
    package let device: ComputeDevice
    package private(set) var pointer: DevicePointer
    /// Capacity in elements of `elementSize` bytes.
    package private(set) var count: Int
    private let elementSize: Int

    package init(_ device: ComputeDevice, count: Int, elementSize: Int = MemoryLayout<Float>.size) throws {
        self.device = device
        self.elementSize = elementSize
        self.count = count
        pointer = try device.allocate(bytes: max(1, count) * elementSize)
    }

    deinit { device.free(pointer) }

    /// Makes room for at least `n` elements; contents are undefined after growing.
    package func reserve(_ n: Int) throws {
        guard n > count else { return }
        device.free(pointer)
        pointer = try device.allocate(bytes: n * elementSize)
        count = n
    }

    /// The address of element `i` (floats, or elements of this buffer's size).
    package subscript(offset i: Int) -> DevicePointer {
        DevicePointer(address: pointer.address &+ UInt64(i * elementSize))
    }

    package func zero(_ n: Int? = nil) throws { try device.zero(pointer, bytes: (n ?? count) * elementSize) }

    /// The identity [size, size]: one-hot input rows, looked up as an embedding table.
    static func identity(_ device: ComputeDevice, size: Int) throws -> DeviceBuffer {
        let table = try DeviceBuffer(device, count: size * size)
        var eye = [Float](repeating: 0, count: size * size)
        for v in 0..<size { eye[v * size + v] = 1 }
        try device.upload(eye, to: table.pointer)
        return table
    }
}
