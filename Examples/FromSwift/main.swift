import CharRNN

let model = try LanguageModel(contentsOf: "runs/mine")
for try await piece in model.generate(prompt: "ROMEO:", length: 200, options: SamplingOptions(temperature: 0.8)) {
    print(piece, terminator: "")
}
let report = try model.evaluate(text: "ROMEO:\nWhat light through yonder window breaks?")
print("\n\(report.bitsPerCharacter) bits per character")
