#!/bin/sh
# The paper's classifier on one GPU: Llama-3.1-8B-Instruct writes the label set's text (vLLM, bf16), then, with
# vLLM closed, is fine-tuned with LoRA (bf16) on each training set of the learning curve and scores each label's
# likelihood. LoRA settings are this project's choice (the paper's are not published): rank 16, alpha 32,
# dropout 0.05 on the attention's q and v projections, 3 epochs, batches of 8, learning rate 1e-4.
# Setup, from a checkout: pip install -e '.[gpu]' (vLLM's CUDA build), accept Llama 3.1's licence on the Hugging
# Face Hub, `huggingface-cli login`. Then run this from the checkout's root (extra options pass through).
# Size: 4 k x 2 draws x 3 seeds x 5 training sets = 120 fine-tunes of the 8B model (not timed on a GPU here).
# Measured on the CPU with SmolLM2-135M instead: docs/tstr.md#the-papers-classifier-lora.
exec dualalign tstr --real ../shared/data/symptom2disease_public.csv --labels symptom2disease \
  --model meta-llama/Llama-3.1-8B-Instruct --per-label 20 \
  --classifier lora-llm \
  --classifier-settings 'model=meta-llama/Llama-3.1-8B-Instruct,r=16,alpha=32,dropout=0.05,epochs=3,batch_size=8,lr=1e-4,max_length=256,dtype=bfloat16' \
  --gold-per-label 1,2,5,10 --draws 2 --seeds 0,1,2 --out runs/tstr-llama-lora "$@"
