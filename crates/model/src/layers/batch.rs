//! The row layout of a batch: several sequences' new tokens flattened to (n, hidden), back to
//! back, as the projections see them; attention splits them again by these spans.
//! (`causal_lm` builds it from the model's inputs and picks the rows whose logits are wanted.)

/// Where one sequence's new tokens sit in a batch flattened to (n, hidden).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRows {
    /// First row in the flattened batch.
    pub row: usize,
    /// Number of new tokens (rows).
    pub len: usize,
    /// Position of the first new token in its sequence (what its cache already holds).
    pub pos: usize,
}

/// The row layout of a batch of sequences flattened to (n, hidden): their new tokens back to
/// back, one `SeqRows` per sequence in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchLayout {
    pub seqs: Vec<SeqRows>,
}

impl BatchLayout {
    /// Appends a sequence of `len` new tokens starting at position `pos`.
    pub fn push(&mut self, len: usize, pos: usize) {
        let row = self.rows();
        self.seqs.push(SeqRows { row, len, pos });
    }

    /// Total rows (tokens) in the batch.
    pub fn rows(&self) -> usize {
        self.seqs.last().map_or(0, |s| s.row + s.len)
    }
}
