//! A byte-level BPE model for the `tokenizers` pipeline, with the vocabulary and merges held in
//! flat sorted arrays instead of hash maps of owned strings.
//!
//! The tokenizers crate's `BPE` keeps a token→id map, an id→token map (two owned strings per
//! token) and a pair→merge map: ~25 MB for a 152k-token vocabulary, over 10% of what a 0.5B
//! model's 4-bit weights need. Here every token's text sits in one byte buffer, lookups are
//! binary searches over id lists sorted by text or by pair, and the whole model takes ~3 MB for
//! the same vocabulary. The merge loop is the crate's own (lowest rank first, then leftmost, on
//! a min-heap, re-checking each popped pair), so encodings are the same; the normalizer,
//! pre-tokenizer, added tokens, post-processor and decoder stay the crate's.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};

use tokenizers::models::bpe::BpeTrainer;
use tokenizers::{Model, Token};

#[derive(Debug, Clone)]
pub struct CompactBpe {
    /// Every token's text back to back; token `id` is `text[starts[id]..starts[id + 1]]`.
    text: Vec<u8>,
    starts: Vec<u32>,
    /// Ids sorted by their text: token → id by binary search (the last id wins on duplicates).
    by_text: Vec<u32>,
    /// Merges sorted by (left, right) id pair, with their rank (line number) and result id.
    merges: Vec<Merge>,
    /// llama-bpe: a piece that is a whole token is taken as is, before any merge.
    ignore_merges: bool,
}

#[derive(Debug, Clone, Copy)]
struct Merge {
    pair: (u32, u32),
    rank: u32,
    new_id: u32,
}

impl CompactBpe {
    /// `tokens[id]` is token id's text; `merges` are "left right" lines, highest priority first.
    pub fn new(tokens: &[String], merges: &[String], ignore_merges: bool) -> Result<Self, String> {
        let mut text = Vec::with_capacity(tokens.iter().map(String::len).sum());
        let mut starts = Vec::with_capacity(tokens.len() + 1);
        for t in tokens {
            starts.push(u32::try_from(text.len()).map_err(|_| "vocabulary text over 4 GiB".to_string())?);
            text.extend_from_slice(t.as_bytes());
        }
        starts.push(u32::try_from(text.len()).map_err(|_| "vocabulary text over 4 GiB".to_string())?);
        let mut model = Self { text, starts, by_text: Vec::new(), merges: Vec::new(), ignore_merges };
        let mut by_text: Vec<u32> = (0..tokens.len() as u32).collect();
        // Stable sort, then keep the last of equal texts: a later duplicate wins, as in a map.
        by_text.sort_by(|&a, &b| model.bytes(a).cmp(model.bytes(b)));
        by_text.dedup_by(|later, earlier| {
            let same = model.bytes(*later) == model.bytes(*earlier);
            if same {
                *earlier = *later;
            }
            same
        });
        model.by_text = by_text;
        let mut table = Vec::with_capacity(merges.len());
        let mut joined = String::new();
        for (rank, line) in merges.iter().enumerate() {
            let (a, b) = line.split_once(' ').ok_or_else(|| format!("merge `{line}` is not two tokens"))?;
            let id = |t: &str| {
                model.token_to_id(t).ok_or_else(|| format!("merge `{line}`: token `{t}` is not in the vocabulary"))
            };
            joined.clear();
            joined.push_str(a);
            joined.push_str(b);
            table.push(Merge { pair: (id(a)?, id(b)?), rank: rank as u32, new_id: id(&joined)? });
        }
        // A pair listed twice keeps its last line, as a map built in order would.
        table.sort_by_key(|m| m.pair);
        table.dedup_by(|later, earlier| {
            let same = later.pair == earlier.pair;
            if same {
                *earlier = *later;
            }
            same
        });
        model.merges = table;
        Ok(model)
    }

    fn bytes(&self, id: u32) -> &[u8] {
        &self.text[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
    }

    fn text_of(&self, id: u32) -> &str {
        // Every token was a &str and is stored whole.
        std::str::from_utf8(self.bytes(id)).unwrap_or_default()
    }

    fn merge(&self, pair: (u32, u32)) -> Option<&Merge> {
        self.merges.binary_search_by_key(&pair, |m| m.pair).ok().map(|i| &self.merges[i])
    }

    /// Bytes held by the tables (for tests and memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + 4 * (self.starts.capacity() + self.by_text.capacity())
            + self.merges.capacity() * size_of::<Merge>()
    }

    /// Applies the merges to one piece's symbols (ids with byte lengths): lowest rank first,
    /// leftmost among equal ranks; a popped merge is skipped when its pair no longer stands.
    fn merge_all(&self, ids: &mut Vec<u32>, lens: &mut Vec<usize>) {
        let n = ids.len();
        let (mut prev, mut next): (Vec<isize>, Vec<usize>) =
            ((0..n).map(|i| i as isize - 1).collect(), (1..=n).collect());
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        for i in 0..n.saturating_sub(1) {
            if let Some(m) = self.merge((ids[i], ids[i + 1])) {
                heap.push(Reverse((m.rank, i, m.new_id)));
            }
        }
        while let Some(Reverse((_, pos, new_id))) = heap.pop() {
            if !alive[pos] || next[pos] >= n {
                continue;
            }
            let right = next[pos];
            if self.merge((ids[pos], ids[right])).is_none_or(|m| m.new_id != new_id) {
                continue;
            }
            ids[pos] = new_id;
            lens[pos] += lens[right];
            alive[right] = false;
            next[pos] = next[right];
            if next[pos] < n {
                prev[next[pos]] = pos as isize;
            }
            if prev[pos] >= 0 {
                let p = prev[pos] as usize;
                if let Some(m) = self.merge((ids[p], ids[pos])) {
                    heap.push(Reverse((m.rank, p, m.new_id)));
                }
            }
            if next[pos] < n
                && let Some(m) = self.merge((ids[pos], ids[next[pos]]))
            {
                heap.push(Reverse((m.rank, pos, m.new_id)));
            }
        }
        let mut k = 0;
        for i in 0..n {
            if alive[i] {
                ids[k] = ids[i];
                lens[k] = lens[i];
                k += 1;
            }
        }
        ids.truncate(k);
        lens.truncate(k);
    }
}

impl Model for CompactBpe {
    type Trainer = BpeTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        if sequence.is_empty() {
            return Ok(vec![]);
        }
        if self.ignore_merges
            && let Some(id) = self.token_to_id(sequence)
        {
            return Ok(vec![Token::new(id, sequence.to_string(), (0, sequence.len()))]);
        }
        // One symbol per character; a character outside the vocabulary is dropped (no unknown
        // token and no byte fallback in byte-level BPE, as the crate's BPE does then).
        let (mut ids, mut lens) = (Vec::with_capacity(sequence.len()), Vec::with_capacity(sequence.len()));
        let mut buf = [0u8; 4];
        for c in sequence.chars() {
            if let Some(id) = self.token_to_id(c.encode_utf8(&mut buf)) {
                ids.push(id);
                lens.push(c.len_utf8());
            }
        }
        self.merge_all(&mut ids, &mut lens);
        let mut start = 0;
        Ok(ids
            .iter()
            .zip(&lens)
            .map(|(&id, &len)| {
                let t = Token::new(id, self.text_of(id).to_string(), (start, start + len));
                start += len;
                t
            })
            .collect())
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.by_text.binary_search_by(|&id| self.bytes(id).cmp(token.as_bytes())).ok().map(|i| self.by_text[i])
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        ((id as usize) < self.starts.len() - 1).then(|| self.text_of(id).to_string())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        self.by_text.iter().map(|&id| (self.text_of(id).to_string(), id)).collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.by_text.len()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        Err("the compact BPE model is built from GGUF metadata and is not saved as vocab/merges files".into())
    }

    fn get_trainer(&self) -> BpeTrainer {
        BpeTrainer::default()
    }
}
