#!/usr/bin/env python3
"""An adversarial pass over the charrnn CLI and server: hundreds of inputs a user or a file can give
(nonsense numbers, crafted and damaged files, non-regular files, protocol garbage, out-of-range JSON).

Each input is judged:
  trap     killed by a signal, or a backtrace / "Fatal error" on stderr
  long     still running after the time limit (a server, or endless output a user asked for), and
           stopped within a second by Ctrl-C (SIGINT)
  hang     still running after the time limit and not stopped by Ctrl-C within a second
  unclear  failed without exactly one "charrnn: error: ..." line on stderr (CLI),
           a 5xx, or a 4xx without the JSON error (server)
  refused  one clear error line (CLI) or a 4xx with the JSON error (server)
  ok       accepted and completed
Prints the counts per family and every input that was not refused or ok; exits 1 if there is any.

Usage: scripts/adversarial.py [path/to/charrnn]   (default .build/release/charrnn)
"""
import json, os, re, shutil, signal, stat, socket, subprocess, sys, tempfile, time, urllib.request, zlib
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build/release/charrnn"))
TIMEOUT = 30
results = defaultdict(Counter)
problems = []


def default_interrupt():
    """Ctrl-C as a terminal gives it, also when this script runs as a background job (which ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(args, timeout=TIMEOUT):
    """(exit code, stdout, stderr, stopped by Ctrl-C); a run past `timeout` gets SIGINT and one second."""
    p = subprocess.Popen([BIN] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=default_interrupt)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=1)
            return p.returncode, "", err.decode(errors="replace"), True
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return None, "", "", False


def judge_cli(family, args, **kw):
    code, out, err, interrupted = run(args, **kw)
    lines = [l for l in err.splitlines() if l.strip()]
    if code is None:
        verdict = "hang"
    elif interrupted:
        verdict = "long" if code in (0, 130, -signal.SIGINT) else "hang"
    elif code < 0 or re.search(r"Fatal error|Stack dump|backtrace|Illegal instruction|Segmentation", err):
        verdict = "trap"
    elif code == 0:
        verdict = "ok"
    elif len(lines) == 1 and lines[0].startswith("charrnn: error: "):
        verdict = "refused"
    else:
        verdict = "unclear"
    results[family][verdict] += 1
    if verdict not in ("ok", "refused", "long"):
        problems.append((family, verdict, " ".join(args)[:200], err.strip()[:300]))
    return verdict


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def safetensors(tensors, metadata):
    """tensors: list of (name, shape, raw bytes); shape and offsets written as given."""
    header, blob = {}, b""
    for name, shape, raw in tensors:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return len(h).to_bytes(8, "little") + h + blob


def read_safetensors(path):
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    return data, n, json.loads(data[8:8 + n])


def digest(folder):
    """Every file of a folder tree with its bytes, to tell whether a command changed anything."""
    out = {}
    for root, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            if n != ".lock" and os.path.isfile(p):
                out[os.path.relpath(p, folder)] = open(p, "rb").read()
    return out


def note(family, verdict, what, detail=""):
    """A verdict reached by a check of this script's own (a file compared, a reply timed)."""
    results[family][verdict] += 1
    if verdict not in ("ok", "refused", "long"):
        problems.append((family, verdict, what[:200], str(detail)[:300]))


def start_serve(args):
    """A `charrnn serve` on a free port: (process, port)."""
    proc = subprocess.Popen([BIN, "serve", "--port", "0"] + args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    line = proc.stderr.readline().decode()
    m = re.search(r":(\d+)/", line)
    if not m:
        proc.kill()
        raise RuntimeError("serve did not start: " + line)
    return proc, int(m.group(1))


def stop_serve(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http(port, method, path, body=None, timeout=20, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers=headers or {},
                                 data=body.encode() if isinstance(body, str) else body)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:
        return None, str(e).encode()


def rss_mb(pid):
    return int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0]) / 1024


def main():
    tmp = tempfile.mkdtemp(prefix="charrnn-adversarial-")
    os.chdir(tmp)
    corpus = write("text.txt", (open(os.path.join(ROOT, "..", "shared", "corpora", "tinyshakespeare.txt"), "rb").read()[:30000]
                                if os.path.exists(os.path.join(ROOT, "..", "shared", "corpora", "tinyshakespeare.txt"))
                                else b"to be or not to be, that is the question\n" * 800))
    small = ["--hidden", "16", "--embed", "8", "--seq-length", "16", "--batch-size", "4", "--threads", "1",
             "--sample-length", "5", "--eval-every", "2"]
    assert run(["train", corpus, "-o", "model", "--max-steps", "4"] + small)[0] == 0, "cannot train the base model"
    os.makedirs("names", exist_ok=True)
    write("names/A.txt", b"Abcab\nAbbac\nAcab\nAbba\nAaab\nAcca\nAbac\nAbca\nAaca\nAcba\n")
    write("names/B.txt", b"Bdebd\nBddeb\nBede\nBddb\nBbbd\nBeed\nBded\nBdeb\nBbeb\nBedb\n")
    assert run(["classify", "train", "names", "-o", "clf", "--epochs", "1", "--hidden", "8", "--embed", "4",
                "--val-fraction", "0.2", "--test-fraction", "0.2"])[0] == 0, "cannot train the classifier"

    if os.environ.get("CHARRNN_ADVERSARIAL_ONLY") == "second":  # the second pass's families alone
        write("names.txt", b"Abcab\nBdebd\nAcca\nBede\nAbba\nBbeb\n")
        assert run(["train", "names.txt", "--names", "-o", "names-model", "--max-steps", "4"] + small)[0] == 0
        second_pass(tmp, corpus, small)
        return report(None)

    # --- 1. sizes and numbers on every numeric option ---
    bad_numbers = ["-1", "0", "-5", "1e30", "inf", "-inf", "nan", "9223372036854775807", "9223372036854775808",
                   "-9223372036854775808", "abc", "", "1.5", "1e-30"]
    train_numeric = ["--layers", "--hidden", "--embed", "--dropout", "--seq-length", "--batch-size", "--learning-rate",
                     "--lr-decay", "--lr-decay-every", "--clip-norm", "--clip-value", "--val-fraction", "--max-steps",
                     "--max-epochs", "--max-time", "--seed", "--threads", "--eval-every", "--log-every",
                     "--print-every", "--sample-length", "--weight-drop", "--embed-dropout", "--weight-decay", "--warmup",
                     "--early-stop", "--lr-patience", "--ema"]
    base = ["train", corpus, "-o", "numbers", "--max-steps", "2"] + small
    for opt in train_numeric:
        for v in bad_numbers:
            args = [a for a in base]
            if opt in args:
                i = args.index(opt); del args[i:i + 2]
            extra = {"--weight-decay": ["--optimizer", "adamw"], "--lr-patience": ["--lr-decay", "0.5"]}.get(opt, [])
            judge_cli("numbers: train", args + extra + [opt, v], timeout=60)
    for opt in ["--length", "--temperature", "--top-k", "--seed", "--count", "--threads"]:
        for v in bad_numbers:
            judge_cli("numbers: sample", ["sample", "-c", "model", "--length", "5", opt, v] if opt != "--length"
                      else ["sample", "-c", "model", opt, v], timeout=60)
    for opt in ["--chunk", "--threads"]:
        for v in bad_numbers:
            judge_cli("numbers: eval", ["eval", "-c", "model", corpus, opt, v])
    for opt in ["--epochs", "--hidden", "--batch-size", "--learning-rate", "--dropout", "--ensemble", "--prior-correction",
                "--max-time", "--val-fraction", "--threads"]:
        for v in ["-1", "0", "inf", "nan", "9223372036854775807", "1e30"]:
            judge_cli("numbers: classify", ["classify", "train", "names", "-o", "clf-n", "--epochs", "1", "--hidden", "8",
                                             "--embed", "4", "--val-fraction", "0.2", "--test-fraction", "0.2", opt, v], timeout=60)
    for opt in ["--top", "--prior-correction"]:
        for v in ["-1", "0", "inf", "nan", "9223372036854775807", "2"]:
            judge_cli("numbers: classify", ["classify", "predict", "-c", "clf", opt, v, "Abba"])
    for opt in ["--seconds", "--threads", "--only"]:
        for v in ["-1", "0", "inf", "nan", "9223372036854775807", "1e30"]:
            judge_cli("numbers: bench", ["bench", "--seconds", "0.05", "--rows", "sample", opt, v] if opt != "--seconds"
                      else ["bench", "--rows", "sample", opt, v], timeout=120)
    for opt in ["--port", "--max-length", "--max-body", "--max-items", "--max-batch", "--threads", "--idle-timeout",
                "--max-connections"]:
        for v in ["-1", "0", "inf", "nan", "9223372036854775807", "70000"]:
            judge_cli("numbers: serve", ["serve", "-c", "model", "--port", "0", opt, v], timeout=3)

    # --- 2. files: missing, empty, binary, encodings, non-regular, huge ---
    files = {
        "missing": "does-not-exist.txt", "empty": write("empty.txt", b""), "binary": write("bin.dat", bytes(range(256)) * 4),
        "nul in text": write("nul.txt", b"hello\x00world\n"), "invalid utf8": write("bad.txt", b"caf\xc3 \xff\xfe ok\n"),
        "utf16le": write("u16le.txt", "to be or not to be\n".encode("utf-16-le")),
        "utf16 bom": write("u16.txt", "to be or not to be\n".encode("utf-16")),
        "utf16be": write("u16be.txt", "to be or not to be\n".encode("utf-16-be")),
        "folder": tmp, "dev zero": "/dev/zero", "dev null": "/dev/null", "one char": write("one.txt", b"a"),
        "unreadable": write("noperm.txt", b"text\n"), "dev urandom": "/dev/urandom",
    }
    os.chmod(files["unreadable"], 0)
    for name, path in files.items():
        judge_cli("files", ["train", path, "-o", "files-run", "--max-steps", "2"] + small)
        judge_cli("files", ["eval", "-c", "model", path])
        judge_cli("files", ["train", path, "--names", "-o", "files-names", "--max-steps", "2"] + small)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    judge_cli("files", ["classify", "eval", "-c", "clf", "--svg", fifo])
    judge_cli("files", ["classify", "eval", "-c", "clf", "--svg", "/dev/null"])
    judge_cli("files", ["classify", "eval", "-c", os.path.join(tmp, "clf", "classifier.safetensors")])
    judge_cli("files", ["classify", "eval", "-c", "clf", "--svg", tmp])
    judge_cli("files", ["classify", "eval", "-c", "clf", "--svg", ""])
    judge_cli("files", ["train", corpus, "-o", ""])
    judge_cli("files", ["train", corpus, "-o", fifo, "--max-steps", "2"] + small)
    judge_cli("files", ["train", corpus, "-o", corpus, "--max-steps", "2"] + small)
    judge_cli("files", ["train", corpus, "-o", "/proc/nope/x", "--max-steps", "2"] + small)
    if not stat.S_ISFIFO(os.stat(fifo).st_mode):
        problems.append(("files", "unclear", "--svg FIFO", "the FIFO was replaced"))

    # --- 3. crafted and damaged checkpoints, for sample, eval and serve ---
    data, n, header = read_safetensors("model/latest.safetensors")
    meta = header["__metadata__"]
    tensors = [(k, v["shape"], data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
               for k, v in header.items() if k != "__metadata__"]
    plain = {k: v for k, v in meta.items() if k != "charrnn_crc32"}
    cfg = json.loads(meta["charrnn"])
    crafted = {
        "truncated": data[:len(data) // 2], "header only": data[:8 + n], "zero bytes": b"", "seven bytes": b"1234567",
        "huge header length": (2 ** 62).to_bytes(8, "little") + data[8:],
        "header not json": (16).to_bytes(8, "little") + b"{not json!!!!!!}",
        "header a list": (8).to_bytes(8, "little") + b"[1,2,3] ",
        "no metadata": safetensors(tensors, None),
        "foreign metadata": safetensors(tensors, {"format": "pt"}),
        "shape 2^62 x 2^62": safetensors([(tensors[0][0], [2 ** 62, 2 ** 62], tensors[0][2])] + tensors[1:], plain),
        "shape 2^64": safetensors([(tensors[0][0], [2 ** 64], tensors[0][2])] + tensors[1:], plain),
        "negative shape": safetensors([(tensors[0][0], [-1, 4], tensors[0][2])] + tensors[1:], plain),
        "float shape": safetensors([(tensors[0][0], [1.5, 2], tensors[0][2])] + tensors[1:], plain),
        "nan values": safetensors([(tensors[0][0], tensors[0][1], b"\x00\x00\xc0\x7f" * (len(tensors[0][2]) // 4))] + tensors[1:], plain),
        "missing tensor": safetensors(tensors[1:], plain),
        "extra bytes": data + b"\x00" * 16,
        "flipped tensor byte": data[:-7] + bytes([data[-7] ^ 1]) + data[-6:],
        "flipped header digit": data.replace(b'"hidden\\":16', b'"hidden\\":17', 1),
        "bf16 dtype": data.replace(b'"F32"', b'"BF16"', 1),
    }
    for key, value in [("hidden", 60000), ("hidden", -1), ("layers", 10 ** 9), ("vocab_size", 2 ** 62), ("embed", 2 ** 40),
                       ("categories", 5), ("cell", "transformer"), ("dropout", 5), ("layers", 0)]:
        c = dict(cfg); c["config"] = dict(cfg["config"]); c["config"][key] = value
        crafted[f"metadata {key}={value}"] = safetensors(tensors, dict(plain, charrnn=json.dumps(c)))
    for field, value in [("format_version", 99), ("format_version", "1"), ("vocabulary", []), ("vocabulary", ["ab"] * 3),
                         ("start_character", ""), ("start_character", "xy"), ("categories", ["a"])]:
        c = dict(cfg); c[field] = value
        crafted[f"metadata {field}={value!r}"[:60]] = safetensors(tensors, dict(plain, charrnn=json.dumps(c)))
    for name, blob in crafted.items():
        path = write(f"crafted-{len(os.listdir('.'))}.safetensors", blob)
        judge_cli("checkpoints", ["sample", "-c", path, "--length", "5", "--seed", "1"])
        judge_cli("checkpoints", ["eval", "-c", path, corpus])
        judge_cli("checkpoints", ["serve", "-c", path, "--port", "0"], timeout=3)
        judge_cli("checkpoints", ["classify", "predict", "-c", path, "Abba"])

    # --- 4. resume: changed options, damaged state ---
    assert run(["train", corpus, "-o", "resumable", "--max-steps", "4"] + small)[0] == 0
    for opt, v in [("--hidden", "32"), ("--cell", "gru"), ("--learning-rate", "0.5"), ("-o", "elsewhere"), ("--names", None),
                   ("--layers", "3"), ("--embed", "0"), ("--seq-length", "8"), ("--batch-size", "2"), ("--optimizer", "sgd"),
                   ("--dropout", "0.5"), ("--seed", "7"), ("--batching", "random"), ("--val-fraction", "0.3")]:
        judge_cli("resume", ["train", "--resume", "resumable", "--max-steps", "6", opt] + ([v] if v else []))
    judge_cli("resume", ["train", "--resume", "nowhere"])
    judge_cli("resume", ["train", "--resume", corpus])
    st = open("resumable/train-state.safetensors", "rb").read()
    for i, offset in enumerate([len(st) - 3, len(st) // 2, 20]):
        os.makedirs(f"damaged-{i}", exist_ok=True)
        for f in os.listdir("resumable"):
            if f != ".lock":
                write(f"damaged-{i}/{f}", open(f"resumable/{f}", "rb").read())
        write(f"damaged-{i}/train-state.safetensors", st[:offset] + bytes([st[offset] ^ 0x20]) + st[offset + 1:])
        judge_cli("resume", ["train", "--resume", f"damaged-{i}", "--max-steps", "6"])

    # --- 5. messages: stop characters, categories, primes ---
    for args in [["--stop", "Z"], ["--stop", "ab"], ["--stop", ""], ["--prime", "\u20ac"], ["--prime", "-x"], ["--category", "A"],
                 ["--top-k", "1000"], ["--greedy", "--top-k", "2"], ["--count", "3", "--stop", "\\n"], ["--prime", "a" * 60000]]:
        judge_cli("messages", ["sample", "-c", "model", "--length", "5", "--seed", "1"] + args)
    judge_cli("messages", ["train", corpus, "--max-steps", "30", "--learning-rate", "1e30", "-o", "diverged"] + small)
    results["messages"]["ok" if not os.path.exists("diverged") else "unclear"] += 1
    judge_cli("messages", ["bogus-command"])
    judge_cli("messages", ["train"])
    judge_cli("messages", ["sample"])

    # --- 5b. kinds: each command given each kind of checkpoint (text, names, names by category, classifier)
    # and each kind of data (a text, a file of names, a folder of names by category) ---
    write("names.txt", b"Abcab\nBdebd\nAcca\nBede\nAbba\nBbeb\n")
    assert run(["train", "names.txt", "--names", "-o", "names-model", "--max-steps", "4"] + small)[0] == 0
    assert run(["train", "names", "-o", "category-model", "--max-steps", "4"] + small)[0] == 0
    for cp in ["model", "names-model", "category-model", "clf"]:
        for data in [corpus, "names.txt", "names", "names/A.txt"]:
            judge_cli("kinds", ["eval", "-c", cp, data])
            judge_cli("kinds", ["eval", "-c", cp, data, "--category", "A"])
            judge_cli("kinds", ["classify", "eval", "-c", cp, data])
            judge_cli("kinds", ["train", data, "--resume", cp])
        judge_cli("kinds", ["sample", "-c", cp, "--length", "5", "--seed", "1"])
        judge_cli("kinds", ["sample", "-c", cp, "--length", "5", "--seed", "1", "--category", "B", "--novel", "--count", "2"])
        judge_cli("kinds", ["classify", "predict", "-c", cp, "Abba"])
        judge_cli("kinds", ["bench", "--text", cp, "--only", "1", "--seconds", "0.05"])
        judge_cli("kinds", ["serve", "-c", cp, "--port", "0"], timeout=3)

    # --- 6. the server ---
    proc = subprocess.Popen([BIN, "serve", "-c", "model", "-c", "clf", "--port", "0", "--idle-timeout", "2",
                             "--max-connections", "64"], stderr=subprocess.PIPE)
    line = proc.stderr.readline().decode()
    port = int(re.search(r":(\d+)/", line).group(1))

    def request(method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=body.encode() if isinstance(body, str) else body)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except Exception as e:
            return None, str(e).encode()

    def judge_http(family, method, path, body):
        status, reply = request(method, path, body)
        verdict = "ok"
        if status is None:
            verdict = "hang" if b"timed out" in reply else "unclear"
        elif status >= 500:
            verdict = "unclear"
        elif status >= 400:
            try:
                verdict = "refused" if "message" in json.loads(reply)["error"] else "unclear"
            except Exception:
                verdict = "unclear"
        results[family][verdict] += 1
        if verdict not in ("ok", "refused"):
            problems.append((family, verdict, f"{method} {path} {str(body)[:120]}", f"{status} {reply[:200]!r}"))

    bodies = ['{"length": 1e300}', '{"length": -1}', '{"length": 2.5}', '{"length": "5"}', '{"length": null}', '{"seed": -1}',
              '{"seed": 1e30}', '{"seed": 18446744073709551616}', '{"top_k": 1e30}', '{"top_k": 0}', '{"temperature": 0}',
              '{"temperature": -1}', '{"temperature": 1e300}', '{"temperature": 1e-300}', '{"temprature": 1}', '{"Length": 5}',
              '{"stop": "Z"}', '{"stop": ""}', '{"stop": "ab"}', '{"prompt": "\u20ac"}', '{"prompt": 5}', '{"model": "nope"}',
              '{"model": "clf"}', '{"category": "x"}', '{"stream": "yes"}', '[]', '"text"', '5', 'null', '', '{', '{"a":',
              '{"length": 5}', '{"length": 5, "stream": true}', '{"prompt": "' + "a" * 60000 + '", "length": 5}',
              '{"prompt": "' + "a" * 70000 + '"}', '{"greedy": 1}', '{"length": 5, "seed": 18446744073709551615}',
              '\xff\xfe', '{"length": 5, "length": 6}']
    for b in bodies:
        judge_http("server: generate", "POST", "/v1/generate", b)
    completions = ['{"max_tokens": 1e300}', '{"max_tokens": -1}', '{"prompt": [1, 2]}', '{"prompt": []}', '{"prompt": [[1]]}',
                   '{"stop": ["a", "b", "c", "d", "e"]}', '{"stop": [""]}', '{"stop": 5}', '{"n": 0}', '{"n": 1e9}', '{"n": 129}',
                   '{"logprobs": 99}', '{"logprobs": -1}', '{"temperature": -1}', '{"temperature": 0, "max_tokens": 5}',
                   '{"top_p": 0}', '{"top_p": 1.5}', '{"top_k": 0}', '{"top_k": -1, "max_tokens": 3}', '{"suffix": "x"}',
                   '{"best_of": 2}', '{"logit_bias": {"5": 1}}', '{"presence_penalty": 1}', '{"user": "u", "max_tokens": 2}',
                   '{"stream": true, "max_tokens": 5}', '{"stream": true, "stream_options": {"include_usage": true}, "max_tokens": 3}',
                   '{"echo": true, "logprobs": 2, "max_tokens": 0}', '{"echo": true, "logprobs": 2, "prompt": "", "max_tokens": 0}',
                   '{"prompt": ["to", "be"], "n": 64, "max_tokens": 2}', '{"model": "clf"}', '{"model": "nope"}', '{"seed": -1}',
                   '{"stop": "e", "max_tokens": 100, "stream": true}', '{"prompt": "\u20ac"}', '{"messages": []}', '[]', '',
                   '{"max_tokens": 5, "logprobs": 20, "n": 3, "stream": true}']
    for b in completions:
        judge_http("server: completions", "POST", "/v1/completions", b)
    judge_http("server: completions", "POST", "/v1/chat/completions", '{"model": "model", "messages": [{"role": "user", "content": "hi"}]}')
    judge_http("server: completions", "GET", "/metrics", None)
    for b in ['{"items": []}', '{"items": ["Abba"], "top": 1e30}', '{"items": ["Abba"], "top": -1}', '{"items": "Abba"}',
              '{"items": [5]}', '{"items": ["Abba"], "topp": 1}', '{"items": ["\u20ac"]}', '{"items": [""]}', '{}',
              '{"items": ["Abba"], "model": "model"}', '{"items": ["Abba"]}', '{"items": ["Abba"] }' + " " * 10,
              '{"items": ' + json.dumps(["Abba"] * 1001) + '}']:
        judge_http("server: classify", "POST", "/v1/classify", b)
    for method, path in [("GET", "/"), ("GET", "/healthz"), ("GET", "/v1/models"), ("GET", "/openapi.json"), ("DELETE", "/v1/models"),
                         ("PUT", "/v1/generate"), ("GET", "/v1/generate"), ("GET", "/nothing"), ("GET", "/" + "a" * 5000),
                         ("POST", "/healthz"), ("OPTIONS", "/"), ("GET", "/v1/models?x=" + "%00" * 10)]:
        judge_http("server: endpoints", method, path, None)

    def raw(payload, half_close=True, wait=5):
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.sendall(payload)
        except OSError:
            pass
        if half_close:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(wait)
        out, start = b"", time.time()
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            out += b"<timeout>"
        except OSError:
            pass
        s.close()
        return out, time.time() - start

    protocol = [b"garbage\r\n\r\n", b"GET /\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /v1/generate HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                b"POST /v1/generate HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n",
                b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(1001)) + b"\r\n",
                b"GET / HTTP/1.1\r\nX: " + b"y" * 100000 + b"\r\n\r\n", b"POST /v1/generate HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"pro",
                b"POST /v1/generate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                b"POST /v1/generate HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}", b"GET / HTTP/1.1\r\nHost: a\r\nHost b\r\n\r\n"]
    for payload in protocol:
        reply, _ = raw(payload)
        head = reply.split(b"\r\n", 1)[0]
        ok = head.startswith(b"HTTP/1.1 4") and b'{"error":' in reply
        verdict = "refused" if ok else ("hang" if b"<timeout>" in reply else "unclear")
        results["server: protocol"][verdict] += 1
        if verdict != "refused":
            problems.append(("server: protocol", verdict, repr(payload[:80]), repr(reply[:200])))
    # Blank lines before a request are ignored (RFC 9112, 2.2): only blank lines, then EOF, is no request.
    reply, _ = raw(b"\r\n\r\n\r\n")
    results["server: protocol"]["ok" if reply == b"" else "unclear"] += 1
    for payload in [b"", b"GET /healthz HTTP/1.1\r\nHo", b"POST /v1/generate HTTP/1.1\r\nContent-Length: 50\r\n\r\n{"]:
        reply, seconds = raw(payload, half_close=False, wait=10)
        verdict = "refused" if seconds < 5 and b"<timeout>" not in reply else "hang"
        results["server: slow clients"][verdict] += 1
        if verdict != "refused":
            problems.append(("server: slow clients", verdict, repr(payload), f"open for {seconds:.1f} s"))
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    time.sleep(0.3)
    reply, _ = raw(b"", half_close=False, wait=3)
    verdict = "refused" if reply.startswith(b"HTTP/1.1 503") and b'{"error":' in reply else "unclear"
    results["server: connections"][verdict] += 1
    if verdict != "refused":
        problems.append(("server: connections", verdict, "65th connection", repr(reply[:200])))
    for s in held:
        s.close()
    time.sleep(0.5)
    status, _ = request("GET", "/healthz")
    alive = status == 200 and proc.poll() is None
    results["server: connections"]["ok" if alive else "unclear"] += 1
    rss = int(open(f"/proc/{proc.pid}/status").read().split("VmRSS:")[1].split()[0]) // 1024 if alive else -1
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill(); code = None
    results["server: shutdown"]["ok" if code == 0 else "unclear"] += 1

    second_pass(tmp, corpus, small)

    return report(rss)


def report(rss):
    total = Counter()
    row = "{:28} {:>6} {:>5} {:>8} {:>5} {:>5} {:>5} {:>8}"
    print(row.format("family", "inputs", "ok", "refused", "long", "trap", "hang", "unclear"))
    for family, c in results.items():
        total.update(c)
        print(row.format(family, sum(c.values()), c["ok"], c["refused"], c["long"], c["trap"], c["hang"], c["unclear"]))
    print(row.format("all", sum(total.values()), total["ok"], total["refused"], total["long"], total["trap"], total["hang"],
                     total["unclear"]))
    if rss is not None:
        print(f"server resident memory after the pass: {rss} MB")
    for idle, after in MEMORY:
        print(f"server resident memory around a 60,000-character classify item: {idle:.0f} MB idle, {after:.0f} MB after")
    for p in problems:
        print("PROBLEM", *p, sep=" | ")
    sys.exit(1 if problems else 0)




def second_pass(tmp, corpus, small):
    """The families of the second pass: run folders, crafted manifests, options alone, stdout faults,
    concurrency, slow and abandoned clients, names mode, messages, memory, paths."""
    os.chdir(tmp)

    # --- run folders: nothing a user made is replaced without --overwrite ---
    assert run(["train", corpus, "-o", "precious", "--max-steps", "4"] + small)[0] == 0
    before = digest("precious")
    for extra in [[], ["--max-steps", "3"], ["--names"], ["--hidden", "32"], ["--preset", "small", "--max-steps", "1"]]:
        judge_cli("run folders", ["train", corpus, "-o", "precious", "--max-steps", "2"] + small + extra)
    note("run folders", "ok" if digest("precious") == before else "lost file", "train into a run's folder", "the run changed")
    os.makedirs("mine", exist_ok=True)
    write("mine/loss.csv", b"my own numbers\n")
    judge_cli("run folders", ["train", corpus, "-o", "mine", "--max-steps", "2"] + small)
    note("run folders", "ok" if open("mine/loss.csv", "rb").read() == b"my own numbers\n" else "lost file", "user's loss.csv")
    os.makedirs("notes", exist_ok=True)
    write("notes/README.txt", b"keep me\n")
    judge_cli("run folders", ["train", corpus, "-o", "notes", "--max-steps", "2"] + small)
    judge_cli("run folders", ["train", corpus, "-o", "notes", "--max-steps", "2", "--overwrite"] + small)
    note("run folders", "ok" if open("notes/README.txt", "rb").read() == b"keep me\n" else "lost file", "other files beside a run")
    judge_cli("run folders", ["train", "--resume", "precious", "--overwrite", "--max-steps", "6"])
    clf_before = digest("clf")
    judge_cli("run folders", ["classify", "train", "names", "-o", "clf", "--epochs", "1", "--hidden", "8", "--embed", "4"])
    note("run folders", "ok" if digest("clf") == clf_before else "lost file", "classify train into a classifier's folder")
    assert run(["classify", "train", "names", "-o", "clf-big", "--epochs", "1", "--hidden", "8", "--embed", "4",
                "--ensemble", "3", "--val-fraction", "0.2", "--test-fraction", "0.2"])[0] == 0
    judge_cli("run folders", ["classify", "train", "names", "-o", "clf-big", "--epochs", "1", "--hidden", "8", "--embed", "4",
                              "--val-fraction", "0.2", "--test-fraction", "0.2", "--overwrite"])
    left = sorted(f for f in os.listdir("clf-big") if f.startswith("classifier"))
    note("run folders", "ok" if left == ["classifier.safetensors"] else "lost file", "--overwrite of an ensemble of 3 by one", left)

    # --- crafted manifests: a run folder from elsewhere writes nothing outside itself ---
    for i, name in enumerate(["../victim.txt", "/tmp/charrnn-adversarial-victim", "sub/x", "..", ".", "", ".lock",
                              "checkpoint.json", "loss.csv/../../victim.txt", "a\u0000b", "\u202eevil", "x" * 300]):
        folder = f"crafted-run-{i}"
        shutil.copytree("precious", folder, ignore=shutil.ignore_patterns(".lock"))
        write("victim.txt", b"the victim\n")
        write("/tmp/charrnn-adversarial-victim", b"the victim\n")
        manifest = json.load(open(f"{folder}/checkpoint.json"))
        manifest["files"][name] = {"bytes": 6, "crc32": "%08x" % (zlib.crc32(b"pwned\n") & 0xffffffff)}
        try:
            write(os.path.join(folder, ".pending-" + name), b"pwned\n")
        except (OSError, ValueError):
            pass
        write(f"{folder}/checkpoint.json", json.dumps(manifest).encode())
        for args in [["train", "--resume", folder, "--max-steps", "6"], ["sample", "-c", folder, "--length", "5"],
                     ["eval", "-c", folder, corpus]]:
            judge_cli("crafted manifests", args)
        intact = open("victim.txt", "rb").read() == b"the victim\n" and \
            open("/tmp/charrnn-adversarial-victim", "rb").read() == b"the victim\n"
        note("crafted manifests", "ok" if intact else "outside write", f"manifest entry {name!r}")
    os.unlink("/tmp/charrnn-adversarial-victim")

    # --- options alone: each limit or count without the options it usually comes with ---
    write("dn.txt", b"\n".join(b"Abc%dsaurus" % i for i in range(60)) + b"\n")
    for args in [["train", corpus, "--max-epochs", "1e18"], ["train", "dn.txt", "--names", "--max-epochs", "1e18"],
                 ["train", "names", "--max-epochs", "1e300"], ["train", corpus, "--max-epochs", "1e-300"],
                 ["train", corpus, "--max-time", "1e300", "--max-epochs", "1e17"], ["train", corpus, "--warmup", "9223372036854775807"],
                 ["train", corpus, "--eval-every", "9223372036854775807", "--max-steps", "2"],
                 ["train", corpus, "--log-every", "9223372036854775807", "--max-steps", "2"],
                 ["train", corpus, "--lr-decay-every", "9223372036854775807", "--lr-decay", "0.5", "--max-steps", "2"],
                 ["train", corpus, "--lr-patience", "9223372036854775807", "--max-steps", "2"],
                 ["train", corpus, "--early-stop", "9223372036854775807", "--max-steps", "2"],
                 ["train", corpus, "--sample-length", "9223372036854775807", "--max-steps", "2"]]:
        out = f"alone-{len(os.listdir('.'))}"
        judge_cli("options alone", args[:2] + ["-o", out] + small + args[2:], timeout=8)
        if os.path.isdir(out) and os.listdir(out) == [".lock"]:
            note("options alone", "lost file", " ".join(args), "a folder holding only .lock was left")
    judge_cli("options alone", ["train", "--resume", "precious", "--max-epochs", "1e300"])
    for count in ["46116860184273879", "9223372036854775807", "4611686018427387904"]:
        judge_cli("options alone", ["sample", "-c", "model", "--unique", "--count", count, "--length", "3", "--seed", "1"], timeout=8)
        judge_cli("options alone", ["sample", "-c", "model", "--count", count, "--length", "3", "--seed", "1"], timeout=3)
    big = write("big-item.txt", b"A" + b"b" * 40_000_000 + b"\n")
    with open(big, "rb") as f:
        p = subprocess.run([BIN, "classify", "predict", "-c", "clf"], stdin=f, capture_output=True, timeout=120)
    lines = [l for l in p.stderr.decode(errors="replace").splitlines() if l.strip()]
    note("options alone", "refused" if p.returncode == 1 and len(lines) == 1 and lines[0].startswith("charrnn: error: ") else "unclear",
         "classify predict of a 40-million-character item on stdin", p.stderr[-300:])
    os.unlink(big)

    # --- stdout faults: output that cannot be written is an error, never a silent success ---
    for args in [["sample", "-c", "model", "--length", "50", "--seed", "1"], ["eval", "-c", "model", corpus],
                 ["classify", "predict", "-c", "clf", "Abba"], ["classify", "eval", "-c", "clf", "--svg", "conf.svg"],
                 ["train", corpus, "-o", "stdout-run", "--max-steps", "2", "--overwrite"] + small, ["devices"],
                 ["sample", "-c", "names-model", "--count", "3", "--seed", "1"]]:
        for how in ["/dev/full", "closed"]:
            if how == "closed":
                p = subprocess.run([BIN] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   preexec_fn=lambda: os.close(1))
            else:
                with open("/dev/full", "wb") as full:
                    p = subprocess.run([BIN] + args, stdout=full, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            err = p.stderr.decode(errors="replace")
            lines = [l for l in err.splitlines() if l.strip()]
            if p.returncode < 0 or re.search(r"Fatal error|backtrace", err):
                verdict = "trap"
            elif p.returncode != 0 and len(lines) == 1 and lines[0].startswith("charrnn: error: "):
                verdict = "refused"
            else:
                verdict = "unclear"
            note("stdout faults", verdict, f"{' '.join(args[:4])} > {how}", f"exit {p.returncode}: {err[-200:]}")

    # --- concurrency: two writers of one folder, readers beside a writer ---
    for kind in ["classify", "train"]:
        if kind == "classify":
            cmd = [BIN, "classify", "train", "names", "-o", "clf-race", "--epochs", "400", "--hidden", "8", "--embed", "4",
                   "--val-fraction", "0.2", "--test-fraction", "0.2", "--ensemble", "2", "--overwrite"]
        else:
            cmd = [BIN, "train", corpus, "-o", "train-race", "--max-steps", "200", "--overwrite"] + small
        procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
        outs = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
        # One is refused while the other holds the folder (or, had the first ended before the second
        # began, they ran one after the other).
        codes = sorted(c for c, _ in outs)
        ok = (codes == [0, 1] and any("in use by another" in e for _, e in outs)) or codes == [0, 0]
        note("concurrency", "refused" if ok else "unclear", f"two '{kind} train' into one folder", outs)
        folder = "clf-race" if kind == "classify" else "train-race"
        check = (["classify", "eval", "-c", folder, "--svg", "race.svg"] if kind == "classify" else ["eval", "-c", folder, corpus])
        note("concurrency", "ok" if run(check)[0] == 0 else "unclear", f"the folder after two '{kind} train'")
    snippet = write("snippet.txt", open(corpus, "rb").read()[:2000])
    writer = subprocess.Popen([BIN, "train", corpus, "-o", "busy", "--eval-every", "1", "--max-time", "600", "--overwrite"] + small[:-2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not os.path.exists("busy/checkpoint.json"):
        time.sleep(0.05)
    reads, failures = 0, []
    for i in range(READS_BESIDE_WRITER):
        code, _, err, _ = run(["sample", "-c", "busy", "--length", "1", "--seed", "1"] if i % 2 else ["eval", "-c", "busy", snippet])
        reads += 1
        if code != 0:
            failures.append(err.strip()[:200])
    writer.send_signal(signal.SIGINT)
    writer.wait(timeout=60)
    note("concurrency", "ok" if not failures else "unclear", f"{reads} reads beside a run saving every step",
         f"{len(failures)} failed: {failures[:3]}")
    print(f"reader beside writer: {reads} reads, {len(failures)} failures", file=sys.stderr)

    # --- messages ---
    for ch in ["\u200d", "\ufeff", "\u00a0", "\u202e", "\u2066", "\x1b[31m"]:
        code, _, err, _ = run(["sample", "-c", "model", "--prime", "ab" + ch + "cd", "--length", "3"])
        hidden = any(c in err for c in ["\u200d", "\ufeff", "\u00a0", "\u202e", "\u2066", "\x1b"])
        note("messages", "unclear" if hidden or code != 1 else "refused", f"prime with U+{ord(ch[0]):04X}", repr(err[-200:]))
    os.makedirs("lr=0.002", exist_ok=True)
    for f in os.listdir("model"):
        if f != ".lock":
            shutil.copy(os.path.join("model", f), "lr=0.002")
    if judge_cli("messages", ["serve", "-c", "./lr=0.002", "--port", "0"], timeout=3) != "long":
        problems.append(("messages", "unclear", "serve -c ./lr=0.002", "the folder was not served"))
    code, _, err, _ = run(["sample", "-c", "model/train-state.safetensors"])
    note("messages", "refused" if code == 1 and "training state" in err else "unclear", "sample -c RUN/train-state.safetensors", err)
    code, _, err, _ = run(["train", "--resume", "precious", "--lr", "0.5", "--max-steps", "8"])
    note("messages", "refused" if code == 1 and "learning-rate" in err else "unclear", "train --resume --lr 0.5", err)

    # --- paths: a run used from another folder ---
    os.makedirs("elsewhere", exist_ok=True)
    assert run(["train", "dn.txt", "--names", "-o", "dn", "--max-steps", "4"] + small)[0] == 0
    os.chdir("elsewhere")
    for args in [["train", "--resume", "../precious", "--max-steps", "6"], ["classify", "eval", "-c", "../clf", "--svg", "c.svg"],
                 ["sample", "-c", "../dn", "--novel", "--count", "2", "--seed", "1", "--temperature", "2"]]:
        if judge_cli("paths", args) == "refused":
            problems.append(("paths", "refused", " ".join(args), "should work from another folder"))
    os.chdir(tmp)

    # --- the server: names, HEAD, CONNECT, slow bodies, abandoned clients, memory ---
    assert run(["train", "names", "-o", "cat-model", "--max-steps", "30", "--overwrite"] + small)[0] == 0
    # Large enough that 100,000 characters take seconds to generate.
    assert run(["train", corpus, "-o", "slow-model", "--max-steps", "1", "--hidden", "512", "--layers", "3",
                "--seq-length", "8", "--batch-size", "2", "--sample-length", "0", "--overwrite"])[0] == 0
    proc, port = start_serve(["-c", "dn", "-c", "cat-model", "-c", "clf", "-c", "slow-model", "--max-connections", "8",
                              "--idle-timeout", "2", "--body-timeout", "3", "--max-length", "100000"])
    try:
        for seed in range(1, 6):
            status, reply = http(port, "POST", "/v1/generate", json.dumps({"model": "dn", "seed": seed, "temperature": 1}))
            cli = run(["sample", "-c", "dn", "--seed", str(seed), "--length", "200"])[1]
            text = json.loads(reply)["text"] if status == 200 else None
            same = text is not None and "\n" not in text and text + "\n" == cli and json.loads(reply)["finish_reason"] == "stop"
            note("server: names", "ok" if same else "unclear", f"dn seed {seed}", f"{text!r} vs {cli!r}")
            status, reply = http(port, "POST", "/v1/generate", json.dumps({"model": "cat-model", "seed": seed, "category": "A"}))
            text = json.loads(reply).get("text", "") if status == 200 else "?"
            note("server: names", "ok" if "\n" not in text else "unclear", f"by-category seed {seed}", repr(text))
        for path in ["/", "/healthz", "/v1/models", "/openapi.json"]:
            status, reply = http(port, "HEAD", path)
            note("server: methods", "ok" if status == 200 and reply == b"" else "unclear", f"HEAD {path}", f"{status} {reply[:100]!r}")
        for payload in [b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                        b"CONNECT / HTTP/1.1\r\n\r\n", b"TRACE / HTTP/1.1\r\n\r\n", b"PATCH /v1/generate HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"]:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(payload)
            s.settimeout(5)
            reply = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                    if b"\r\n\r\n" in reply and reply.split(b"\r\n\r\n", 1)[1].endswith(b"}"):
                        break
            except OSError:
                pass
            s.close()
            ok = reply.startswith(b"HTTP/1.1 4") and b'{"error":' in reply
            note("server: methods", "refused" if ok else "unclear", repr(payload[:40]), repr(reply[:200]))

        # Eight clients trickle a body at one byte a second: each is cut off by --body-timeout, and a
        # ninth client gets in once they are.
        time.sleep(0.5)  # the connections above are closed on the server's side too, before eight more take every slot
        trickles = []
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{")
            trickles.append(s)
        start = time.time()
        replies = [b""] * 8
        while time.time() - start < 8 and not all(r.startswith(b"HTTP/1.1 408") for r in replies):
            for k, s in enumerate(trickles):
                try:
                    s.sendall(b" ")
                except OSError:
                    pass
                s.setblocking(False)
                try:
                    replies[k] += s.recv(65536)
                except (BlockingIOError, OSError):
                    pass
            time.sleep(1)
        for k, s in enumerate(trickles):  # the rest of each reply: its body may come after its head
            s.setblocking(True)
            s.settimeout(1)
            try:
                while chunk := s.recv(65536):
                    replies[k] += chunk
            except OSError:
                pass
        cut = sum(r.startswith(b"HTTP/1.1 408") and b'{"error":' in r for r in replies)
        note("server: slow bodies", "refused" if cut == 8 else "hang", "8 bodies at a byte a second",
             f"{cut} of 8 cut off in {time.time() - start:.1f} s: {[r[:30] for r in replies]}")
        for s in trickles:
            s.close()
        time.sleep(0.5)
        status, _ = http(port, "GET", "/healthz", timeout=5)
        note("server: slow bodies", "ok" if status == 200 else "hang", "a request after the trickling clients", status)

        # A client that leaves: its generation stops within a step or two.
        for path, stream in [("/v1/generate", False), ("/v1/generate", True), ("/v1/completions", False), ("/v1/completions", True)]:
            s = socket.create_connection(("127.0.0.1", port))
            fields = {"length": 100000} if path == "/v1/generate" else {"max_tokens": 100000, "n": 2}
            body = json.dumps({"model": "slow-model", "seed": 1, "stream": stream, **fields}).encode()
            s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path.encode(), len(body)) + body)
            time.sleep(0.5)
            s.close()
            start, left = time.time(), None
            while time.time() - start < 5:
                left = json.loads(http(port, "GET", "/healthz")[1])["generations_in_flight"]
                if left == 0:
                    break
                time.sleep(0.05)
            note("server: abandoned clients", "ok" if left == 0 else "hang", f"{path} stream={stream}: client gone after 0.5 s",
                 f"in flight {left} after {time.time() - start:.2f} s")

        # One long item: refused when over --max-request-memory, and the memory goes back after one that fits.
        idle = rss_mb(proc.pid)
        status, reply = http(port, "POST", "/v1/classify", json.dumps({"model": "clf", "items": ["A" + "b" * 60000]}))
        time.sleep(0.5)
        after = rss_mb(proc.pid)
        note("server: memory", "ok" if status == 200 and after - idle <= 20 else "unclear",
             "a 60,000-character item", f"status {status}, RSS {idle:.0f} -> {after:.0f} MB")
        MEMORY.append((idle, after))
    finally:
        stop_serve(proc)
    proc, port = start_serve(["-c", "clf", "--max-body", "100000000", "--max-request-memory", "256"])
    try:
        status, reply = http(port, "POST", "/v1/classify", json.dumps({"items": ["A" + "b" * 20_000_000]}), timeout=120)
        ok = status == 400 and b"max-request-memory" in reply and proc.poll() is None
        note("server: memory", "refused" if ok else "unclear", "a 20-million-character item", f"{status} {reply[:200]!r}")
    finally:
        stop_serve(proc)


READS_BESIDE_WRITER = int(os.environ.get("CHARRNN_ADVERSARIAL_READS", "2000"))
MEMORY = []


if __name__ == "__main__":
    main()
