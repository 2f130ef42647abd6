import Foundation
import SystemPackage

/// How many threads charrnn uses when not told: the cores this process may run on. On Linux that is
/// the physical cores among the CPUs of its affinity mask (taskset, cpusets), and no more than any
/// cgroup CPU quota allows (a container given 2.5 CPUs on a 64-core host gets 3); on Apple silicon the
/// performance cores. The two hardware threads of a core share its vector units, which one thread of
/// charrnn's kernels keeps busy, so a second thread per core only adds work to share (as PyTorch,
/// which also takes one thread per physical core).
package enum CPUCount {
    package static let usable: Int = {
        var n = ProcessInfo.processInfo.activeProcessorCount
        #if os(Linux)
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
           let allowed = cpuList(String(line.dropFirst("Cpus_allowed_list:".count))) {
            n = min(n, physicalCores(of: allowed) ?? allowed.count)
        }
        if let quota = cgroupQuota() { n = min(n, quota) }
        #elseif canImport(Darwin)
        var performance: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if sysctlbyname("hw.perflevel0.logicalcpu", &performance, &size, nil, 0) == 0, performance > 0 {
            n = min(n, Int(performance))
        }
        #endif
        return max(1, min(n, BLAS.maximumThreads))
    }()

    /// The CPUs of a list such as "0-3,8,10-11" (Linux's cpuset format), in the list's order.
    package static func cpuList(_ list: String) -> [Int]? {
        var cpus: [Int] = []
        for part in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch ends.count {
            case 1:
                guard let a = ends[0], a >= 0 else { return nil }
                cpus.append(a)
            case 2:
                guard let a = ends[0], let b = ends[1], a >= 0, b >= a, b - a < 1 << 16 else { return nil }
                cpus.append(contentsOf: a...b)
            default: return nil
            }
        }
        return cpus.isEmpty ? nil : cpus
    }

    /// The machine's physical cores, whatever this process's affinity (the cores that the ranks of a
    /// data-parallel run on this machine share), within any cgroup quota.
    package static let machine: Int = {
        let online = ProcessInfo.processInfo.processorCount
        var n = physicalCores(of: Array(0..<online)) ?? online
        if let quota = cgroupQuota() { n = min(n, quota) }
        return max(1, min(n, BLAS.maximumThreads))
    }()

    /// How many physical cores the CPUs `cpus` belong to: CPUs that are hardware threads of one core
    /// (the same `topology/thread_siblings_list` under `sysfs`) count once. nil when a CPU's topology
    /// cannot be read.
    package static func physicalCores(of cpus: [Int], sysfs: FilePath = "/sys/devices/system/cpu") -> Int? {
        var cores = Set<[Int]>()
        for cpu in Set(cpus) {
            let path = sysfs.appending("cpu\(cpu)").appending("topology").appending("thread_siblings_list")
            guard let text = try? String(contentsOfFile: path.string, encoding: .utf8),
                  let siblings = cpuList(text) else { return nil }
            cores.insert(siblings.sorted())
        }
        return cores.isEmpty ? nil : cores.count
    }

    /// CPUs a quota allows: cgroup v2's cpu.max ("200000 100000", or "max 100000") or v1's quota and
    /// period in microseconds (quota -1: none), rounded up.
    package static func quotaCPUs(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return (quota + period - 1) / period
    }

    package static func parseCPUMax(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]) else { return nil }
        return quotaCPUs(quota: quota, period: period)
    }

    /// The tightest quota on this process's cgroup and its ancestors (v2), or the v1 cpu controller's.
    /// `cgroups` is /proc/self/cgroup's text; `root` where the hierarchies are mounted.
    package static func cgroupQuota(cgroups: FilePath = "/proc/self/cgroup", root: FilePath = "/sys/fs/cgroup") -> Int? {
        func read(_ path: FilePath) -> String? { try? String(contentsOfFile: path.string, encoding: .utf8) }
        func number(_ path: FilePath) -> Int? { read(path).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        guard let groups = read(cgroups) else { return nil }
        var best: Int? = nil
        func consider(_ n: Int?) { if let n { best = min(best ?? n, n) } }
        for line in groups.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            var group = FilePath(String(fields[2]))
            if fields[1].isEmpty {
                // v2: the file sits in the group's own folder and in each ancestor's.
                while true {
                    consider(read(root.pushing(group.removingRoot()).appending("cpu.max")).flatMap(parseCPUMax))
                    if group.removingRoot().isEmpty { break }
                    group.removeLastComponent()
                }
            } else if fields[1].split(separator: ",").contains("cpu") {
                for controller in [String(fields[1]), "cpu,cpuacct", "cpu"] {
                    let folder = root.appending(controller).pushing(group.removingRoot())
                    if let q = number(folder.appending("cpu.cfs_quota_us")), let p = number(folder.appending("cpu.cfs_period_us")) {
                        consider(quotaCPUs(quota: q, period: p))
                        break
                    }
                }
            }
        }
        return best
    }
}
