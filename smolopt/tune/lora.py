"""LoRA (peft): low-rank matrices beside the chosen linear layers; the base weights stay frozen.

Dropout is off so a resumed tune takes the same steps as an uninterrupted one. The state is peft's
adapter state dict, which the exporters write as adapter.gguf (llama.cpp, Ollama) or a peft folder (vLLM).
"""

from __future__ import annotations

from typing import Any


class Lora:
    name = "lora"

    def attach(self, model: Any, settings: Any) -> Any:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.0, target_modules=list(settings.modules), bias="none")
        return get_peft_model(model, config)

    def state(self, model: Any) -> dict[str, Any]:
        from peft import get_peft_model_state_dict

        return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}

    def restore(self, model: Any, state: dict[str, Any]) -> None:
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(model, state)


LORA = Lora()
