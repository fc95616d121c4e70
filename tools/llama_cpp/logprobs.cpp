// llama-logprobs: next-token log-probabilities computed by llama.cpp itself, as the reference for
// GGUF files llama.cpp made (quantized ones included). Built by tools/llama_cpp/build_logprobs.sh
// against the static libraries of the llama.cpp that tools/llama_cpp/build.sh built.
//
//   llama-logprobs MODEL.gguf < ids.txt
//
// stdin: one token-id sequence per line, ids separated by commas or spaces.
// stdout: one line per sequence, n-1 numbers: lp[i] = log_softmax(logits[i])[ids[i+1]]
// (the golden.json convention), computed in double from llama.cpp's f32 logits, printed %.9g.
// Each sequence runs in a fresh KV state as one batch with logits for every position, CPU only,
// n_ctx 512, 2 threads, f32 KV cache, flash attention off.
#include "llama.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

static void quiet(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char ** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gguf < ids.txt\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    // f32 KV cache and no flash attention (llama.cpp's defaults are an f16 cache and FA auto,
    // which round K/V to f16 and move log-probs by ~1e-2): what remains is llama.cpp's weight
    // format and matmul numerics (activations quantized to Q8_0/Q8_K for quantized weights).
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "cannot make a context\n"); return 1; }

    std::string line;
    while (std::getline(std::cin, line)) {
        for (char & c : line) if (c == ',') c = ' ';
        std::istringstream is(line);
        std::vector<llama_token> ids;
        long v;
        while (is >> v) ids.push_back((llama_token) v);
        if (ids.empty()) continue;
        llama_memory_clear(llama_get_memory(ctx), true);
        llama_batch b = llama_batch_init((int32_t) ids.size(), 0, 1);
        for (size_t i = 0; i < ids.size(); i++) {
            b.token[i] = ids[i];
            b.pos[i] = (llama_pos) i;
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = 1;
        }
        b.n_tokens = (int32_t) ids.size();
        if (llama_decode(ctx, b) != 0) { fprintf(stderr, "llama_decode failed\n"); return 1; }
        std::string out;
        char buf[64];
        for (size_t i = 0; i + 1 < ids.size(); i++) {
            const float * lg = llama_get_logits_ith(ctx, (int32_t) i);
            double mx = -INFINITY;
            for (int j = 0; j < n_vocab; j++) mx = std::fmax(mx, (double) lg[j]);
            double s = 0.0;
            for (int j = 0; j < n_vocab; j++) s += std::exp((double) lg[j] - mx);
            const double lp = (double) lg[ids[i + 1]] - mx - std::log(s);
            snprintf(buf, sizeof buf, "%s%.9g", i ? " " : "", (double) (float) lp);
            out += buf;
        }
        puts(out.c_str());
        llama_batch_free(b);
    }
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
