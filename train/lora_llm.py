"""`lora-llm`: LoRA on a causal LM taught to answer the label; predictions score each label's likelihood.

The paper's setup is LLaMA-3.1-8B with LoRA on a GPU; on the CPU the embedded SmolLM2-135M-Instruct runs the
same code. The prompt holds the label list and the text; the target is the label name and an end token. A text's
class probabilities are the softmax over the summed log-likelihoods of each complete label answer.
"""

from __future__ import annotations

import numpy as np

from dualalign.train.base import TextClassifier
from dualalign.train.torch_utils import pick_device, progress, seeded_torch, shuffled_batches

INSTRUCTION = "Classify the text into exactly one of these labels: {labels}. Answer with the label only."


class LoraLLMClassifier(TextClassifier):
    """LoRA adapters (peft) on a causal LM, trained on the answer tokens only."""

    name = "lora-llm"

    def __init__(self, model: str = "embedded:smollm2-135m-instruct", epochs: int = 1, max_steps: int | None = None,
                 lr: float = 2e-4, batch_size: int = 4, max_length: int = 256, r: int = 8, alpha: int = 16,
                 dropout: float = 0.05, target_modules: list[str] | None = None, dtype: str = "auto",
                 device: str | None = None, seed: int = 0):
        self.model = model
        self.epochs = epochs
        self.max_steps = max_steps
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.target_modules = target_modules
        self.dtype = dtype
        self.device = device
        self.seed = seed

    def _fit(self, texts: list[str], y: np.ndarray) -> None:
        import torch
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from dualalign.models import is_local, resolve_model

        path, local = resolve_model(self.model), is_local(self.model)
        self.device_ = pick_device(self.device)
        # "auto": float32 on the CPU (bf16 training there is slow and coarse), bf16 on a GPU.
        dtype = getattr(torch, self.dtype) if self.dtype != "auto" else (
            torch.bfloat16 if self.device_.startswith("cuda") else torch.float32)
        self.tokenizer_ = AutoTokenizer.from_pretrained(path, local_files_only=local)
        rng = np.random.default_rng(self.seed)
        with seeded_torch(self.seed, self.device_):  # adapter initialisation and dropout
            base = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=local).to(self.device_)
            lora = LoraConfig(task_type="CAUSAL_LM", r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                              target_modules=self.target_modules)
            self.model_ = get_peft_model(base, lora)
            encoded = [self._encode(t, self.classes_[k]) for t, k in zip(texts, y, strict=True)]
            steps_per_epoch = -(-len(texts) // self.batch_size)
            total = min(self.max_steps or steps_per_epoch * self.epochs, steps_per_epoch * self.epochs)
            params = [p for p in self.model_.parameters() if p.requires_grad]
            optim = torch.optim.AdamW(params, lr=self.lr)
            self.loss_history_: list[float] = []
            self.model_.train()
            with progress(f"LoRA on {self.model}", total) as (bar, task):
                while len(self.loss_history_) < total:
                    for idx in shuffled_batches(len(encoded), self.batch_size, rng):
                        loss = -self._answer_logprob([encoded[i] for i in idx]).mean()
                        loss.backward()
                        optim.step()
                        optim.zero_grad()
                        self.loss_history_.append(loss.item())
                        bar.update(task, advance=1, status=f"loss {self.loss_history_[-1]:.3f}")
                        if len(self.loss_history_) >= total:
                            break
        self.model_.eval()

    def _predict_proba(self, texts: list[str]) -> np.ndarray:
        """Each text's prompt runs once; its cached keys and values are shared by the k label answers, which run as
        one batch after it (k times fewer prompt tokens than scoring k whole sequences)."""
        import torch

        k = len(self.classes_)
        answers = [self._answer(label) for label in self.classes_]
        width = max(len(a) for a in answers)
        ids = torch.full((k, width), self._pad_id(), dtype=torch.long)
        answer_mask = torch.zeros((k, width), dtype=torch.long)
        for row, answer in enumerate(answers):
            ids[row, :len(answer)] = torch.tensor(answer)
            answer_mask[row, :len(answer)] = 1
        ids, answer_mask = ids.to(self.device_), answer_mask.to(self.device_)
        scores = []
        with torch.inference_mode():
            for text in texts:
                prompt = torch.tensor([self._prompt_ids(text, width)], device=self.device_)
                out = self.model_(input_ids=prompt, use_cache=True, logits_to_keep=1)
                first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)[ids[:, 0]]
                cache = out.past_key_values
                cache.batch_repeat_interleave(k)
                mask = torch.cat([torch.ones((k, prompt.shape[1]), dtype=torch.long, device=self.device_),
                                  answer_mask], dim=1)  # fmt: skip
                logits = self.model_(input_ids=ids, attention_mask=mask, past_key_values=cache).logits[:, :-1].float()
                rest = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
                scores.append((first + (rest * answer_mask[:, 1:]).sum(dim=1)).cpu().numpy())
        logp = np.stack(scores).astype(np.float64)
        logp -= logp.max(axis=1, keepdims=True)
        proba = np.exp(logp)
        return proba / proba.sum(axis=1, keepdims=True)

    def _answer_logprob(self, items: list[tuple[list[int], list[int]]]):
        """Log-likelihood of each answer token of the items given its prompt.

        Rows are left-padded so every answer ends the row; only the last positions' logits are computed
        (`logits_to_keep`), which spares the vocabulary projection over the prompt.
        """
        import torch

        ids, mask, labels = self._collate(items)
        keep = int((labels != -100).sum(dim=1).max()) + 1
        logits = self.model_(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits[:, :-1].float()
        target = labels[:, -keep + 1:]
        answer = target != -100
        picked = torch.log_softmax(logits, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return picked[answer]

    def prompt(self, text: str) -> str:
        """The prompt for one input: with a chat template, the instruction is the system turn and the text the
        user turn (this also replaces a template's default system prompt); without one, plain text."""
        instruction = INSTRUCTION.format(labels=", ".join(self.classes_))
        if self.tokenizer_.chat_template:
            return self.tokenizer_.apply_chat_template(
                [{"role": "system", "content": instruction}, {"role": "user", "content": text}],
                tokenize=False, add_generation_prompt=True)
        return f"{instruction}\n\nText: {text}\nLabel: "

    def _encode(self, text: str, label: str) -> tuple[list[int], list[int]]:
        """Token ids of prompt + answer, and training labels (-100 on the prompt)."""
        answer = self._answer(label)
        prompt = self._prompt_ids(text, len(answer))
        return prompt + answer, [-100] * len(prompt) + answer

    def _answer(self, label: str) -> list[int]:
        """The answer's token ids: the label and the end token."""
        return self.tokenizer_(label, add_special_tokens=False)["input_ids"] + [self.tokenizer_.eos_token_id]

    def _prompt_ids(self, text: str, room: int) -> list[int]:
        """The prompt's token ids, a long text cut so that `room` answer tokens still fit in `max_length`."""
        tok = self.tokenizer_
        prompt = tok(self.prompt(text), add_special_tokens=False)["input_ids"]
        excess = len(prompt) + room - self.max_length
        if excess > 0:
            text_ids = tok(text, add_special_tokens=False)["input_ids"]
            text = tok.decode(text_ids[:max(len(text_ids) - excess, 1)])
            prompt = tok(self.prompt(text), add_special_tokens=False)["input_ids"]
        return prompt

    def _pad_id(self) -> int:
        tok = self.tokenizer_
        return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def _collate(self, items: list[tuple[list[int], list[int]]]):
        """Left-padded tensors (every answer ends its row): input ids, attention mask, labels."""
        import torch

        width = max(len(ids) for ids, _ in items)
        ids = torch.full((len(items), width), self._pad_id(), dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        labels = torch.full((len(items), width), -100, dtype=torch.long)
        for row, (seq, lab) in enumerate(items):
            ids[row, width - len(seq):] = torch.tensor(seq)
            mask[row, width - len(seq):] = 1
            labels[row, width - len(lab):] = torch.tensor(lab)
        return ids.to(self.device_), mask.to(self.device_), labels.to(self.device_)
