"""Fine-tuning: Trainer wiring, freezing, LoRA, DeepSpeed configs."""
