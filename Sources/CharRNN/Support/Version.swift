/// charrnn's version: `charrnn --version`, the server's /healthz, the wheel's name and CHANGELOG.md
/// all take it from here.
public enum CharRNNVersion {
    public static let current = "0.1.0"
}
