// Embed models/tiny-r1 in the binary when the repository holds it (cfg `embedded_tiny_r1`), so
// `reasoner chat` works on a fresh machine with no download and from any directory.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(embedded_tiny_r1)");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-r1");
    println!("cargo::rerun-if-changed={}", dir.display());
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
        println!("cargo::rerun-if-changed={}", dir.join(f).display());
    }
    if dir.join("model.safetensors").exists() && dir.join("config.json").exists() && dir.join("tokenizer.json").exists() {
        println!("cargo::rustc-cfg=embedded_tiny_r1");
    }
}
