//! Where a GGUF file keeps its integers: the header counts, each metadata key's length, type and
//! value (array types and lengths, string lengths), and each tensor's name length, rank,
//! dimensions, type and offset. The GGUF mutator overwrites these with boundary values, which a
//! byte-blind mutator would rarely hit.

use crate::mutate_bytes::{boundary_value, read_le, write_le};
use crate::rng::Rng;

/// An integer field: byte offset and width.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub at: usize,
    pub width: usize,
}

struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
    fields: Vec<Field>,
}

impl Walker<'_> {
    fn take(&mut self, width: usize, record: bool) -> Option<u64> {
        if self.pos + width > self.bytes.len() {
            return None;
        }
        if record {
            self.fields.push(Field { at: self.pos, width });
        }
        let v = read_le(self.bytes, self.pos, width);
        self.pos += width;
        Some(v)
    }

    fn string(&mut self, record: bool) -> Option<()> {
        let n = self.take(8, record)? as usize;
        self.pos = self.pos.checked_add(n).filter(|&p| p <= self.bytes.len())?;
        Some(())
    }

    fn value(&mut self, ty: u64, record: bool) -> Option<()> {
        match ty {
            0 | 1 | 7 => self.take(1, record).map(drop),
            2 | 3 => self.take(2, record).map(drop),
            4..=6 => self.take(4, record).map(drop),
            10..=12 => self.take(8, record).map(drop),
            8 => self.string(record),
            9 => {
                let elem = self.take(4, record)?;
                let n = self.take(8, record)?;
                for i in 0..n {
                    // Long arrays (vocabularies): record only their first and last elements.
                    self.value(elem, record && (i < 16 || i + 4 >= n))?;
                }
                Some(())
            }
            _ => None,
        }
    }
}

/// The integer fields of `bytes` as far as it parses (a broken file yields its head's fields).
pub fn fields(bytes: &[u8]) -> Vec<Field> {
    let mut w = Walker { bytes, pos: 4, fields: Vec::new() };
    let _ = (|| -> Option<()> {
        w.take(4, true)?; // version
        let tensors = w.take(8, true)?;
        let kvs = w.take(8, true)?;
        for _ in 0..kvs {
            w.string(true)?;
            let ty = w.take(4, true)?;
            w.value(ty, true)?;
        }
        for _ in 0..tensors {
            w.string(true)?;
            let dims = w.take(4, true)?;
            for _ in 0..dims {
                w.take(8, true)?;
            }
            w.take(4, true)?; // type
            w.take(8, true)?; // offset
        }
        Some(())
    })();
    w.fields
}

/// Sets one to three parsed integer fields to boundary values.
pub fn mutate(rng: &mut Rng, data: &mut [u8]) -> bool {
    let found = fields(data);
    if found.is_empty() {
        return false;
    }
    for _ in 0..1 + rng.below(3).min(rng.below(3)) {
        let f = *rng.pick(&found);
        let old = read_le(data, f.at, f.width);
        let value = boundary_value(rng, old);
        write_le(data, f.at, f.width, value);
    }
    true
}
