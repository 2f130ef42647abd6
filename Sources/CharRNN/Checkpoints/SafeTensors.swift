import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. Only F32 is written or read here.
public enum SafeTensors {
    public struct Tensor: Equatable {
        public var name: String
        public var shape: [Int]
        public var values: [Float]
        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name; self.shape = shape; self.values = values
        }
    }

    /// A metadata value: the value as JSON with sorted keys.
    public static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    public static func encode(_ tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            let n = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + n]] as [String: Any]
            offset += n
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = Array((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data())
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for t in tensors {
            t.values.withUnsafeBufferPointer { buf in
                // Float32 little-endian: the in-memory layout on every platform Swift runs on here.
                out.append(contentsOf: UnsafeRawBufferPointer(buf))
            }
        }
        return out
    }

    public struct File {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    /// Parses a safetensors file; `path` is only used in error messages.
    public static func decode(_ bytes: [UInt8], path: String) throws -> File {
        func bad(_ why: String) -> CharRNNError { .badCheckpoint(path, why) }
        guard bytes.count >= 8 else { throw bad("the file is too short to be a safetensors file") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n > 1, n <= UInt64(bytes.count - 8), n < 100_000_000 else {
            throw bad("the header length \(n) does not fit the file (truncated, or not a safetensors file)")
        }
        let headerBytes = Data(bytes[8..<(8 + Int(n))])
        guard let obj = try? JSONSerialization.jsonObject(with: headerBytes), let header = obj as? [String: Any] else {
            throw bad("the header is not valid JSON")
        }
        let dataStart = 8 + Int(n)
        let dataCount = bytes.count - dataStart
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        var maxEnd = 0
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw bad("__metadata__ is not a map of strings") }
                metadata = m
                continue
            }
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = (d["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offs = (d["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offs.count == 2
            else { throw bad("tensor '\(name)' has a malformed header entry") }
            guard dtype == "F32" else { throw bad("tensor '\(name)' is \(dtype), only F32 is supported") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor '\(name)' has a negative dimension") }
            let count = shape.reduce(1, *)
            guard offs[0] >= 0, offs[1] >= offs[0], offs[1] - offs[0] == count * 4 else {
                throw bad("tensor '\(name)' has byte offsets that do not match its shape")
            }
            guard offs[1] <= dataCount else { throw bad("the file is truncated (tensor '\(name)' runs past its end)") }
            maxEnd = max(maxEnd, offs[1])
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(dataStart + offs[0])..<(dataStart + offs[1])]))
                }
            }
            tensors[name] = Tensor(name: name, shape: shape, values: values)
        }
        guard maxEnd == dataCount else { throw bad("the data section has \(dataCount - maxEnd) bytes no tensor covers") }
        return File(tensors: tensors, metadata: metadata)
    }
}
