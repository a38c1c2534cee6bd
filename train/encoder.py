"""`encoder`: fine-tune a Hugging Face encoder for sequence classification with a plain torch loop."""

from __future__ import annotations

import numpy as np

from dualalign.train.base import TextClassifier
from dualalign.train.torch_utils import pick_device, progress, seeded_torch, shuffled_batches


class EncoderClassifier(TextClassifier):
    """`AutoModelForSequenceClassification` on any encoder (the embedded MiniLM by default), AdamW, linear decay."""

    name = "encoder"

    def __init__(self, model: str = "embedded:minilm-l6", epochs: int = 3, lr: float = 1e-4,
                 batch_size: int = 16, max_length: int = 128, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.1, device: str | None = None, seed: int = 0):
        self.model = model
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.device = device
        self.seed = seed

    def _fit(self, texts: list[str], y: np.ndarray) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

        from dualalign.models import is_local, resolve_model

        path, local = resolve_model(self.model), is_local(self.model)
        self.device_ = pick_device(self.device)
        self.tokenizer_ = AutoTokenizer.from_pretrained(path, local_files_only=local)
        rng = np.random.default_rng(self.seed)
        with seeded_torch(self.seed, self.device_):  # head initialisation and dropout
            self.model_ = AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=local, num_labels=len(self.classes_), id2label=dict(enumerate(self.classes_)),
                label2id={c: i for i, c in enumerate(self.classes_)},
            ).to(self.device_)
            steps_per_epoch = -(-len(texts) // self.batch_size)
            total = steps_per_epoch * self.epochs
            optim = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = get_linear_schedule_with_warmup(optim, int(self.warmup_ratio * total), total)
            self.loss_history_: list[float] = []
            self.model_.train()
            with progress(f"fine-tuning {self.model}", total) as (bar, task):
                for _ in range(self.epochs):
                    for idx in shuffled_batches(len(texts), self.batch_size, rng):
                        batch = self._tokenize([texts[i] for i in idx])
                        out = self.model_(**batch, labels=torch.as_tensor(y[idx], device=self.device_))
                        out.loss.backward()
                        optim.step()
                        sched.step()
                        optim.zero_grad()
                        self.loss_history_.append(out.loss.item())
                        bar.update(task, advance=1, status=f"loss {self.loss_history_[-1]:.3f}")
        self.model_.eval()

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        import torch

        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), 4 * self.batch_size):
                logits = self.model_(**self._tokenize(texts[start:start + 4 * self.batch_size])).logits
                rows.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        return np.concatenate(rows).astype(np.float64)

    def _tokenize(self, texts: list[str]):
        enc = self.tokenizer_(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return enc.to(self.device_)
