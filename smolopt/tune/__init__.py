"""Weight tuning: a LoRA on a task's train split, in the prompt format it will be served with,
exported as a llama.cpp GGUF adapter (see DESIGN.md, "the weights axis").

    examples  training text rendered by the adapter's own code (train in the format you serve)
    base      the entry's GGUF dequantized by transformers; llama.cpp's tokenizer for the ids
    train     peft LoRA on the CPU; loss on the target tokens; val picks the epoch; resumable
    export    adapter.gguf via the gguf package, q/k rows in the base file's own order
    serving   serve.sh (llama-server) and Modelfile (Ollama) beside the adapter
    session   tune, then base vs tuned on test through the real llama.cpp server
"""
