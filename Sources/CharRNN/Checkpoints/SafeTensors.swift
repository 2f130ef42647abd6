import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data. Only F32 is written or read here.
/// Every file written here also carries, under the metadata key "charrnn_crc32", the CRC-32 of each
/// tensor's bytes and of each metadata value ("@key"), verified on load, so bytes that changed on
/// disk are an error instead of a different model (PyTorch ignores the extra metadata).
package enum SafeTensors {
    static let checksumKey = "charrnn_crc32"

    package struct Tensor: Equatable {
        package var name: String
        package var shape: [Int]
        package var values: [Float]
        package init(name: String, shape: [Int], values: [Float]) {
            self.name = name; self.shape = shape; self.values = values
        }
    }

    /// A metadata value: the value as JSON with sorted keys.
    package static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    package static func encode(_ tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            let n = t.values.count * 4
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + n]] as [String: Any]
            offset += n
        }
        var sums: [String: String] = [:]
        for t in tensors { sums[t.name] = t.values.withUnsafeBytes { CRC32.hex(CRC32.checksum($0)) } }
        for (k, v) in metadata { sums["@" + k] = CRC32.hex(CRC32.checksum(Array(v.utf8))) }
        var metadata = metadata
        metadata[checksumKey] = json(sums)
        header["__metadata__"] = metadata
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

    package struct File {
        package var tensors: [String: Tensor]
        package var metadata: [String: String]
    }

    /// Parses a safetensors file; `path` is only used in error messages. Checksums are verified when the
    /// file has them (files from PyTorch or an earlier charrnn have none).
    package static func decode(_ bytes: [UInt8], path: String) throws -> File {
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
                  let rawShape = d["shape"] as? [Any], let rawOffsets = d["data_offsets"] as? [Any], rawOffsets.count == 2
            else { throw bad("tensor '\(name)' has a malformed header entry") }
            let shape = rawShape.compactMap(integer), offs = rawOffsets.compactMap(integer)
            guard shape.count == rawShape.count, offs.count == 2 else {
                throw bad("tensor '\(name)' has a shape or byte range that is not whole numbers of a sensible size")
            }
            guard dtype == "F32" else { throw bad("tensor '\(name)' is \(dtype), only F32 is supported") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor '\(name)' has a negative dimension") }
            // Checked: a crafted shape such as [2^62, 2^62] must be an error, not an overflow.
            var count = 1
            for dim in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dim)
                guard !overflow, product <= dataCount / 4 else {
                    throw bad("tensor '\(name)' has shape \(shape), larger than the file holds")
                }
                count = product
            }
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
        try verifyChecksums(tensors: tensors, metadata: &metadata, bad: bad)
        return File(tensors: tensors, metadata: metadata)
    }

    private static func verifyChecksums(tensors: [String: Tensor], metadata: inout [String: String],
                                        bad: (String) -> CharRNNError) throws {
        guard let json = metadata.removeValue(forKey: checksumKey) else { return }
        guard let sums = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: String] else {
            throw bad("its checksums are not readable (the file was damaged)")
        }
        let damaged = " does not match its checksum (the file was changed or damaged after it was written)"
        for (name, t) in tensors {
            guard let want = sums[name], want == t.values.withUnsafeBytes({ CRC32.hex(CRC32.checksum($0)) }) else {
                throw bad("tensor '\(name)'\(damaged)")
            }
        }
        for (key, value) in metadata {
            guard let want = sums["@" + key], want == CRC32.hex(CRC32.checksum(Array(value.utf8))) else {
                throw bad("metadata '\(key)'\(damaged)")
            }
        }
        guard sums.count == tensors.count + metadata.count else { throw bad("a tensor or metadata entry is missing") }
    }

    /// A JSON number that is a whole number an Int holds exactly; nil for anything else.
    private static func integer(_ value: Any) -> Int? {
        guard let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9.0e18 else { return nil }
        return Int(n.int64Value)
    }
}
