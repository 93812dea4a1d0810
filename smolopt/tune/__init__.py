"""Weight tuning: a LoRA on a task's train split, in the prompt format it will be served with,
exported for the server that loads the base weights (see DESIGN.md, "the weights axis").

    examples  training text rendered by the adapter's own code (train in the format you serve)
    traces    a multi-step program's steps on the examples it got right (what each predictor learns)
    base      the entry's weights (GGUF or Hugging Face folder) and its server's tokenizer
    hf        the Hugging Face side: transformers loading, an hf folder's tokenizer, the peft folder
    train     peft LoRA on the CPU; loss on the target tokens; val picks the epoch; resumable
    export    adapter.gguf via the gguf package, q/k rows in the base file's own order
    merge     merged.gguf, base and adapter in one file, for servers without adapters
    serving   serve.sh (llama-server or vLLM) and Modelfile (Ollama) beside the adapter
    session   tune, then base vs tuned on test through the real llama.cpp server
"""
