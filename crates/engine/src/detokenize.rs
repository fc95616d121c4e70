//! Incremental detokenization: byte-level BPE tokens can split a UTF-8 character, so text is
//! released only once a decode of the recent window no longer ends in a replacement character.

use reasoner_model::Result;
use reasoner_model::tokenizer::TextTokenizer;

#[derive(Debug, Clone, Default)]
pub struct IncrementalDecoder {
    ids: Vec<u32>,
    prefix_offset: usize,
    read_offset: usize,
}

impl IncrementalDecoder {
    /// Add one token; returns the new text it completes, if any.
    pub fn push(&mut self, tok: &TextTokenizer, id: u32) -> Result<String> {
        self.ids.push(id);
        let prefix = tok.decode(&self.ids[self.prefix_offset..self.read_offset], false)?;
        let full = tok.decode(&self.ids[self.prefix_offset..], false)?;
        if full.len() > prefix.len()
            && !full.ends_with('\u{FFFD}')
            && let Some(delta) = full.get(prefix.len()..)
        {
            let delta = delta.to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.ids.len();
            return Ok(delta);
        }
        Ok(String::new())
    }

    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}
