//! GGUF v3: reading and writing llama.cpp model files.
