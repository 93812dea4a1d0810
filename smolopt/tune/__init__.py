"""Weight tuning: a LoRA on a task's train split, in the prompt format it will be served with,
exported for the server that loads the base weights (README.md, "Tuning the weights").

    examples  training text rendered by the adapter's own code (train in the format you serve)
    traces    a multi-step program's steps on the examples it got right (what each predictor learns)
    base      the entry's weights (GGUF or Hugging Face folder) and its server's tokenizer
    hf        the Hugging Face side: transformers loading, an hf folder's tokenizer, the peft folder
    method    how a tune changes the weights (one protocol); lora, its one implementation today
    train     the method trained on the CPU or a GPU; loss on the target tokens; val picks the epoch; resumable
    prefix    rows sharing a prompt prefix (in-prompt demos) run it once a pass; prefix_cache, through transformers
    device    --device auto|cpu|cuda|mps: where train runs (auto: CUDA, else MPS, else the CPU)
    export    adapter.gguf via the gguf package, q/k rows in the base file's own order
    merge     merged.gguf, base and adapter in one file, for servers without adapters
    serving   serve.sh (llama-server or vLLM) and Modelfile (Ollama) beside the adapter
    session   tune, then base vs tuned on test through the real llama.cpp server
    command   `smolopt tune` from flags, or resumed from its config.json
"""
