"""Chapter 4, text: one line one-hot encoded by character, and the book's word vocabulary. The
book is kept as word indices, not a dense one-hot (~125,000 x 7,261 floats)."""

import torch

from dlwpt.ingest.common import PathLike, read_text_utf8, write_outputs
from dlwpt.io import DataError

N_ASCII = 128
PUNCTUATION = '.,;:"!?”“_-'
WORD_SAMPLE = ("impossible", "mr", "bennet", "when", "him")


def clean_words(input_str: str) -> list[str]:
    """The book's tokenizer: lower case, split on whitespace, strip punctuation at both ends."""
    word_list = input_str.lower().replace("\n", " ").split()
    return [word.strip(PUNCTUATION) for word in word_list]


def ingest_text(src: PathLike, out_pt: PathLike, out_json: PathLike, line_index: int = 200) -> None:
    """`line_onehot` Lx128 (non-ASCII -> 0), `line_words_onehot` WxV, `book_word_indices`,
    `vocab`. The file is read as the book does (encoding "utf8"), so a BOM stays in word one."""
    text = read_text_utf8(src)
    lines = text.split("\n")
    if not 0 <= line_index < len(lines):
        raise DataError(src, f"line_index {line_index} out of range: the file has "
                             f"{len(lines)} lines")
    line = lines[line_index]

    letter_indices = torch.tensor([ord(ch) if ord(ch) < N_ASCII else 0 for ch in line],
                                  dtype=torch.int64)
    line_onehot = torch.zeros(len(line), N_ASCII).scatter_(1, letter_indices.view(-1, 1), 1.0)

    book_words = clean_words(text)
    vocab = sorted(set(book_words))
    word2index_dict = {word: i for i, word in enumerate(vocab)}
    line_words = clean_words(line)
    line_word_indices = torch.tensor([word2index_dict[w] for w in line_words], dtype=torch.int64)
    line_words_onehot = torch.zeros(len(line_words), len(vocab)).scatter_(
        1, line_word_indices.view(-1, 1), 1.0)
    book_word_indices = torch.tensor([word2index_dict[w] for w in book_words], dtype=torch.int64)

    tensors = {"line_onehot": line_onehot, "line_words_onehot": line_words_onehot,
               "book_word_indices": book_word_indices, "vocab": vocab}
    sample = dict.fromkeys(WORD_SAMPLE) | dict.fromkeys(line_words)
    write_outputs("text", out_pt, out_json, tensors, [src], line_index=line_index, line=line,
                  line_words=line_words, n_words=len(book_words), vocab_size=len(vocab),
                  word2index_sample={w: word2index_dict[w] for w in sample if w in word2index_dict})
