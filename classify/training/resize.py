"""Reshaping a pretrained encoder before fine-tuning: fewer vocabulary rows, more (or fewer)
layers, so that a deeper student fits the shipped model's size limit.

MiniLM-L6 spends half of its 22.7M parameters on the embedding rows of a 30,522-piece vocabulary,
most of which financial tweets never use. Dropping the rows the train texts do not use frees
room for more transformer layers at the same file size.

- :func:`prune_vocabulary` keeps the special tokens, every piece the given texts tokenise to,
  and every single-character piece (``a`` and ``##a``). WordPiece matches the longest piece
  first, and every kept piece was in the old vocabulary, so each of those texts tokenises to the
  same pieces as before (the tests check it); a word seen only later falls back to shorter
  pieces instead of its own, untrained, row.
- :func:`resize_layers` maps layer ``i`` of the new stack to layer ``i * old // new`` of the old
  one: growing repeats layers in place (6 → 9: 0 0 1 2 2 3 4 4 5), shrinking keeps evenly
  spaced ones (6 → 3: 0 2 4). MiniLM-L6 was itself cut from a 12-layer model by keeping every
  second layer, so a repeated layer starts where its dropped neighbour stood; fine-tuning (with
  a teacher) then lets the copies diverge.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from torch import nn
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase


def kept_pieces(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], rows: int | None = None
) -> list[int]:
    """Old ids to keep, ascending: special tokens, the texts' pieces, single characters, and
    then, up to ``rows`` in all, the lowest other ids (BERT vocabularies list whole words
    roughly by frequency, so those are the commonest words the texts happen not to use)."""
    keep = set(tokenizer.all_special_ids)
    for start in range(0, len(texts), 4096):
        for ids in tokenizer(list(texts[start : start + 4096]))["input_ids"]:
            keep.update(ids)
    vocab = tokenizer.get_vocab()
    keep.update(index for piece, index in vocab.items() if len(piece.removeprefix("##")) == 1)
    size = len(vocab)
    if rows is not None:
        if rows < len(keep):
            raise ValueError(
                f"--vocabulary-rows {rows} is too few: the train texts and single characters "
                f"need {len(keep)} of the {size} pieces"
            )
        spare = (i for i in range(size) if i not in keep)
        keep.update(next(spare) for _ in range(min(rows, size) - len(keep)))
    return sorted(keep)


def prune_vocabulary(
    encoder: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    rows: int | None = None,
) -> PreTrainedTokenizerBase:
    """Shrink ``encoder``'s embedding rows in place to the pieces ``texts`` need (and the
    commonest others, up to ``rows``); return the matching tokenizer (same pieces, new ids)."""
    keep = kept_pieces(tokenizer, texts, rows)
    old = encoder.get_input_embeddings()
    pad = keep.index(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else None
    # from_pretrained draws no random numbers: the seeded run's later draws stay as they were.
    embedding = nn.Embedding.from_pretrained(
        old.weight.data[keep].clone(), freeze=False, padding_idx=pad
    )
    encoder.set_input_embeddings(embedding)
    encoder.config.vocab_size = len(keep)
    if pad is not None:
        encoder.config.pad_token_id = pad
    return _renumbered_tokenizer(tokenizer, keep)


def _renumbered_tokenizer(
    tokenizer: PreTrainedTokenizerBase, keep: list[int]
) -> PreTrainedTokenizerBase:
    """The same tokenizer with only ``keep``'s pieces, numbered in their old order.

    Done on the serialised form (tokenizer.json) so the normaliser, pre-tokeniser and special-
    token settings carry over unchanged; only the ids move.
    """
    new_id = {old: new for new, old in enumerate(keep)}
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        path = Path(tmp) / "tokenizer.json"
        spec = json.loads(path.read_text())
        if spec["model"]["type"] != "WordPiece":
            raise ValueError(
                f"vocabulary pruning supports WordPiece tokenizers (BERT family), not "
                f"{spec['model']['type']}; train without --vocabulary-rows"
            )
        vocab: dict[str, int] = spec["model"]["vocab"]
        spec["model"]["vocab"] = {p: new_id[i] for p, i in vocab.items() if i in new_id}
        for token in spec.get("added_tokens", []):
            token["id"] = new_id[token["id"]]
        _renumber_special(spec.get("post_processor"), new_id)
        path.write_text(json.dumps(spec, ensure_ascii=False))
        return AutoTokenizer.from_pretrained(tmp, local_files_only=True)


def _renumber_special(processor: dict | None, new_id: dict[int, int]) -> None:
    """The [CLS]/[SEP] ids a template post-processor inserts (nested in a Sequence, maybe)."""
    if not processor:
        return
    for inner in processor.get("processors", []):
        _renumber_special(inner, new_id)
    for special in processor.get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    for key in ("cls", "sep"):  # BertProcessing: [token, id]
        if key in processor:
            processor[key][1] = new_id[processor[key][1]]


def layer_map(old: int, new: int) -> list[int]:
    """Which old layer each new layer starts as."""
    if old < 1 or new < 1:
        raise ValueError(f"layer counts must be positive, got {old} -> {new}")
    return [i * old // new for i in range(new)]


def resize_layers(encoder: PreTrainedModel, layers: int) -> list[int]:
    """Give ``encoder`` ``layers`` transformer layers (copies of its own); return the map."""
    stack = _layer_stack(encoder)
    mapping = layer_map(len(stack), layers)
    resized = nn.ModuleList(copy.deepcopy(stack[j]) for j in mapping)
    for index, layer in enumerate(resized):
        # Attention modules remember their position for key/value caches; keep it true.
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = index
    encoder.encoder.layer = resized
    encoder.config.num_hidden_layers = layers
    return mapping


def _layer_stack(encoder: PreTrainedModel) -> nn.ModuleList:
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(stack, nn.ModuleList):
        raise ValueError(
            f"{type(encoder).__name__} keeps its layers elsewhere than encoder.layer; "
            "train it without --layers"
        )
    return stack
